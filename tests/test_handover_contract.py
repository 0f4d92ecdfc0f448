"""The hand-over contract, on real Redis and Sentinel: the preStop hook (prestop-redis.sh) is the only
implementation; the smoke Job's failover check runs the same script (tests/test_failover_check.py).

Whatever happens, the hand-over ends with writes unpaused and every setting it changed restored; it never
lets Sentinel promote a replica that misses a write; it waits for a replica that is still syncing; it
returns at once when no replica is left (a full stop)."""

import os
import signal
import time
from contextlib import contextmanager

import pytest
import redis
from test_client_faults import failover_when_a_replica_is_good

from redis_gitops.contracts import events
from redis_gitops.devcluster.local_cluster import LocalCluster, broker_settings
from redis_gitops.runtime.client import RedisPool
from redis_gitops.runtime.writer import Writer, lost_writes

from conftest import ROOT


@pytest.fixture(scope="module")
def cluster(spec, tmp_path_factory):
    with LocalCluster(spec, ROOT / "dist", tmp_path_factory.mktemp("handover-cluster"), subnet=74) as c:
        yield c


@pytest.fixture
def healthy(cluster):
    cluster.wait_until_healthy(40)
    yield cluster
    for node in cluster.state.nodes:  # a failed test must not leave a stopped process behind for the next
        if node.redis_pid is None:
            cluster.start_process(node.ordinal, "redis")
        if node.sentinel_pid is None:
            cluster.start_process(node.ordinal, "sentinel")
    cluster.wait_until_healthy(60)


def sentinel_sees_priority(cluster, replica: int, priority: int, timeout: float = 15) -> None:
    """Sentinel reads replica-priority from the INFO it caches every 10 s."""
    host = cluster.state.nodes[replica].host
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        views = [
            r
            for n in range(3)
            if cluster.state.nodes[n].sentinel_pid
            for r in cluster.sentinel(n).sentinel_slaves(cluster.state.master_name)
            if r["ip"] == host
        ]
        if views and all(int(r["slave-priority"]) == priority for r in views):
            return
        time.sleep(0.2)
    raise TimeoutError(f"Sentinels did not see replica-priority {priority} on {host}")


@contextmanager
def no_replica_promotable(cluster):
    """Every replica at replica-priority 0, as the Sentinels see it (they would answer -NOGOODSLAVE), then
    priority 100 again. Yields the master's ordinal."""
    old = cluster.master()
    replicas = [o for o in range(3) if o != old]
    for o in replicas:
        cluster.redis(o).config_set("replica-priority", 0)
    for o in replicas:
        sentinel_sees_priority(cluster, o, 0)
    try:
        yield old
    finally:
        for o in replicas:
            cluster.redis(o).config_set("replica-priority", 100)
        for o in replicas:
            sentinel_sees_priority(cluster, o, 100)


def names(run) -> list[str]:
    """The hand-over's events, by name, in order."""
    return [e.name for e in events.script_events(run.stderr)]


def pauses(stderr: str) -> list[float]:
    """How long each pause of writes lasted, from the hand-over's events."""
    return events.pauses(events.script_events(stderr))


def assert_paused_shorter_than_down_after(cluster, run) -> None:
    """A master paused for down-after-milliseconds is judged down by its Sentinels (their PUBLISH of hello
    messages blocks under CLIENT PAUSE WRITE, and their PINGs wait behind it): they would fail over on their
    own, to a replica the hand-over has not checked."""
    limit = cluster.spec.sentinel.down_after_milliseconds / 1000
    found = pauses(run.stderr)
    assert found and max(found) < limit, (found, run.stderr)


def assert_unpaused_and_restored(cluster, ordinal: int) -> None:
    """A paused Redis blocks a write until the pause ends; an unpaused one answers at once (OK or READONLY)."""
    r = cluster.redis(ordinal)
    try:
        r.set("pause-probe", "1")
    except redis.ResponseError:  # READONLY on a demoted master, NOREPLICAS with no replica left
        pass
    assert r.config_get("repl-ping-replica-period") == {"repl-ping-replica-period": "10"}
    for node in cluster.state.nodes:
        if node.redis_pid:
            assert cluster.redis(node.ordinal).config_get("replica-priority")["replica-priority"] != "0"


def test_hand_over_under_writes_loses_nothing_and_restores_everything(healthy):
    cluster = healthy
    old = cluster.master()
    pool = RedisPool(broker_settings(cluster.state))
    try:
        with pool.get_connection() as client:
            writer = Writer(client, "contract")
            writer.start()
            time.sleep(0.5)
            run = cluster.run_prestop(old)
            time.sleep(0.5)
            log = writer.stop()
            stored = client.lrange("contract", 0, -1)
    finally:
        pool.close()
    assert run.returncode == 0, run.stderr
    new = cluster.master()
    assert new != old
    assert lost_writes(log, stored) == []
    assert_unpaused_and_restored(cluster, old)
    assert_paused_shorter_than_down_after(cluster, run)
    print(f"hand-over: {len(log.acknowledged)} writes, longest gap {log.longest_gap_seconds:.2f} s, 0 lost")


@pytest.mark.faults  # make test's time budget (about 15 min): make faults runs it
def test_with_no_replica_sentinel_may_promote_writes_are_never_paused(healthy):
    """Sentinel would answer -NOGOODSLAVE (every replica has replica-priority 0): the hand-over waits for a
    promotable replica with writes flowing, and gives up at its deadline with settings untouched."""
    cluster = healthy
    with no_replica_promotable(cluster) as old:
        run = cluster.run_prestop(old, timeout=3)
    assert run.returncode != 0
    assert "no replica it may promote" in run.stderr, run.stderr
    assert events.WRITES_PAUSED not in names(run), run.stderr
    assert cluster.master() == old
    assert_unpaused_and_restored(cluster, old)
    assert cluster.redis(old).set("after-refusal", "1")


def test_a_replica_that_misses_writes_is_never_promoted(healthy):
    """The lagging replica is the one Sentinel prefers (lower replica-priority): the hand-over must make it
    ineligible (or wait for it) before asking for the failover, then give it its priority back."""
    cluster = healthy
    old = cluster.master()
    lagging, other = [o for o in range(3) if o != old]
    lag = cluster.redis(lagging)
    lag.config_set("replica-priority", 1)
    sentinel_sees_priority(cluster, lagging, 1)
    lag.replicaof("127.0.0.1", 1)  # its link is cut: it misses what follows, and Sentinel still lists it
    try:
        master = cluster.redis(old)
        for n in range(200):
            master.rpush("lagging", n)
        master.execute_command("WAIT", 1, 2000)
        run = cluster.run_prestop(old)
    finally:
        lag.config_set("replica-priority", 100)
        if lag.info("replication").get("master_host") == "127.0.0.1":  # the hand-over failed: re-link it
            lag.replicaof(cluster.state.nodes[cluster.master()].host, cluster.state.redis_port)
    assert run.returncode == 0, run.stderr
    new = cluster.master()
    assert new == other, "Sentinel promoted the replica that had missed writes"
    assert len(cluster.redis(new).lrange("lagging", 0, -1)) == 200
    assert_paused_shorter_than_down_after(cluster, run)  # Sentinel's view of the priority is awaited unpaused
    print(run.stderr)


def test_the_hand_over_goes_through_another_sentinel_when_the_first_peer_is_down(healthy):
    cluster = healthy
    old = cluster.master()
    first_peer = next(o for o in range(3) if o != old)
    cluster.stop_process(first_peer, "sentinel")
    run = cluster.run_prestop(old)
    assert run.returncode == 0, run.stderr
    assert cluster.master() != old


def test_the_hand_over_asks_a_sentinel_that_knows_every_replica(healthy):
    """The first peer's Sentinel has just forgotten the replicas (as after a restart with no saved state): a
    failover run by it would reconfigure none, and one replica would stay behind the demoted master."""
    cluster = healthy
    old = cluster.master()
    forgetful, other = [o for o in range(3) if o != old]
    cluster.sentinel(forgetful).execute_command("SENTINEL", "RESET", cluster.state.master_name)
    run = cluster.run_prestop(old)
    assert run.returncode == 0, run.stderr
    assert f"asking the Sentinel on {cluster.state.nodes[other].host}" in run.stderr, run.stderr
    new = cluster.state.nodes[cluster.master()].host
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        followers = [
            cluster.redis(o).info("replication").get("master_host")
            for o in range(3)
            if cluster.state.nodes[o].host != new
        ]
        if followers == [new, new]:
            break
        time.sleep(0.1)
    assert followers == [new, new], f"replicas follow {followers}, the new master is {new}"


def test_a_step_failing_after_the_pause_ends_unpaused_with_every_setting_restored(healthy):
    """A frozen replica does not answer (its offset, its replica-priority): the hand-over gives up after it
    paused writes and changed settings, and every change is undone on the way out."""
    cluster = healthy
    old = cluster.master()
    frozen = next(o for o in range(3) if o != old)
    os.kill(cluster.state.nodes[frozen].redis_pid, signal.SIGSTOP)
    try:
        run = cluster.run_prestop(old, timeout=6)
    finally:
        os.kill(cluster.state.nodes[frozen].redis_pid, signal.SIGCONT)
    assert run.returncode != 0, run.stderr
    assert names(run)[:1] == [events.WRITES_PAUSED] and names(run)[-1] == events.WRITES_RESUMED, run.stderr
    assert events.script_events(run.stderr)[-1].fields == {"why": "abandoned"}
    assert_paused_shorter_than_down_after(cluster, run)  # else the Sentinels fail over on their own (seen)
    assert cluster.master() == old
    assert_unpaused_and_restored(cluster, old)


def test_a_full_stop_with_no_replica_left_returns_at_once(healthy):
    cluster = healthy
    old = cluster.master()
    for o in range(3):
        if o != old:
            cluster.stop_process(o, "redis")
    start = time.monotonic()
    run = cluster.run_prestop(old)
    took = time.monotonic() - start
    assert run.returncode == 0, run.stderr
    assert "no replica" in run.stderr
    assert took < 3, f"a full stop waited {took:.1f} s for replicas that are gone"
    assert_unpaused_and_restored(cluster, old)


def test_a_replica_still_syncing_is_waited_for_not_skipped(healthy):
    cluster = healthy
    old = cluster.master()
    replicas = [o for o in range(3) if o != old]
    for o in replicas:
        cluster.stop_process(o, "redis")
    for o in replicas:
        cluster.start_process(o, "redis")  # they come back and resync
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # answering (Ready on PING, as before) but not online yet
        try:
            if all(cluster.redis(o).ping() for o in replicas):
                break
        except redis.RedisError:
            time.sleep(0.02)
    run = cluster.run_prestop(old)
    assert run.returncode == 0, run.stderr
    assert cluster.master() != old, run.stderr


@pytest.mark.faults  # make test's time budget (about 15 min): make faults runs it
def test_a_failover_already_in_progress_is_left_to_finish(healthy):
    """A Sentinel is already failing the master over (a bare SENTINEL FAILOVER, or a crash seen late): the
    preStop must not start a second one, must not hold writes paused, and ends once the master has moved."""
    cluster = healthy
    old = cluster.master()
    peer = next(o for o in range(3) if o != old)
    # NOGOODSLAVE until the Sentinel's cached INFO (10 s old at most) shows a replica fit for promotion again
    # after the previous test's changes (a fresh-clone run met it): the failover is the precondition here.
    failover_when_a_replica_is_good(cluster.sentinel(peer), cluster.state.master_name)
    start = time.monotonic()
    run = cluster.run_prestop(old)
    took = time.monotonic() - start
    assert run.returncode == 0, run.stderr
    assert events.WRITES_PAUSED not in names(run)
    assert took < 15, f"the preStop took {took:.1f} s"
    cluster.wait_until_healthy(40)
    assert cluster.master() != old


@pytest.mark.faults  # make faults: 25-40 s (two restarts and Sentinel catching up); kept make test over 15 min
def test_a_sentinel_restarted_with_stale_epochs_is_not_asked_until_it_caught_up(healthy):
    """A Sentinel restarted from its saved state while the others failed over holds old epochs. A forced
    failover it runs takes its next epoch, which the others already hold: they ignore the new configuration,
    keep naming the demoted master, and later judge it down and abort their own failover, blocked for 2 x
    failover-timeout (found in a full-suite run: the Sentinels disagreed for over two minutes)."""
    cluster = healthy
    m0 = cluster.master()
    a, b = [o for o in range(3) if o != m0]
    cluster.redis(a).config_set("replica-priority", 0)  # the first hand-over must promote b
    sentinel_sees_priority(cluster, a, 0)
    cluster.stop_process(a, "sentinel")  # a's Sentinel misses that failover (its epochs stay behind)
    try:
        first = cluster.run_prestop(m0)
        assert first.returncode == 0, first.stderr
        assert cluster.master() == b
    finally:
        cluster.redis(a).config_set("replica-priority", 100)
    cluster.start_process(a, "sentinel")  # back with its saved, stale state
    cluster.stop_process(m0, "sentinel")  # leaves a's Sentinel the only peer b's hand-over may ask
    second = cluster.run_prestop(b)
    assert second.returncode == 0, second.stderr
    cluster.start_process(m0, "sentinel")
    cluster.wait_until_healthy(30)  # every Sentinel names the same master again
    assert cluster.master() != b


def _info_period(cluster, ordinal: int) -> int:
    table = cluster.sentinel(ordinal).execute_command("SENTINEL", "DEBUG")
    table = table if isinstance(table, dict) else dict(zip(table[::2], table[1::2], strict=True))
    return int(table["INFO-PERIOD"])


def _roles_seen(cluster, replica: int) -> list[str]:
    host = cluster.state.nodes[replica].host
    return [
        r["role-reported"]
        for n in range(3)
        for r in cluster.sentinel(n).sentinel_slaves(cluster.state.master_name)
        if r["ip"] == host
    ]


def test_no_replica_a_sentinel_still_sees_as_master_is_promoted_before_it_looks_again(healthy):
    """A Sentinel whose last INFO of a replica says master (demoted less than an INFO period ago) turns that
    replica, freshly promoted, back into a replica of the old master before the failover's new epoch reaches it
    (seen in a roll: the promotion undone 0.1 s later, writes paused until the hand-over's deadline, 30 s). The
    hand-over waits until every Sentinel has looked again, asking it to look sooner, writes flowing."""
    cluster = healthy
    cluster.move_master(2)
    master, stale = cluster.redis(2), cluster.redis(0)
    periods = {n: _info_period(cluster, n) for n in range(3)}
    try:
        for n in range(3):
            cluster.sentinel(n).execute_command("SENTINEL", "DEBUG", "info-period", 500)
        cluster._wait(lambda: _roles_seen(cluster, 0) == ["slave"] * 3, 15, "pod 0 is not seen as a replica")
        # Pod 0 says master for a moment, every Sentinel sees it, then none looks again for a minute...
        stale.replicaof("no", "one")
        cluster._wait(lambda: _roles_seen(cluster, 0) == ["master"] * 3, 5, "the Sentinels did not see it")
        for n in range(3):
            cluster.sentinel(n).execute_command("SENTINEL", "DEBUG", "info-period", 60000)
        # ... while it is a replica again: every Sentinel's view of it is stale.
        stale.replicaof(cluster.state.nodes[2].host, cluster.state.redis_port)
        cluster._wait(lambda: stale.info("replication")["master_link_status"] == "up", 10, "pod 0 did not resync")
        assert master.info("replication")["connected_slaves"] == 2
        handed = cluster.run_prestop(2)  # steered to the lowest pod: pod 0
        assert handed.returncode == 0, handed.stderr
        assert "still see a replica as master" in handed.stderr, handed.stderr
        assert handed.stderr.index("still see a replica as master") < handed.stderr.index("asking the Sentinel")
        cluster.wait_until_healthy(30)
        assert cluster.master() == 0, handed.stderr
        assert {n: _info_period(cluster, n) for n in range(3)} == {n: 60000 for n in range(3)}  # given back
    finally:
        for n, period in periods.items():
            cluster.sentinel(n).execute_command("SENTINEL", "DEBUG", "info-period", period)
