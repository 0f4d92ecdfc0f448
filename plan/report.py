"""The plan as text (a terminal), markdown (the pull request's comment) and JSON (docs/review/plan.md)."""

from __future__ import annotations

import json
from enum import StrEnum

from redis_gitops.plan.model import Finding, Plan, Verdict

COMMENT_MARKER = "<!-- redis-gitops plan -->"  # the workflow edits the comment that carries it
MAX_DIFF_CHARS = 50_000  # GitHub refuses comments over 65,536 characters


class PlanFormat(StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"


HEADLINE = {
    "no-op": "nothing changes on the cluster",
    "in-place": "objects change in place; no pod is replaced",
    "rolling": "pods are replaced one at a time",
    "disruptive": "clients are cut off or data is at risk unless a procedure is followed",
    "refused": "Kubernetes or the running data refuses part of this change: follow the procedure below",
}


def render(plan: Plan, fmt: PlanFormat) -> str:
    if fmt == PlanFormat.JSON:
        return json.dumps(plan.as_json(), indent=2) + "\n"
    return markdown(plan) if fmt == PlanFormat.MARKDOWN else text(plan)


def _ack_line(f: Finding) -> str:
    return (
        f"acknowledged in the spec: {f.acknowledged}"
        if f.acknowledged
        else f"not acknowledged (policy.acknowledge: {f.code})"
    )


def text(plan: Plan) -> str:
    out = [f"plan: {plan.verdict}: {HEADLINE[plan.verdict]}" + ("; DATA AT RISK" if plan.data_loss_risk else "")]
    for o in plan.objects:
        detail = o.note or ", ".join(o.fields[:4]) + (" ..." if len(o.fields) > 4 else "")
        out.append(f"  {o.action:<8} {o.kind}/{o.name}" + (f": {detail}" if detail else ""))
    for r in plan.rolls:
        out.append(f"roll {r.workload}:")
        if r.created:
            out.append(f"  created: {', '.join(r.created)}")
        if r.deleted:
            out.append(f"  deleted: {', '.join(r.deleted)}")
        if r.pods:
            out.append(f"  replaced in order: {' -> '.join(r.pods)} (each after the previous is Ready)")
            out.append(
                f"  hand-overs: {r.handovers_best} with the master on the lowest ordinal, up to {r.handovers}; "
                f"writes paused {r.write_pause_best_s} s to {r.write_pause_s} s in all"
            )
            out.append(f"  because: {', '.join(r.why[:5])}" + (" ..." if len(r.why) > 5 else ""))
        bad = [q for q in r.quorum if not q.ok]
        out.append(
            "  quorum: kept at every step"
            if not bad
            else "  quorum: LOST at " + "; ".join(f"{q.step} ({q.sentinels_up} of {q.sentinels_known} up)" for q in bad)
        )
    out += [f"not rolled: {n}" for n in plan.not_rolled]
    for f in plan.findings:
        out += [
            f"{f.verdict}: {f.object}: {f.field} [{f.code}]",
            f"  what happens: {f.what}",
            f"  procedure: {f.procedure}",
            f"  {_ack_line(f)}",
        ]
    for c in plan.clients:
        out.append(f"client {c.client}: {', '.join(c.changes)}; order: {c.order}")
    return "\n".join(out) + "\n"


def render_environments(plans: list[tuple[str | None, Plan]], fmt: PlanFormat) -> str:
    """The plan of every environment: a repository without environments gets its one plan as before; with
    environments, one section per environment that changes (a summary row for each) and one JSON object."""
    if len(plans) == 1 and plans[0][0] is None:
        return render(plans[0][1], fmt)
    if fmt == PlanFormat.JSON:
        return json.dumps({"environments": {name: plan.as_json() for name, plan in plans}}, indent=2) + "\n"
    changed = [(name, plan) for name, plan in plans if plan.verdict != Verdict.NO_OP]
    if fmt == PlanFormat.TEXT:
        return "".join(f"== environment {name} ==\n{text(plan)}" for name, plan in plans)
    worst = worst_verdict([plan for _, plan in plans])
    out = [
        COMMENT_MARKER,
        f"### redis-gitops plan: `{worst}` — {len(changed)} of {len(plans)} environment(s) change",
        "",
        "| environment | verdict | |",
        "|---|---|---|",
        *[f"| `{name}` | `{plan.verdict}` | {HEADLINE[plan.verdict]} |" for name, plan in plans],
        "",
    ]
    share = MAX_DIFF_CHARS // max(len(changed), 1)
    for name, plan in changed:
        out.append(markdown(plan, title=f"environment `{name}`", max_diff=share, marker=False))
    return "\n".join(out)


def worst_verdict(plans: list[Plan]) -> Verdict:
    return max((p.verdict for p in plans), key=lambda v: v.rank, default=Verdict.NO_OP)


def markdown(plan: Plan, title: str = "redis-gitops plan", max_diff: int = MAX_DIFF_CHARS, marker: bool = True) -> str:
    risk = " · **data at risk**" if plan.data_loss_risk else ""
    out = [COMMENT_MARKER] if marker else []
    out += [f"### {title}: `{plan.verdict}` — {HEADLINE[plan.verdict]}{risk}", ""]
    if plan.findings:
        out += ["#### Stops the gate unless acknowledged", ""]
        for f in plan.findings:
            out += [
                f"- **{f.verdict}** `{f.code}` — {f.object}: {f.field}",
                f"  - What happens: {f.what}",
                f"  - Procedure: {f.procedure}",
                f"  - {'✅ ' if f.acknowledged else ''}{_ack_line(f)}",
            ]
        out.append("")
    if plan.rolls:
        out += [
            "#### Pods",
            "",
            "| workload | replaced, in order | created | deleted | hand-overs | write pause | quorum |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in plan.rolls:
            quorum = "kept" if all(q.ok for q in r.quorum) else "**lost at a step**"
            out.append(
                f"| {r.workload} | {' → '.join(r.pods) or '—'} | {', '.join(r.created) or '—'} | "
                f"{', '.join(r.deleted) or '—'} | {r.handovers_best}–{r.handovers} | "
                f"{r.write_pause_best_s}–{r.write_pause_s} s | {quorum} |"
            )
        out.append("")
    if plan.not_rolled:
        out += ["#### Changed but not rolled", "", *[f"- {n}" for n in plan.not_rolled], ""]
    if plan.clients:
        out += ["#### Clients", "", "| client | what changes | when |", "|---|---|---|"]
        out += [f"| {c.client} | {', '.join(f'`{x}`' for x in c.changes)} | {c.order} |" for c in plan.clients]
        out.append("")
    if plan.objects:
        out += ["#### Objects", "", "| action | object | detail |", "|---|---|---|"]
        out += [
            f"| {o.action} | {o.kind}/{o.name} | {o.note or ', '.join(f'`{x}`' for x in o.fields[:3])} |"
            for o in plan.objects
        ]
        out.append("")
    if plan.diff:
        diff = plan.diff if len(plan.diff) <= max_diff else plan.diff[:max_diff] + "\n... (cut)\n"
        out += ["<details><summary>YAML diff</summary>", "", "```diff", diff.rstrip("\n"), "```", "", "</details>"]
    return "\n".join(out) + "\n"
