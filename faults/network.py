"""The scenarios that need a network (pods in network namespaces, devcluster/netns.py), measured like the others.

Their writers run as separate processes inside a namespace (`python -m faults.load`), so each side of a
partition writes through the Sentinels it can reach; their logs come back as JSON and are judged here.
"""

from __future__ import annotations

import time
from pathlib import Path

from redis_gitops.devcluster.netns import NetnsCluster, read_load
from redis_gitops.faults.load import LoadLog, Sample
from redis_gitops.faults.scenarios import Run, Scenario, Watcher, figures, settle

CUT_SECONDS = 20
LEAD_SECONDS = 3  # writes before the fault
TAIL_SECONDS = 11  # writes after the cut heals or the pod is back


def load_log(path: Path) -> LoadLog:
    raw = read_load(path)
    return LoadLog(
        samples=[Sample(**s) for s in raw["samples"]],
        acknowledged=raw["acknowledged"],
        confirmed=raw["confirmed"],
        started=raw["started"],
        stopped=raw["stopped"],
    )


def _new_address(cluster: NetnsCluster, master: int) -> dict[str, float]:
    """The master's pod is rescheduled: preStop hand-over, then back with a new IP under the same DNS name."""
    t0 = time.monotonic()
    cluster.stop_node(master, graceful=True)
    ns = cluster.namespace(master)
    now = int(cluster.network.addresses[ns].rsplit(".", 1)[1])
    cluster.network.readdress(ns, 50 + master if now != 50 + master else 60 + master)
    cluster.start_node(master)
    return {"pod back at a new address": round(time.monotonic() - t0, 3)}


def _partition(cluster: NetnsCluster, master: int) -> dict[str, float]:
    t0 = time.monotonic()
    cluster.network.cut(cluster.namespace(master))
    time.sleep(CUT_SECONDS)
    cluster.network.heal(cluster.namespace(master))
    return {"cut healed": round(time.monotonic() - t0, 3)}


def run(cluster: NetnsCluster, scenario: Scenario, workdir: Path) -> Run:
    """One run: a writer in the clients' namespace (and, for a partition, one beside the master), the fault,
    then the figures for the clients' writer; a partition adds the cut-off side's in `cut_off_side`."""
    cluster.wait_until_healthy(60)
    old = cluster.master()
    cut_off = scenario.name == "partition"
    seconds = LEAD_SECONDS + scenario.observe_seconds
    key = f"faults:{scenario.name}:{time.monotonic_ns()}"
    writers = {"outside": cluster.client(cluster.client_ns, f"{key}:outside", seconds, workdir / "outside.json")}
    if cut_off:
        writers["inside"] = cluster.client(cluster.namespace(old), f"{key}:inside", seconds, workdir / "inside.json")
    time.sleep(LEAD_SECONDS)
    t0 = time.monotonic()
    watch = Watcher(cluster, cluster.state.nodes[old].host, t0)
    watch.start()
    try:
        marks = scenario.fault(cluster, old) or {}
        for proc in writers.values():
            proc.wait(timeout=seconds + 30)
            if proc.returncode != 0:
                raise RuntimeError(f"a writer failed: {proc.stderr.read()}")
    finally:
        watch.stop()
        for proc in writers.values():
            if proc.poll() is None:
                proc.kill()
    healthy, new = settle(cluster)
    logs = {side: load_log(workdir / f"{side}.json") for side in writers}
    stored = {side: {int(x) for x in cluster.redis(new).lrange(f"{key}:{side}", 0, -1)} for side in writers}
    cluster.redis(new).delete(*(f"{key}:{side}" for side in writers))
    result = figures(
        scenario, logs["outside"], t0, cluster.state.nodes[old].host, watch, marks, stored["outside"], healthy
    )
    if cut_off:
        inner, heal = logs["inside"], t0 + marks["cut healed"]
        after_cut = [s.start + s.latency - t0 for s in inner.samples if s.ok and t0 < s.start + s.latency < heal]
        lost = [n for n in inner.acknowledged if n not in stored["inside"]]
        confirmed = set(inner.confirmed)
        result.cut_off_side = {
            "acknowledged": len(inner.acknowledged),
            "lost": len(lost),
            "lost_confirmed": sum(1 for n in lost if n in confirmed),
            "took_writes_after_cut_s": round(max(after_cut, default=0.0), 3),
            "old_master_rejoined_as_replica": cluster.roles()[old] == "slave",
        }
        result.marks["cut-off master's last write"] = result.cut_off_side["took_writes_after_cut_s"]
    return result


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "partition",
            f"the master's pod cut off from the others {CUT_SECONDS} s, a writer on each side "
            "(figures: the clients' writer; the cut-off side's in cut_off_side)",
            _partition,
            True,
            CUT_SECONDS + TAIL_SECONDS,
        ),
        Scenario(
            "new-address",
            "the master's pod rescheduled: preStop hand-over, back at a new IP, same DNS name",
            _new_address,
            True,
            TAIL_SECONDS,
        ),
    )
}
