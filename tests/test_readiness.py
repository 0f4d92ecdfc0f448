"""Readiness as the kubelet probes it (probe.sh, on real Redis and Sentinel): a replica is Ready only when it
serves the master's data, so a rolling update never moves on while a replica is still syncing."""

import time

import pytest

from redis_gitops.devcluster.local_cluster import LocalCluster

from conftest import ROOT


@pytest.fixture(scope="module")
def cluster(spec, tmp_path_factory):
    with LocalCluster(spec, ROOT / "dist", tmp_path_factory.mktemp("readiness-cluster"), subnet=75) as c:
        yield c


def test_every_pod_of_a_healthy_cluster_is_ready(cluster):
    for ordinal in range(3):
        assert cluster.probe(ordinal, "redis-ready").returncode == 0
        assert cluster.probe(ordinal, "sentinel-ready").returncode == 0
        assert cluster.probe(ordinal, "redis-alive").returncode == 0


def test_a_replica_that_is_still_syncing_is_alive_but_not_ready(cluster):
    replica = cluster.roles().index("slave")
    cluster.stop_process(replica, "redis")
    cluster.start_process(replica, "redis")
    deadline = time.monotonic() + 10
    while cluster.probe(replica, "redis-alive").returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    info = cluster.redis(replica).info("replication")
    assert info["master_link_status"] == "down"  # answering PING, not yet holding the master's data
    assert cluster.probe(replica, "redis-ready").returncode == 1
    cluster.wait_until_healthy(40)
    assert cluster.probe(replica, "redis-ready").returncode == 0


def test_a_sentinel_that_knows_no_peer_is_not_ready(cluster):
    """A Sentinel restarted with no saved state knows neither replicas nor peers for a while."""
    ordinal = 2
    cluster.stop_process(ordinal, "sentinel")
    (cluster.base / f"pod-{ordinal}" / "data" / "sentinel" / "sentinel.conf").unlink()
    cluster.start_process(ordinal, "sentinel")
    deadline = time.monotonic() + 10
    while cluster.probe(ordinal, "sentinel").returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cluster.probe(ordinal, "sentinel-ready").returncode == 1
    cluster.wait_until_healthy(40)
    assert cluster.probe(ordinal, "sentinel-ready").returncode == 0
