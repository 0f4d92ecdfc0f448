"""Findings, rules and waivers: the vocabulary every rule module and report format shares."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from contracts.rules import RULE_IDS

Severity = Literal["error", "warning"]


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
class Waiver:
    rule: str
    object: ObjectRef
    reason: str


@dataclass(frozen=True)
class Rule:
    id: str
    family: str
    severity: Severity
    summary: str
    check: Callable[..., Iterator[Finding]] = field(compare=False, repr=False)


RULES: dict[str, Rule] = {}


def rule(id: str, family: str, summary: str, severity: Severity = "error"):
    """Register a check: a generator of (object, path, message, fix[, text_line]) over a Manifests."""
    if id not in RULE_IDS:
        raise ValueError(f"rule {id!r} is not in contracts.rules.RULE_IDS: add it there (the spec checks waivers "
                         "against that list)")

    def register(fn):
        def check(manifests) -> Iterator[Finding]:
            for ref, path, message, fix, *line in fn(manifests):
                yield Finding(id, severity, ref, tuple(path), message, fix, line[0] if line else None)

        RULES[id] = Rule(id, family, severity, summary, check)
        return fn
    return register
