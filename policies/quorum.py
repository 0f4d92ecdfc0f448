"""Quorum: enough Sentinels, a strict-majority quorum, one shared view of the master, and pods that cannot
all go down together."""

from __future__ import annotations

from redis_gitops.contracts.bounds import (
    DOWN_AFTER_MS,
    FAILOVER_TIMEOUT_MS,
    MAX_REPLICAS,
    failover_timeout_ok,
    quorum_ok,
    sentinel_count_ok,
    strict_majority,
)
from redis_gitops.policies.manifests import Manifests, selects
from redis_gitops.policies.model import Family, Hit, rule

FAILOVER_TIMEOUT_MAX_MS = FAILOVER_TIMEOUT_MS[1]


def sentinel_workloads(m: Manifests):
    """(template, sentinel count) for each workload whose pods run a Sentinel."""
    for t in m.pod_templates():
        path, c = t.container("sentinel")
        if c is not None:
            yield t, int((t.owner.doc.get("spec") or {}).get("replicas", 1))


def monitors(m: Manifests):
    """(conf file, directive, master name, quorum) of every `sentinel monitor` line."""
    for conf in m.conf_files("sentinel.conf"):
        for d in conf.all("sentinel", "monitor"):
            if len(d.words) >= 6:
                yield conf, d, d.words[2], d.words[5]


@rule("quorum-sentinel-count", Family.QUORUM, f"An odd number of Sentinels, at least 3 and at most {MAX_REPLICAS}.")
def sentinel_count(m: Manifests):
    for t, n in sentinel_workloads(m):
        if not sentinel_count_ok(n):
            why = (
                "cannot keep a majority through a failure (even counts add a member without adding tolerance)"
                if n < 3 or n % 2 == 0
                else f"are more than the {MAX_REPLICAS} any broker needs"
            )
            yield Hit(
                t.owner.ref,
                ("spec", "replicas"),
                f"{n} Sentinels {why}",
                f"run an odd number of Sentinels from 3 to {MAX_REPLICAS} (redis.replicas in the spec)",
            )


@rule("quorum-majority", Family.QUORUM, "The quorum is a strict majority of the Sentinels and at most their count.")
def majority(m: Manifests):
    counts = [n for _, n in sentinel_workloads(m)]
    n = counts[0] if counts else None
    for conf, d, name, quorum in monitors(m):
        q = int(quorum) if quorum.isdigit() else 0
        if n is not None and not quorum_ok(q, n):
            yield Hit(
                conf.owner.ref,
                ("data", conf.key),
                f"quorum {quorum} for {name} with {n} Sentinels is not a strict majority: "
                + (
                    "a minority could fail over a master it merely cannot see"
                    if q <= n // 2
                    else "no failover can ever reach it"
                ),
                f"set the quorum to {strict_majority(n)} (sentinel.quorum in the spec)",
                d.line,
            )


@rule("quorum-same-master", Family.QUORUM, "Every Sentinel monitors the same master name with the same timings.")
def same_master(m: Manifests):
    seen = {(name, quorum) for _, _, name, quorum in monitors(m)}
    confs = m.conf_files("sentinel.conf")
    for conf in confs:
        monitored = [d.words[2] for d in conf.all("sentinel", "monitor") if len(d.words) >= 3]
        if len(monitored) != 1:
            yield Hit(
                conf.owner.ref,
                ("data", conf.key),
                f"{len(monitored)} `sentinel monitor` lines; the broker needs exactly one master",
                "keep exactly one `sentinel monitor` line",
            )
            continue
        for d in conf.directives:
            if (
                len(d.words) >= 3
                and d.words[0].lower() == "sentinel"
                and d.words[1].lower() in ("down-after-milliseconds", "failover-timeout", "parallel-syncs")
                and d.words[2] != monitored[0]
            ):
                yield Hit(
                    conf.owner.ref,
                    ("data", conf.key),
                    f"`{' '.join(d.words[:2])}` is set for {d.words[2]}, "
                    f"but the Sentinels monitor {monitored[0]}: the timing does not apply",
                    f"use the monitored master name {monitored[0]}",
                    d.line,
                )
    if len(seen) > 1:
        yield Hit(
            confs[0].owner.ref,
            ("data", "sentinel.conf"),
            f"Sentinels disagree on the master: {sorted(seen)}",
            "render every sentinel.conf from the same spec",
        )
    timings = {(c.value("sentinel", "down-after-milliseconds"), c.value("sentinel", "failover-timeout")) for c in confs}
    if len(timings) > 1:
        yield Hit(
            confs[0].owner.ref,
            ("data", "sentinel.conf"),
            f"Sentinels use different timings: {sorted(timings)}",
            "render every sentinel.conf from the same spec",
        )
    names = {name for _, _, name, _ in monitors(m)}
    for t in m.pod_templates():
        for path, c in t.containers():
            for i, e in enumerate(c.get("env") or []):
                if e.get("name") == "MASTER_NAME" and names and e.get("value") not in names:
                    yield Hit(
                        t.owner.ref,
                        (*path, "env", i, "value"),
                        f"MASTER_NAME {e.get('value')} is not the monitored master ({', '.join(sorted(names))})",
                        "use the master name of sentinel.conf (sentinel.masterName in the spec)",
                    )


@rule(
    "quorum-anti-affinity",
    Family.QUORUM,
    "Sentinel pods never share a node: required pod anti-affinity on the hostname.",
)
def anti_affinity(m: Manifests):
    for t, _n in sentinel_workloads(m):
        terms = ((t.spec.get("affinity") or {}).get("podAntiAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        ) or []
        if not any(
            term.get("topologyKey") == "kubernetes.io/hostname" and selects(term.get("labelSelector"), t.labels)
            for term in terms
        ):
            yield Hit(
                t.owner.ref,
                (*t.path, "spec", "affinity", "podAntiAffinity"),
                "no required anti-affinity on kubernetes.io/hostname: one node failure can take a majority "
                "of the Sentinels",
                "set scheduling.podAntiAffinity: required in the spec",
            )


@rule(
    "quorum-disruption-budget", Family.QUORUM, "A PodDisruptionBudget lets at most one Sentinel pod go down at a time."
)
def disruption_budget(m: Manifests):
    for t, n in sentinel_workloads(m):
        budgets = [
            p for p in m.of_kind("PodDisruptionBudget") if selects((p.doc.get("spec") or {}).get("selector"), t.labels)
        ]
        if not budgets:
            yield Hit(
                t.owner.ref,
                ("metadata",),
                "no PodDisruptionBudget selects these pods: a node drain may evict several at once and lose the quorum",
                "add a PodDisruptionBudget with maxUnavailable: 1",
            )
        for p in budgets:
            spec = p.doc["spec"]
            unavailable = spec.get("maxUnavailable")
            available = spec.get("minAvailable")
            if unavailable is not None and str(unavailable) not in ("1", "0"):
                yield Hit(
                    p.ref,
                    ("spec", "maxUnavailable"),
                    f"maxUnavailable {unavailable} lets more than one pod down at a time",
                    "set maxUnavailable: 1",
                )
            if available is not None and (not str(available).isdigit() or int(available) < n - 1):
                yield Hit(
                    p.ref,
                    ("spec", "minAvailable"),
                    f"minAvailable {available} of {n} lets more than one pod down at a time",
                    f"set maxUnavailable: 1 (or minAvailable: {n - 1})",
                )


@rule("quorum-timings", Family.QUORUM, "down-after and failover-timeout within sane bounds.")
def timings(m: Manifests):
    low, high = DOWN_AFTER_MS
    for conf in m.conf_files("sentinel.conf"):
        down = conf.last("sentinel", "down-after-milliseconds")
        failover = conf.last("sentinel", "failover-timeout")
        down_ms = int(down.words[3]) if down and len(down.words) > 3 and down.words[3].isdigit() else 30_000
        if down and not low <= down_ms <= high:
            yield Hit(
                conf.owner.ref,
                ("data", conf.key),
                f"down-after-milliseconds {down_ms} is outside "
                f"{low}-{high}: "
                + (
                    "a slow node triggers failovers"
                    if down_ms < low
                    else "the broker stays down that long after a crash"
                ),
                f"use {low} to {high} (5000 measured here: ~6 s of write outage on a crash)",
                down.line,
            )
        if failover and len(failover.words) > 3 and failover.words[3].isdigit():
            ms = int(failover.words[3])
            if not failover_timeout_ok(ms, down_ms):
                yield Hit(
                    conf.owner.ref,
                    ("data", conf.key),
                    f"failover-timeout {ms} must exceed twice "
                    f"down-after-milliseconds ({down_ms}) and stay under {FAILOVER_TIMEOUT_MAX_MS}",
                    f"use between {2 * down_ms + 1} and {FAILOVER_TIMEOUT_MAX_MS}",
                    failover.line,
                )
