"""`local apply`: move a running local cluster from the rendering it runs to a new one, the way Kubernetes does
with what we render, by the plan's own prediction (plan/rolls.py's `predict_roll`):

- ConfigMaps: their files change under every pod at once (the kubelet's sync); no running process re-reads them;
- a replicas change first creates the new pods (all at once: Parallel pod management) or deletes the pods above
  the new count (their preStop hands over if one holds the master; their data stays, as a retained claim);
- a pod template change replaces the pods one at a time in the plan's order (highest ordinal first): preStop
  hook (the master's hands over), stop, start with the new template, and the next only once the rendered
  readiness probes pass;
- a change the plan calls refused is refused here with the same words, unless the spec acknowledges it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from redis_gitops.devcluster.local_cluster import LocalCluster
from redis_gitops.plan.model import Plan, Verdict
from redis_gitops.plan.objects import index
from redis_gitops.plan.planner import make_plan
from redis_gitops.synth.output import read_tree
from redis_gitops.synth.spec import ClusterSpec

PROBE_SCRIPT = "/scripts/probe.sh"


class ApplyRefused(RuntimeError):
    """The change cannot be applied (Kubernetes would refuse it, or the local cluster cannot run it yet)."""


@dataclass(frozen=True)
class Step:
    pod: str
    handed_over: bool  # it was the master when its preStop ran
    took_s: float  # from the preStop's start until Ready (replaced) or gone (deleted)
    action: str = "replaced"


@dataclass
class Applied:
    plan: Plan
    steps: list[Step] = field(default_factory=list)
    created: tuple[str, ...] = ()

    @property
    def pods(self) -> tuple[str, ...]:
        """The pods replaced, in order."""
        return tuple(s.pod for s in self.steps if s.action == "replaced")

    @property
    def deleted(self) -> tuple[str, ...]:
        return tuple(s.pod for s in self.steps if s.action == "deleted")

    @property
    def handovers(self) -> int:
        return sum(s.handed_over for s in self.steps)


def readiness_checks(dist: dict[str, str], statefulset: str) -> list[str]:
    """The probe.sh checks the rendered StatefulSet's readiness probes run (the exporters' HTTP probes are not:
    the local cluster runs Redis and Sentinel only)."""
    objects = index(dist)
    sts = next(o for (kind, _, name), o in objects.items() if kind == "StatefulSet" and name == statefulset)
    checks = []
    for container in sts.at("spec", "template", "spec", "containers") or []:
        command = ((container.get("readinessProbe") or {}).get("exec") or {}).get("command") or []
        if PROBE_SCRIPT in command:
            checks.append(command[command.index(PROBE_SCRIPT) + 1])
    return checks


def _refusal(plan: Plan) -> str | None:
    refused = [f for f in plan.unacknowledged if f.verdict == Verdict.REFUSED]
    if refused:
        return "; ".join(f"{f.object}: {f.field}: {f.what}. Procedure: {f.procedure}" for f in refused)
    return None


def apply(cluster: LocalCluster, spec: ClusterSpec, dist: Path, ready_timeout: float = 60.0) -> Applied:
    """Apply the rendering in `dist` (of `spec`) to the running `cluster`; what it did, step by step."""
    running, target = read_tree(cluster.running_dist), read_tree(Path(dist))
    plan = make_plan(running, target, {a.change: a.reason for a in spec.policy.acknowledge})
    if (
        spec.redis.port != cluster.state.redis_port
        or spec.sentinel.port != cluster.state.sentinel_port
        or spec.sentinel.master_name != cluster.state.master_name
        or spec.tls.enabled != bool(cluster.state.tls_dir)
    ):
        raise ApplyRefused("a port, master name or TLS change: the local cluster cannot apply it yet")
    refusal = _refusal(plan)
    if refusal:
        raise ApplyRefused(refusal)
    missing = [
        f for f in plan.findings if f.code == "secret-key-added" and not (cluster.secret_store / f.field).is_file()
    ]
    if missing:  # here the Secret is a folder: what the gate cannot see, apply can
        raise ApplyRefused("; ".join(f"{f.object}: {f.what}. Procedure: {f.procedure}" for f in missing))
    applied = Applied(plan)
    cluster.sync_config_maps(Path(dist))
    cluster.sync_secrets()  # the kubelet's sync: a Secret's new values reach the running containers' files
    for roll in plan.rolls:
        checks = readiness_checks(target, roll.workload.split("/", 1)[1])
        created, deleted = [_ordinal(p) for p in roll.created], [_ordinal(p) for p in roll.deleted]
        if created:  # Parallel pod management: the new pods start at once, with the new template
            cluster.spec = spec
            cluster.add_nodes(created)
            cluster.start_nodes(created)
            for ordinal in created:
                _wait_ready(cluster, ordinal, checks, ready_timeout)
            applied.created = roll.created
        for pod in roll.deleted:  # each preStop hands over if its pod holds the master
            was_master = cluster.roles()[_ordinal(pod)] == "master"
            started = time.monotonic()
            cluster.stop_node(_ordinal(pod), graceful=True)
            applied.steps.append(Step(pod, was_master, round(time.monotonic() - started, 2), "deleted"))
        if deleted:
            cluster.remove_nodes(deleted)
        for pod in roll.pods:
            ordinal = _ordinal(pod)
            started = time.monotonic()
            was_master = cluster.roles()[ordinal] == "master"
            cluster.stop_node(ordinal, graceful=True)  # preStop (the hand-over), then SIGTERM
            cluster.spec = spec  # the new pod template's environment
            cluster.start_node(ordinal)
            _wait_ready(cluster, ordinal, checks, ready_timeout)
            applied.steps.append(Step(pod, was_master, round(time.monotonic() - started, 2)))
    cluster.spec = spec
    return applied


def _ordinal(pod: str) -> int:
    return int(pod.rsplit("-", 1)[1])


def _wait_ready(cluster: LocalCluster, ordinal: int, checks: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(cluster.probe(ordinal, check).returncode == 0 for check in checks):
            return
        time.sleep(0.5)
    raise TimeoutError(f"pod-{ordinal} not Ready within {timeout:.0f} s (checks: {', '.join(checks)})")
