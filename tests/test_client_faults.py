"""The pool client under faults, on a real local cluster: dead Sentinels cost little, NOREPLICAS is waited out."""
import threading
import time

import pytest

from conftest import ROOT
from runtime.client import RedisPool
from runtime.local_cluster import LocalCluster, broker_settings


@pytest.fixture(scope="module")
def cluster(spec, tmp_path_factory):
    with LocalCluster(spec, ROOT / "dist", tmp_path_factory.mktemp("client-cluster"), subnet=73) as c:
        yield c


def test_a_dead_sentinel_costs_a_master_lookup_almost_nothing(cluster):
    """redis-py retries a refused Sentinel with backoff unless told not to: 2.9-4.6 s per lookup (measured)."""
    cluster.stop_process(0, "sentinel")  # the first Sentinel in the list
    try:
        pool = RedisPool(broker_settings(cluster.state))
        try:
            start = time.monotonic()
            for _ in range(5):
                pool.master_address()
            per_lookup = (time.monotonic() - start) / 5
            with pool.get_connection() as r:
                start = time.monotonic()
                r.set("client-faults", "1")
                first_write = time.monotonic() - start
        finally:
            pool.close()
    finally:
        cluster.start_process(0, "sentinel")
        cluster.wait_until_healthy(30)
    print(f"one Sentinel down: master lookup {per_lookup * 1000:.0f} ms, first write {first_write * 1000:.0f} ms")
    assert per_lookup < 0.5
    assert first_write < 1.0


def test_noreplicas_is_waited_out_within_the_retry_budget(cluster):
    """With min-replicas-to-write 1, writes are refused while no replica is linked. The pool waits that out
    like a connection error (bounded by its retry budget) instead of failing at once."""
    master = cluster.roles().index("master")
    replicas = [o for o in range(3) if o != master]
    pool = RedisPool(broker_settings(cluster.state))
    try:
        for ordinal in replicas:
            cluster.stop_process(ordinal, "redis")
        deadline = time.monotonic() + 10
        while int(cluster.redis(master).info("replication")["connected_slaves"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        restart = threading.Timer(2.0, lambda: [cluster.start_process(o, "redis") for o in replicas])
        restart.start()
        start = time.monotonic()
        with pool.get_connection() as r:
            r.set("noreplicas", "1")  # refused until a replica links again, then acknowledged
        waited = time.monotonic() - start
        restart.join()
    finally:
        pool.close()
        cluster.wait_until_healthy(40)
    print(f"both replicas down, back after 2 s: a write waited {waited:.1f} s and was acknowledged")
    assert waited >= 1.5  # it really was refused for a while
    assert cluster.redis(master).get("noreplicas") == "1"
