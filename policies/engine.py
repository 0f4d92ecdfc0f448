"""Run every rule over dist/ and apply the waivers the objects carry."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis_gitops.contracts.rules import CHECKOV_EQUIVALENT, CHECKOV_SKIP_PREFIX, WAIVER_PREFIX
from redis_gitops.policies import (  # noqa: F401 (importing a rule module registers its rules)
    airflow,
    api_server,
    auth,
    autoscaling,
    broker,
    persistence,
    quorum,
    resources,
    security,
    tls,
    versions,
)
from redis_gitops.policies.manifests import Manifests
from redis_gitops.policies.model import RULES, Family, Finding, Rule, Waiver

FAMILIES = tuple(Family)
# Not waivable and not in RULES: it judges the waivers themselves.
WAIVER_RULE = Rule(
    "policy-waiver", Family.POLICY, "error", "A waiver names a known rule and gives a reason.", check=lambda m: iter(())
)


@dataclass
class PolicyReport:
    findings: list[Finding] = field(default_factory=list)
    waived: list[tuple[Finding, Waiver]] = field(default_factory=list)
    waivers: list[Waiver] = field(default_factory=list)
    objects: int = 0
    rules: list[Rule] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


def waivers_of(m: Manifests) -> tuple[list[Waiver], list[Finding]]:
    """Annotations `policies.redis-gitops.io/waive-<rule>: <reason>`, and checkov's `checkov.io/skipN:
    CHECK=<reason>` for a check a rule mirrors (contracts.rules.CHECKOV_EQUIVALENT); one without a reason or
    naming no rule is itself an error, so a waiver is always deliberate and explained."""
    waivers, problems = [], []
    for o in m.objects:
        for key, value in o.annotations.items():
            if key.startswith(CHECKOV_SKIP_PREFIX):
                check, _, reason = str(value).partition("=")
                rule_id = CHECKOV_EQUIVALENT.get(check.strip())
                if rule_id and not reason.strip():
                    problems.append(
                        Finding(
                            WAIVER_RULE.id,
                            "error",
                            o.ref,
                            ("metadata", "annotations", key),
                            f"waiver of {rule_id} (checkov {check.strip()}) gives no reason",
                            f"write it as {check.strip()}=<why the check does not apply>",
                        )
                    )
                elif rule_id:
                    waivers.append(Waiver(rule_id, o.ref, reason.strip()))
                continue
            if not key.startswith(WAIVER_PREFIX):
                continue
            reason = value
            rule_id = key[len(WAIVER_PREFIX) :]
            if rule_id not in RULES:
                problems.append(
                    Finding(
                        WAIVER_RULE.id,
                        "error",
                        o.ref,
                        ("metadata", "annotations", key),
                        f"waiver for unknown rule {rule_id!r}",
                        f"use one of: {', '.join(RULES)}",
                    )
                )
            elif not str(reason).strip():
                problems.append(
                    Finding(
                        WAIVER_RULE.id,
                        "error",
                        o.ref,
                        ("metadata", "annotations", key),
                        f"waiver of {rule_id} gives no reason",
                        "say why the rule does not apply",
                    )
                )
            else:
                waivers.append(Waiver(rule_id, o.ref, str(reason).strip()))
    return waivers, problems


def evaluate(m: Manifests) -> PolicyReport:
    waivers, problems = waivers_of(m)
    by_key = {(w.rule, w.object): w for w in waivers}
    report = PolicyReport(waivers=waivers, objects=len(m.objects), rules=[*RULES.values(), WAIVER_RULE])
    for r in RULES.values():
        for f in r.check(m):
            waiver = by_key.get((f.rule, f.object))
            if waiver:
                report.waived.append((f, waiver))
            else:
                report.findings.append(f)
    report.findings.extend(problems)
    return report
