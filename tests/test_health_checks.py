"""Every health check passes on a healthy local cluster, and fails with a clear reason when broken."""

import pytest

from redis_gitops.devcluster.local_cluster import LocalCluster, broker_settings, expectations
from redis_gitops.runtime.client import RedisPool
from redis_gitops.runtime.health import HealthChecks

from conftest import ROOT


@pytest.fixture(scope="module")
def cluster(spec, tmp_path_factory):
    with LocalCluster(spec, ROOT / "dist", tmp_path_factory.mktemp("health-cluster"), subnet=31) as c:
        yield c


def run_checks(cluster, spec, **overrides):
    pool = RedisPool(broker_settings(cluster.state, **overrides))
    checks = HealthChecks(pool, expectations(cluster.state))
    try:
        return {r.name: r for r in checks.run()}
    finally:
        checks.close()
        pool.close()


def failed(results):
    return {name: r.detail for name, r in results.items() if not r.ok}


def test_every_check_passes_on_a_healthy_cluster(cluster, spec):
    results = run_checks(cluster, spec)
    assert failed(results) == {}
    assert len(results) == 9
    assert "named by all 3 Sentinels" in results["one_master_named_by_every_sentinel"].detail


def test_wrong_password_fails_reachability(cluster, spec):
    fails = failed(run_checks(cluster, spec, password="wrong"))
    assert "redis_reachable" in fails and "AuthenticationError" in fails["redis_reachable"]
    assert "round_trip_through_pool" in fails


def test_disabled_aof_fails_persistence(cluster, spec):
    replica = cluster.redis(2)
    replica.config_set("appendonly", "no")
    try:
        fails = failed(run_checks(cluster, spec))
        assert set(fails) == {"persistence_on"}
        assert f"{cluster.state.nodes[2].host}:6379 AOF disabled" in fails["persistence_on"]
    finally:
        replica.config_set("appendonly", "yes")


def test_evicting_policy_fails_the_policy_check(cluster, spec):
    cluster.redis(1).config_set("maxmemory-policy", "allkeys-lru")
    try:
        fails = failed(run_checks(cluster, spec))
        assert set(fails) == {"maxmemory_policy"} and "has allkeys-lru" in fails["maxmemory_policy"]
    finally:
        cluster.redis(1).config_set("maxmemory-policy", "noeviction")


def test_sentinels_disagreeing_fails_the_master_check(cluster, spec):
    rogue = cluster.sentinel(2)
    master = cluster.state.nodes[0].host
    rogue.execute_command("SENTINEL", "REMOVE", "mymaster")
    rogue.execute_command("SENTINEL", "MONITOR", "mymaster", cluster.state.nodes[1].host, 6379, 2)
    rogue.execute_command("SENTINEL", "SET", "mymaster", "auth-pass", cluster.state.redis_password)
    try:
        fails = failed(run_checks(cluster, spec))
        assert "one_master_named_by_every_sentinel" in fails
        assert f"names {cluster.state.nodes[1].host}:6379" in fails["one_master_named_by_every_sentinel"]
    finally:
        rogue.execute_command("SENTINEL", "REMOVE", "mymaster")
        rogue.execute_command("SENTINEL", "MONITOR", "mymaster", master, 6379, 2)
        for key, value in (("auth-pass", cluster.state.redis_password), ("down-after-milliseconds", "5000")):
            rogue.execute_command("SENTINEL", "SET", "mymaster", key, value)
        cluster.wait_until_healthy(30)


def test_stopped_replica_fails_reachability_and_replication(cluster, spec):
    cluster.stop_process(2, "redis")
    try:
        fails = failed(run_checks(cluster, spec))
        assert "redis_reachable" in fails and cluster.state.nodes[2].host in fails["redis_reachable"]
        assert "1 replicas, expected 2" in fails["replicas_linked"]
        assert "round_trip_through_pool" not in fails  # the broker still works
    finally:
        cluster.start_process(2, "redis")
        cluster.wait_until_healthy(30)


def test_stopped_sentinel_fails_sentinel_checks(cluster, spec):
    node = cluster.state.nodes[1]
    cluster.stop_process(1, "sentinel")
    try:
        fails = failed(run_checks(cluster, spec))
        assert "sentinels_reachable" in fails and node.host in fails["sentinels_reachable"]
        assert "one_master_named_by_every_sentinel" in fails
    finally:
        cluster.start_process(1, "sentinel")
        cluster.wait_until_healthy(30)


def test_read_only_connections_use_a_replica_and_fall_back_to_the_master(cluster):
    pool = RedisPool(broker_settings(cluster.state))
    try:
        with pool.get_connection() as master:
            master.set("read-only-probe", "written")
        with pool.get_connection(read_only=True) as replica:
            assert replica.info("replication")["role"] == "slave"
            assert replica.get("read-only-probe") == "written"
        cluster.stop_process(1, "redis")
        cluster.stop_process(2, "redis")
        with pool.get_connection(read_only=True) as fallback:
            assert fallback.get("read-only-probe") == "written"
            assert fallback.info("replication")["role"] == "master"
    finally:
        pool.close()
        for ordinal in (1, 2):
            cluster.start_process(ordinal, "redis")
        cluster.wait_until_healthy(30)
