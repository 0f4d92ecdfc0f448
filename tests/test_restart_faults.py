"""Faults a Kubernetes cluster really has, on the rendered config and pod scripts (real Redis 7.0 and Sentinel):
a full restart of every pod, Sentinels restarted while the master is down, passwords with shell-hostile
characters. Each scenario prints its figures."""

import shutil
import time
from pathlib import Path

import pytest
import redis

from redis_gitops.devcluster.local_cluster import LocalCluster, broker_settings
from redis_gitops.runtime.client import RedisPool
from redis_gitops.runtime.writer import Writer, lost_writes

from conftest import ROOT

# A password dash's `echo` would mangle (backslash escapes) and that a shell would split or expand.
HOSTILE_PASSWORD = r"p\cw$HOME 'q\"#x\n\\"


def hand_over_to_another_pod(cluster) -> int:
    """A rolling update of the master's pod: preStop hand-over, restart; returns the new master."""
    old = cluster.master()
    cluster.stop_node(old, graceful=True)
    cluster.start_node(old)
    cluster.wait_until_healthy(40)
    new = cluster.master()
    assert new != old
    return new


def write_for(cluster, key: str, seconds: float):
    """Writes through the project's pool client, as an application would."""
    pool = RedisPool(broker_settings(cluster.state))
    try:
        with pool.get_connection() as client:
            writer = Writer(client, key)
            writer.start()
            time.sleep(seconds)
            log = writer.stop()
    finally:
        pool.close()
    assert len(log.acknowledged) > 100, (len(log.acknowledged), log.errors)
    return log


def stop_every_pod(cluster, order=(2, 1, 0)) -> None:
    """All pods stopped the Kubernetes way: preStop hook, then SIGTERM."""
    for ordinal in order:
        if cluster.state.nodes[ordinal].redis_pid:
            cluster.stop_node(ordinal, graceful=True)


@pytest.fixture
def cluster(spec, tmp_path):
    with LocalCluster(spec, ROOT / "dist", tmp_path / "local", subnet=71) as c:
        yield c


@pytest.mark.parametrize("start_order", [(0, 1, 2), "parallel"])
def test_full_restart_keeps_every_acknowledged_write_and_elects_the_newest_member(cluster, start_order):
    """Pod 0 misses writes (down before the stop); after a full restart it must not be crowned."""
    master = hand_over_to_another_pod(cluster)  # the master is no longer pod 0
    cluster.stop_node(0, graceful=False)
    missed = write_for(cluster, "missed", 1.5)
    stop_every_pod(cluster, order=[o for o in (2, 1) if o != master] + [master])
    if start_order == "parallel":
        cluster.start_nodes([0, 1, 2])
    else:
        for ordinal in start_order:
            cluster.start_node(ordinal)
    cluster.wait_until_healthy(60)
    elected = cluster.master()
    assert elected == master  # the member with the newest data
    for node in range(3):
        assert lost_writes(missed, cluster.redis(node).lrange("missed", 0, -1)) == [], f"pod-{node}"
    print(
        f"full restart, start order {start_order}: pod-0 down before the stop, master was pod-{master}, "
        f"elected pod-{elected}, {len(missed.acknowledged)} writes pod-0 missed, 0 lost on any member"
    )


def test_full_restart_with_hand_overs_on_the_way_down_keeps_every_write(cluster):
    """Pods stopped one by one with their preStop: mastership moves down the line; the last one keeps it."""
    hand_over_to_another_pod(cluster)
    before = write_for(cluster, "restart", 1.0)
    stop_every_pod(cluster, order=(0, 1, 2))
    cluster.start_nodes([0, 1, 2])
    cluster.wait_until_healthy(60)
    elected = cluster.master()
    assert lost_writes(before, cluster.redis(elected).lrange("restart", 0, -1)) == []
    print(f"full restart after stops 0,1,2: elected pod-{elected}, {len(before.acknowledged)} writes, 0 lost")


@pytest.mark.faults  # make faults: ~35 s, kept make test over 15 min
def test_a_last_master_whose_volume_was_replaced_is_not_crowned(cluster):
    """Full restart in which the last master's PersistentVolumeClaim came back empty (replaced): the others'
    Sentinel records still name it, but as master it would wipe every replica. It starts as a replica, a
    member holding the data is promoted, and nothing acknowledged is lost."""
    master = cluster.master()
    before = write_for(cluster, "replaced", 1.0)
    stop_every_pod(cluster, order=[o for o in (2, 1, 0) if o != master] + [master])
    data = Path(cluster.env(cluster.state.nodes[master], "redis")["DATA_DIR"])
    shutil.rmtree(data)
    data.mkdir()
    cluster.start_nodes([0, 1, 2])
    # Sentinel judges a master that reports a replica role only after down-after + 2 INFO periods (25 s), then
    # fails over, and fixes the old master's replication on its own later rounds.
    cluster.wait_until_healthy(150)
    elected = cluster.master()
    assert elected != master
    assert lost_writes(before, cluster.redis(elected).lrange("replaced", 0, -1)) == []
    assert lost_writes(before, cluster.redis(master).lrange("replaced", 0, -1)) == []  # resynced from it
    print(
        f"full restart with pod-{master}'s volume replaced: pod-{elected} elected, "
        f"{len(before.acknowledged)} writes, 0 lost"
    )


@pytest.mark.faults  # make test's time budget (about 15 min): make faults runs it
def test_sentinels_restarted_while_the_master_is_down_still_fail_over(cluster, spec):
    """Restarted Sentinels that knew no replica would abort the failover and block for 2 x failover-timeout."""
    master = cluster.master()
    others = [o for o in (0, 1, 2) if o != master]
    cluster.stop_node(master, graceful=False)
    for ordinal in others:
        cluster.stop_process(ordinal, "sentinel")
    t0 = time.monotonic()
    for ordinal in others:
        cluster.start_process(ordinal, "sentinel")
    budget = spec.sentinel.down_after_milliseconds / 1000 + 20
    deadline = t0 + budget
    while time.monotonic() < deadline:
        roles = cluster.roles()
        if roles.count("master") == 1:
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - t0
    assert cluster.roles().count("master") == 1, f"no new master within {budget:.0f}s"
    print(f"two Sentinels restarted with the master down: new master after {elapsed:.1f} s")
    cluster.start_node(master)
    cluster.wait_until_healthy(60)


@pytest.mark.faults  # make test's time budget (about 15 min): make faults runs it
def test_a_password_with_shell_hostile_characters_works_everywhere(spec, tmp_path):
    base = tmp_path / "local"
    (base / "secrets").mkdir(parents=True, mode=0o700)
    (base / "secrets" / "redis-password").write_text(HOSTILE_PASSWORD)
    (base / "secrets" / "sentinel-password").write_text(HOSTILE_PASSWORD[::-1])
    with LocalCluster(spec, ROOT / "dist", base, subnet=72) as cluster:
        assert cluster.redis(0).ping()
        assert cluster.sentinel(0).ping()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(cluster.state.nodes[0].host, cluster.state.redis_port, password="p", socket_timeout=2).ping()
        hand_over_to_another_pod(cluster)  # the preStop's own redis-cli calls authenticate too
