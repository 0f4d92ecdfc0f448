"""The scenarios: each one disturbs a healthy cluster under load and measures what clients saw.

Figures per run: the write-unavailability window (longest time without an acknowledged write after the fault),
the time to a new master (first Sentinel naming one), the time until every Sentinel gives clients the new
master, and acknowledged writes lost, counted for plain writes and for writes confirmed with WAIT 1.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import redis

from redis_gitops.devcluster.local_cluster import LocalCluster, broker_settings
from redis_gitops.faults.load import Load, LoadLog
from redis_gitops.runtime.client import RedisPool, direct_client

BASELINE_SECONDS = 1.0


@dataclass
class Run:
    scenario: str
    old_master: str
    new_master: str | None
    failover_expected: bool
    unavailable_s: float
    new_master_after_s: float | None
    sentinels_agree_after_s: float | None
    acknowledged: int
    confirmed: int
    lost: int
    lost_confirmed: int
    errors: dict[str, int]
    healthy_after: bool
    marks: dict[str, float] = field(default_factory=dict)  # events, seconds after the fault
    per_pod_unavailable_s: dict[str, float] = field(default_factory=dict)  # rolling restart: each pod's window
    timeline: list[tuple[float, float, bool]] = field(default_factory=list)  # (t after fault, latency, ok)
    cut_off_side: dict = field(default_factory=dict)  # partition: what the writer beside the cut-off master saw
    engine: str = "redis"  # the server the cluster ran (contracts/engines.py)

    def summary(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "timeline"}


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    fault: Callable[[LocalCluster, int], dict[str, float] | None]  # disturbs, returns marks (seconds after it)
    failover_expected: bool
    observe_seconds: float  # how long to watch after the fault (the fault itself included)
    min_runs: int = 1  # `make faults` runs at least this many (the README's medians are over them)


def _others(cluster: LocalCluster, ordinal: int) -> list[int]:
    return [n.ordinal for n in cluster.state.nodes if n.ordinal != ordinal]


def _later(delay: float, action: Callable[[], None], marks: dict[str, float], mark: str, t0: float) -> None:
    """Run `action` `delay` seconds after t0 (in the scenario's own thread: the faults are sequential)."""
    time.sleep(max(0.0, t0 + delay - time.monotonic()))
    action()
    marks[mark] = round(time.monotonic() - t0, 3)


# -- faults ---------------------------------------------------------------------------------------------------
def master_killed(cluster: LocalCluster, master: int) -> dict[str, float]:
    """The master's pod dies (SIGKILL, Redis and Sentinel) and comes back 10 s later."""
    t0, marks = time.monotonic(), {}
    cluster.stop_node(master, graceful=False)
    _later(10, lambda: cluster.start_node(master), marks, "pod restarted", t0)
    return marks


def master_frozen(cluster: LocalCluster, master: int) -> dict[str, float]:
    """The master's Redis freezes (SIGSTOP) for 15 s, longer than down-after, then resumes."""
    t0, marks = time.monotonic(), {}
    pid = cluster.state.nodes[master].redis_pid
    os.kill(pid, signal.SIGSTOP)
    _later(15, lambda: os.kill(pid, signal.SIGCONT), marks, "resumed (SIGCONT)", t0)
    return marks


def sentinel_down_then_master_killed(cluster: LocalCluster, master: int) -> dict[str, float]:
    """One Sentinel is down (not the master's), then the master's Redis dies (SIGKILL); the two Sentinels left
    still make a quorum and a majority. Both come back after 10 s."""
    t0, marks = time.monotonic(), {}
    sentinel = _others(cluster, master)[0]
    cluster.stop_process(sentinel, "sentinel")
    cluster.stop_node(master, graceful=False, sentinel=False)
    _later(
        10,
        lambda: (cluster.start_process(sentinel, "sentinel"), cluster.start_process(master, "redis")),
        marks,
        "Redis and Sentinel restarted",
        t0,
    )
    return marks


def _down_for(cluster: LocalCluster, ordinals: list[int], role: str, mark: str) -> dict[str, float]:
    """These pods' Redis (or Sentinel) stopped, and started again 10 s later."""
    t0, marks = time.monotonic(), {}
    for ordinal in ordinals:
        cluster.stop_process(ordinal, role)
    _later(10, lambda: [cluster.start_process(o, role) for o in ordinals], marks, mark, t0)
    return marks


def two_sentinels_down(cluster: LocalCluster, master: int) -> dict[str, float]:
    """Two Sentinels down for 10 s: no quorum, so no failover may happen, and the master keeps serving."""
    return _down_for(cluster, _others(cluster, master), "sentinel", "Sentinels restarted")


def replica_down(cluster: LocalCluster, master: int) -> dict[str, float]:
    """One replica's Redis is down for 10 s."""
    return _down_for(cluster, _others(cluster, master)[:1], "redis", "replica restarted")


def replicas_down(cluster: LocalCluster, master: int) -> dict[str, float]:
    """Both replicas down for 10 s: with min-replicas-to-write 1 the master refuses writes (NOREPLICAS)."""
    return _down_for(cluster, _others(cluster, master), "redis", "replicas restarted")


def ready(cluster: LocalCluster, ordinal: int, timeout: float = 60) -> None:
    """Wait as the StatefulSet controller does: until the pod's readiness probes pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(cluster.probe(ordinal, check).returncode == 0 for check in ("redis-ready", "sentinel-ready")):
            return
        time.sleep(0.5)
    raise TimeoutError(f"pod-{ordinal} not ready within {timeout:.0f} s")


def rolling_restart(cluster: LocalCluster, master: int) -> dict[str, float]:
    """A rolling update: pods 2, 1, 0 each stopped with its preStop hand-over, restarted, and probed Ready
    before the next one goes, as the StatefulSet controller does."""
    t0, marks = time.monotonic(), {}
    for ordinal in reversed(range(len(cluster.state.nodes))):
        marks[f"pod-{ordinal} stopping"] = round(time.monotonic() - t0, 3)
        cluster.stop_node(ordinal, graceful=True)
        cluster.start_node(ordinal)
        ready(cluster, ordinal)
        marks[f"pod-{ordinal} ready"] = round(time.monotonic() - t0, 3)
    return marks


def planned_hand_over(cluster: LocalCluster, master: int) -> dict[str, float]:
    """The master's pod is updated: preStop hand-over, restart (what `smoke --failover` also measures)."""
    t0, marks = time.monotonic(), {}
    cluster.stop_node(master, graceful=True)
    marks["preStop done"] = round(time.monotonic() - t0, 3)
    cluster.start_node(master)
    return marks


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("master-killed", "SIGKILL of the master's pod, restarted after 10 s", master_killed, True, 25),
        Scenario("master-frozen", "master SIGSTOPped 15 s, then SIGCONT", master_frozen, True, 30),
        Scenario(
            "sentinel-down-master-killed",
            "one Sentinel down, then the master's Redis killed",
            sentinel_down_then_master_killed,
            True,
            25,
        ),
        Scenario("two-sentinels-down", "two Sentinels down 10 s (no quorum)", two_sentinels_down, False, 15),
        Scenario("replica-down", "one replica down 10 s", replica_down, False, 15),
        Scenario("replicas-down", "both replicas down 10 s (min-replicas-to-write 1)", replicas_down, False, 25),
        Scenario(
            "planned-hand-over",
            "the master's pod updated: preStop hand-over, restart",
            planned_hand_over,
            True,
            8,
            min_runs=5,
        ),
        Scenario(
            "rolling-restart",
            "pods 2, 1, 0 restarted with preStop, next pod after Ready",
            rolling_restart,
            True,
            8,
            min_runs=5,
        ),
    )
}


# -- measurement ----------------------------------------------------------------------------------------------
def _sentinel_views(cluster: LocalCluster, clients: dict[int, redis.Redis]) -> tuple[set[str], list[str | None]]:
    """(masters named by get-master-addr-by-name, what each live Sentinel gives clients via SENTINEL MASTER)."""
    named, given = set(), []
    for node in cluster.state.nodes:
        if not node.sentinel_pid:
            continue
        try:
            s = clients[node.ordinal]
            addr = s.sentinel_get_master_addr_by_name(cluster.state.master_name)
            if addr:
                named.add(addr[0])
            state = s.sentinel_master(cluster.state.master_name)
            given.append(None if "failover_in_progress" in str(state["flags"]) else state["ip"])
        except (redis.RedisError, OSError):
            given.append(None)
    return named, given


def run(cluster: LocalCluster, scenario: Scenario, key: str) -> Run:
    cluster.wait_until_healthy(60)
    master = cluster.master()
    old = cluster.state.nodes[master].host
    pool = RedisPool(broker_settings(cluster.state))
    load = Load(pool, key)
    try:
        cluster.redis(master).delete(key)
        load.start()
        time.sleep(BASELINE_SECONDS)
        t0 = time.monotonic()
        watch = Watcher(cluster, old, t0)
        watch.start()
        try:
            marks = scenario.fault(cluster, master) or {}
            time.sleep(max(0.0, t0 + scenario.observe_seconds - time.monotonic()))
        finally:
            watch.stop()
    finally:
        log = load.stop()
        pool.close()
    healthy, new_master = settle(cluster)
    stored = {int(x) for x in cluster.redis(new_master).lrange(key, 0, -1)}
    cluster.redis(new_master).delete(key)
    return figures(scenario, log, t0, old, watch, marks, stored, healthy)


def settle(cluster: LocalCluster, timeout: float = 90) -> tuple[bool, int]:
    """(whether the cluster became healthy within `timeout`, the master now) after a fault."""
    try:
        cluster.wait_until_healthy(timeout)
        healthy = True
    except TimeoutError:
        healthy = False
    return healthy, cluster.master()


def figures(
    scenario: Scenario,
    log: LoadLog,
    t0: float,
    old: str,
    watch: Watcher,
    marks: dict[str, float],
    stored: set[int],
    healthy: bool,
) -> Run:
    gap, _ = log.longest_gap(since=t0)
    per_pod = {}
    for name, stopping in marks.items():
        if name.endswith(" stopping"):
            pod = name.removesuffix(" stopping")
            per_pod[pod] = round(log.longest_gap(t0 + stopping, t0 + marks[f"{pod} ready"])[0], 3)
    return Run(
        scenario=scenario.name,
        old_master=old,
        new_master=watch.new_master,
        failover_expected=scenario.failover_expected,
        unavailable_s=round(gap, 3),
        new_master_after_s=watch.new_master_after,
        sentinels_agree_after_s=watch.agree_after,
        acknowledged=len(log.acknowledged),
        confirmed=len(log.confirmed),
        lost=sum(1 for n in log.acknowledged if n not in stored),
        lost_confirmed=sum(1 for n in log.confirmed if n not in stored),
        errors=log.errors(),
        healthy_after=healthy,
        marks=marks,
        per_pod_unavailable_s=per_pod,
        timeline=[(round(s.start - t0, 4), round(s.latency, 4), s.ok) for s in log.samples],
    )


class Watcher:
    """Polls the Sentinels from another thread: when one first names a new master, when all give it out."""

    def __init__(self, cluster: LocalCluster, old: str, t0: float):
        self.cluster, self.old, self.t0 = cluster, old, t0
        self.new_master: str | None = None
        self.new_master_after: float | None = None
        self.agree_after: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        # Short timeouts and no retry: a Sentinel cut off by a partition must not stall the others' view.
        clients = {
            n.ordinal: direct_client(
                (self.cluster.address(n.ordinal), self.cluster.state.sentinel_port),
                self.cluster.state.sentinel_password,
                0.2,
            )
            for n in self.cluster.state.nodes
        }
        while not self._stop.is_set():
            named, given = _sentinel_views(self.cluster, clients)
            now = round(time.monotonic() - self.t0, 3)
            moved = named - {self.old}
            if self.new_master is None and moved:
                self.new_master, self.new_master_after = sorted(moved)[0], now
            if self.new_master and self.agree_after is None and given and all(g == self.new_master for g in given):
                self.agree_after = now
            time.sleep(0.05)
