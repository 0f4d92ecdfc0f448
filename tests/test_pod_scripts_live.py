"""The rendered redis.conf, sentinel.conf and pod scripts, run for real on Redis 7.0 (Debian's packages)."""

import time

import pytest
import redis
from redis.sentinel import Sentinel

from redis_gitops.devcluster.local_cluster import LocalCluster
from redis_gitops.runtime.writer import Writer, lost_writes

from conftest import ROOT


@pytest.fixture(scope="module")
def cluster(spec, tmp_path_factory):
    with LocalCluster(spec, ROOT / "dist", tmp_path_factory.mktemp("local-cluster"), subnet=21) as c:
        yield c


def sentinel_client(cluster):
    s = cluster.state
    return Sentinel(
        s.sentinel_addresses,
        socket_timeout=0.2,
        password=s.redis_password,
        sentinel_kwargs={"password": s.sentinel_password, "socket_timeout": 0.2},
    )


def test_fresh_cluster_starts_with_one_master_and_agreeing_sentinels(cluster):
    assert cluster.roles() == ["master", "slave", "slave"]
    assert cluster.sentinel_masters() == [cluster.state.nodes[0].host] * 3
    assert cluster.sentinel(1).execute_command("SENTINEL", "CKQUORUM", "mymaster").startswith("OK 3 usable")


def test_runtime_config_is_what_the_spec_says(cluster, spec):
    r = cluster.redis(1)
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert int(r.config_get("maxmemory")["maxmemory"]) == spec.redis.maxmemory_bytes
    assert r.config_get("appendonly") == {"appendonly": "yes"}
    assert r.config_get("min-replicas-to-write") == {"min-replicas-to-write": "1"}
    assert r.info("replication")["master_host"] == cluster.state.nodes[0].host
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(cluster.state.nodes[0].host, cluster.state.redis_port, socket_timeout=2).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(cluster.state.nodes[0].host, cluster.state.sentinel_port, socket_timeout=2).ping()


def test_restarted_replica_asks_the_sentinels_and_rejoins(cluster):
    cluster.stop_node(2, graceful=True)
    cluster.start_node(2)
    cluster.wait_until_healthy(30)
    assert cluster.roles()[2] == "slave"


def test_prestop_hands_mastership_over_without_losing_acknowledged_writes(cluster):
    old = cluster.roles().index("master")
    client = sentinel_client(cluster).master_for("mymaster", socket_timeout=0.2)
    client.delete("handover")
    writer = Writer(client, "handover")
    writer.start()
    time.sleep(1.0)
    cluster.stop_node(old, graceful=True)  # preStop hand-over, then SIGTERM, as the kubelet does
    time.sleep(1.5)
    log = writer.stop()
    assert len(log.acknowledged) > 100
    new = cluster.roles().index("master")
    assert new != old
    assert lost_writes(log, cluster.redis(new).lrange("handover", 0, -1)) == []
    # PINGs held back during the pause: the other replica resumed partially, no full resync was needed.
    assert cluster.redis(new).info("stats")["sync_full"] == 0
    assert log.outage_seconds < 2.0, log.errors
    cluster.start_node(old)  # the old master comes back, asks the Sentinels, and follows the new master
    cluster.wait_until_healthy(30)
    assert cluster.roles()[old] == "slave"
    print(
        f"hand-over: {len(log.acknowledged)} writes acknowledged, outage {log.outage_seconds:.2f} s, "
        f"errors {log.errors}"
    )
