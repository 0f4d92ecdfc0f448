"""The pool client under faults, on a real local cluster: dead Sentinels cost little, NOREPLICAS is waited out."""

import subprocess
import threading
import time
from dataclasses import replace

import pytest
import redis
from redis.sentinel import MasterNotFoundError

from redis_gitops.devcluster.local_cluster import LocalCluster, broker_settings
from redis_gitops.runtime.client import RedisPool

from conftest import ROOT


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


@pytest.fixture
def stale_sentinel(cluster, tmp_path):
    """A real Sentinel that names a server that is a replica (READONLY to writes): what a client meets in the
    ~0.1 s after a hand-over, when the leading Sentinel names the new master and its peers still the old one."""
    host, demoted = "127.0.73.9", "127.0.73.10"
    password, sentinel_password = cluster.state.redis_password, cluster.state.sentinel_password
    (tmp_path / "sentinel.conf").write_text(
        f'port {cluster.state.sentinel_port}\nbind {host}\ndir {tmp_path}\nrequirepass "{sentinel_password}"\n'
        f"sentinel monitor {cluster.state.master_name} {demoted} {cluster.state.redis_port} 1\n"
        f'sentinel auth-pass {cluster.state.master_name} "{password}"\n'
    )
    processes = [
        subprocess.Popen(
            [
                "redis-server",
                "--bind",
                demoted,
                "--port",
                str(cluster.state.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
                "--requirepass",
                password,
                "--replicaof",
                "127.0.73.250",
                "6379",
            ],
            stdout=subprocess.DEVNULL,
            cwd=tmp_path,
        ),
        subprocess.Popen(["redis-sentinel", str(tmp_path / "sentinel.conf")], stdout=subprocess.DEVNULL, cwd=tmp_path),
    ]
    try:
        sentinel = redis.Redis(host, cluster.state.sentinel_port, password=sentinel_password, decode_responses=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if sentinel.sentinel_get_master_addr_by_name(cluster.state.master_name)[0] == demoted:
                    break
            except (redis.RedisError, OSError, TypeError):
                pass
            time.sleep(0.1)
        yield (host, cluster.state.sentinel_port), demoted
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            p.wait(timeout=10)


def test_a_sentinel_still_naming_the_demoted_master_is_passed_over(cluster, stale_sentinel):
    """Right after a hand-over the old master answers READONLY while the Sentinels that did not run the failover
    still name it for ~0.1 s. A client that asks such a Sentinel first must take the answer of one that names
    another master, not retry the demoted one until its budget is spent."""
    stale, demoted = stale_sentinel
    settings = broker_settings(cluster.state)
    pool = RedisPool(replace(settings, sentinels=(stale, *settings.sentinels), retries=10))
    try:
        assert pool.master_address()[0] == demoted  # the stale Sentinel is asked first and answers
        with pool.get_connection() as r:
            r.set("passed-over", "1")  # READONLY from the demoted server, then the real master
        assert pool.master_address()[0] != demoted
    finally:
        pool.close()
    assert cluster.redis(cluster.master()).get("passed-over") == "1"


@pytest.mark.faults  # make test's time budget (about 15 min): make faults runs it
def test_the_sentinel_running_a_failover_is_skipped_until_it_names_the_promoted_replica(cluster):
    """Mid-failover the leading Sentinel's SENTINEL MASTER still holds the old master, and before the promotion
    its get-master-addr-by-name does too: that answer is skipped. Once it names the promoted replica, that is
    the answer (as text, like every other answer)."""
    cluster.wait_until_healthy(30)
    old = cluster.state.nodes[cluster.master()].host
    leader = (cluster.state.nodes[0].host, cluster.state.sentinel_port)
    pool = RedisPool(replace(broker_settings(cluster.state), sentinels=(leader,)))
    try:
        failover_when_a_replica_is_good(cluster.sentinel(0), cluster.state.master_name)
        with pytest.raises(MasterNotFoundError):
            pool.master_address()  # Sentinel sees a promotion about 1 s after the request: not yet
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                host, port = pool.master_address()
                break
            except MasterNotFoundError:
                time.sleep(0.02)
        assert isinstance(host, str) and host != old and port == cluster.state.redis_port
    finally:
        pool.close()
        cluster.wait_until_healthy(30)


def failover_when_a_replica_is_good(sentinel, master_name: str, timeout: float = 30) -> None:
    """SENTINEL FAILOVER, once Sentinel's cached INFO (10 s old at most) shows a replica fit for promotion."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sentinel.execute_command("SENTINEL", "FAILOVER", master_name)
            return
        except redis.ResponseError as err:
            if "NOGOODSLAVE" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
