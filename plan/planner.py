"""From two renderings (what runs, what will run) to the plan: objects, rolls, refusals, clients, data risk."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from redis_gitops.plan import clients, immutable, risks, rotation, secret_keys
from redis_gitops.plan.facts import broker_facts
from redis_gitops.plan.measured import HandOverPause, load
from redis_gitops.plan.model import Action, Finding, ObjectChange, Plan, Verdict
from redis_gitops.plan.objects import differences, index
from redis_gitops.plan.rolls import predict_roll
from redis_gitops.policies.manifests import Manifests

REMOVED_NOTE = {
    "StatefulSet": "its pods are deleted: the broker stops (the volumes stay, the claims are retained)",
    "PersistentVolumeClaim": "the claim and, with the usual Delete reclaim policy, its data",
    "CronJob": "no more scheduled runs",
    "Namespace": "EVERYTHING in the namespace, Airflow's own objects too",
}


def make_plan(
    base: Mapping[str, str],
    head: Mapping[str, str],
    acknowledged: Mapping[str, str] | None = None,
    pause: HandOverPause | None = None,
) -> Plan:
    """`base` and `head`: relative path -> text of the two rendered folders; `acknowledged`: code -> reason
    (the head spec's policy.acknowledge)."""
    if dict(base) == dict(head):  # an environment the change leaves alone: nothing to read (tests hold it equal)
        return no_change()
    return compared(base, head, acknowledged, pause)


def compared(
    base: Mapping[str, str],
    head: Mapping[str, str],
    acknowledged: Mapping[str, str] | None = None,
    pause: HandOverPause | None = None,
) -> Plan:
    """make_plan's comparison, object by object."""
    pause = pause or load()
    acknowledged = acknowledged or {}
    old, new = index(dict(base)), index(dict(head))
    objects, findings, rolls, not_rolled = [], [], [], []
    base_facts, head_facts = (
        broker_facts(Manifests.from_files(dict(base))),
        broker_facts(Manifests.from_files(dict(head))),
    )
    quorum = (base_facts.quorum, head_facts.quorum)
    template_changed: dict[str, bool] = {}
    for key in sorted(set(old) | set(new), key=lambda k: (k[0], k[1] or "", k[2])):
        a, b = old.get(key), new.get(key)
        if a is None:
            objects.append(ObjectChange(b.kind, b.name, b.namespace, Action.ADDED, b.file))
            continue
        if b is None:
            objects.append(
                ObjectChange(a.kind, a.name, a.namespace, Action.REMOVED, a.file, note=REMOVED_NOTE.get(a.kind, ""))
            )
            continue
        fields = differences(a.doc, b.doc)
        if not fields:
            continue
        action = Action.REPLACED if b.kind == "Job" and immutable.is_hook(b) else Action.CHANGED
        objects.append(ObjectChange(b.kind, b.name, b.namespace, action, b.file, tuple(fields[:20])))
        findings += immutable.findings(a, b, fields)
        if b.kind == "StatefulSet":
            roll = predict_roll(a, b, pause, quorum)
            template_changed[b.name] = bool(roll and roll.pods)
            if roll:
                rolls.append(roll)
    not_rolled = _not_rolled(objects, new, template_changed)
    roll_fields = tuple(f for r in rolls for f in r.why)
    airflow, airflow_findings = clients.airflow(base_facts, head_facts)
    rotation_steps, rotation_findings = rotation.review(rotation.passwords(old), rotation.passwords(new))
    client_changes = ([airflow] if airflow else []) + clients.others(objects, roll_fields) + rotation_steps
    risk_findings = (
        risks.identity(base_facts, head_facts)
        + clients.endpoints(base_facts, head_facts)
        + airflow_findings
        + risks.persistence(base_facts, head_facts)
        + risks.replicas_down(base_facts, head_facts)
        + risks.engine(base_facts, head_facts)
        + risks.pruned(objects)
        + secret_keys.findings(secret_keys.needed(old, base_facts), secret_keys.needed(new, head_facts))
        + rotation_findings
    )
    if any(f.code == "namespace-or-name" for f in risk_findings):
        # A new broker elsewhere: nothing of the old one rolls or is refused; it is deleted.
        findings, rolls = [], []
    plan = Plan(
        verdict=Verdict.NO_OP,
        objects=objects,
        rolls=rolls,
        not_rolled=not_rolled,
        immutable=[_ack(f, acknowledged) for f in findings],
        risks=[_ack(f, acknowledged) for f in risk_findings],
        clients=client_changes,
        diff=_diff(base, head),
    )
    plan.verdict = _verdict(plan)
    plan.reasons = _reasons(plan)
    return plan


def no_change() -> Plan:
    """The plan of two identical renderings."""
    plan = Plan(Verdict.NO_OP)
    plan.reasons = _reasons(plan)
    return plan


def _ack(f: Finding, acknowledged: Mapping[str, str]) -> Finding:
    if f.code not in acknowledged:
        return f
    return Finding(f.code, f.object, f.field, f.verdict, f.what, f.procedure, f.data_loss_risk, acknowledged[f.code])


def _not_rolled(objects: list[ObjectChange], new: dict, template_changed: dict[str, bool]) -> list[str]:
    """ConfigMaps the broker's pods read only at start, changed while the pods do not roll."""
    out = []
    mounted: dict[str, str] = {}
    for obj in new.values():
        if obj.kind == "StatefulSet":
            for volume in obj.at("spec", "template", "spec", "volumes") or []:
                name = (volume.get("configMap") or {}).get("name")
                if name:
                    mounted[name] = obj.name
    for o in objects:
        if o.kind == "ConfigMap" and o.action == Action.CHANGED and o.name in mounted:
            if not template_changed.get(mounted[o.name]):
                out.append(
                    f"ConfigMap/{o.name}: the pods of StatefulSet/{mounted[o.name]} read it only at start; the "
                    "running ones keep the old content until they restart"
                )
        if o.kind == "CronJob" and o.action == Action.CHANGED:
            out.append(f"CronJob/{o.name}: takes effect at its next run")
    return out


def _verdict(plan: Plan) -> Verdict:
    if plan.immutable or any(f.verdict == Verdict.REFUSED for f in plan.risks):
        return max((f.verdict for f in (*plan.immutable, *plan.risks)), key=lambda v: v.rank)
    if any(f.verdict == Verdict.DISRUPTIVE for f in plan.risks) or any(c.disruptive for c in plan.clients):
        return Verdict.DISRUPTIVE
    if plan.rolls:
        return Verdict.ROLLING
    return Verdict.IN_PLACE if plan.objects else Verdict.NO_OP


def _reasons(plan: Plan) -> list[str]:
    out = [f"{f.verdict}: {f.object} {f.field}: {f.what}" for f in plan.findings]
    for r in plan.rolls:
        parts = []
        if r.pods:
            parts.append(
                f"{len(r.pods)} pod(s) replaced ({', '.join(r.pods)}), {r.handovers_best}-{r.handovers} hand-over(s), "
                f"writes paused {r.write_pause_best_s}-{r.write_pause_s} s in all"
            )
        if r.created:
            parts.append(f"created {', '.join(r.created)}")
        if r.deleted:
            parts.append(f"deleted {', '.join(r.deleted)}")
        out.append(f"rolling: {r.workload}: " + "; ".join(parts))
    out += [f"not rolled: {n}" for n in plan.not_rolled]
    if not out and plan.objects:
        out.append(f"in-place: {len(plan.objects)} object(s) change; no pod is replaced")
    return out or ["no-op: the renderings are the same"]


def _diff(base: Mapping[str, str], head: Mapping[str, str]) -> str:
    lines: list[str] = []
    for path in sorted(set(base) | set(head)):
        a, b = base.get(path, ""), head.get(path, "")
        if a != b:
            lines += difflib.unified_diff(
                a.splitlines(keepends=True), b.splitlines(keepends=True), f"a/{path}", f"b/{path}"
            )
    return "".join(lines)
