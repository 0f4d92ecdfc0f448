"""Findings, rules and waivers: the vocabulary every rule module and report format shares."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from redis_gitops.contracts.rules import RULE_IDS

Severity = Literal["error", "warning"]


class Family(StrEnum):
    """The rule families, in report order: every report (table, JUnit suites, SARIF) lists each one."""

    QUORUM = "quorum"
    PERSISTENCE = "persistence"
    AUTH = "auth"
    RESOURCES = "resources"
    BROKER = "broker"
    SECURITY = "security"
    API_SERVER = "api-server"
    POLICY = "policy"


@dataclass(frozen=True)
class ObjectRef:
    file: str
    kind: str
    name: str
    namespace: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    object: ObjectRef
    path: tuple[str | int, ...]  # where in the object, as keys and list indexes
    message: str
    fix: str
    text_line: int | None = None  # for a directive inside a multi-line string (redis.conf): its line there

    @property
    def field(self) -> str:
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out + (f" line {self.text_line}" if self.text_line else "")


@dataclass(frozen=True)
class Hit:
    """What a rule's check yields: the object, where in it, what is wrong and how to fix it; for a directive
    inside a multi-line string (redis.conf), its line there."""

    object: ObjectRef
    path: tuple[str | int, ...]
    message: str
    fix: str
    text_line: int | None = None


@dataclass(frozen=True)
class Waiver:
    rule: str
    object: ObjectRef
    reason: str


@dataclass(frozen=True)
class Rule:
    id: str
    family: Family
    severity: Severity
    summary: str
    check: Callable[..., Iterator[Finding]] = field(compare=False, repr=False)


RULES: dict[str, Rule] = {}


def rule(id: str, family: Family, summary: str, severity: Severity = "error"):
    """Register a check: a generator of Hit over a Manifests."""
    if id not in RULE_IDS:
        raise ValueError(
            f"rule {id!r} is not in contracts.rules.RULE_IDS: add it there (the spec checks waivers against that list)"
        )
    if not isinstance(family, Family):
        raise TypeError(f"rule {id!r}: family {family!r} is not a Family (policies/model.py)")

    def register(fn):
        def check(manifests) -> Iterator[Finding]:
            for hit in fn(manifests):
                yield Finding(id, severity, hit.object, tuple(hit.path), hit.message, hit.fix, hit.text_line)

        RULES[id] = Rule(id, family, severity, summary, check)
        # Reports list rules in contracts.rules' order, whatever order their modules were imported in.
        ordered = sorted(RULES.items(), key=lambda item: RULE_IDS.index(item[0]))
        RULES.clear()
        RULES.update(ordered)
        return fn

    return register
