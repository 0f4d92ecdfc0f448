"""The plan's vocabulary: typed findings, one verdict, and the JSON the docs describe and the tests hold."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Verdict(StrEnum):
    """In rising order of what a reviewer must do; a plan's verdict is the highest of its findings."""

    NO_OP = "no-op"
    IN_PLACE = "in-place"
    ROLLING = "rolling"
    DISRUPTIVE = "disruptive"
    REFUSED = "refused"

    @property
    def rank(self) -> int:
        return list(Verdict).index(self)


class Action(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"  # pruned by Argo CD / Flux
    REPLACED = "replaced"  # deleted and created again (an Argo CD hook, or a Flux force-apply)


@dataclass(frozen=True)
class ObjectChange:
    kind: str
    name: str
    namespace: str | None
    action: Action
    file: str
    fields: tuple[str, ...] = ()  # the changed paths, e.g. spec.template.spec.containers[redis].image
    note: str = ""  # what it does, e.g. what a prune deletes


@dataclass(frozen=True)
class QuorumStep:
    step: str
    sentinels_up: int
    sentinels_known: int
    quorum: int
    ok: bool  # a failover can still be both agreed (quorum) and authorised (a majority of the known Sentinels)


@dataclass(frozen=True)
class Roll:
    """A StatefulSet's pods replaced one at a time (or created, or deleted), as its controller does it."""

    workload: str
    pods: tuple[str, ...]  # replaced, in the controller's order: highest ordinal first, each after the last is Ready
    created: tuple[str, ...]
    deleted: tuple[str, ...]
    handovers: int  # at most, with the master anywhere
    handovers_best: int  # with the master on the lowest ordinal, where it starts
    write_pause_s: float  # at most: handovers x the longest measured hand-over pause
    write_pause_best_s: float  # handovers_best x the median measured pause
    why: tuple[str, ...]  # the pod template's changed fields
    quorum: tuple[QuorumStep, ...]


@dataclass(frozen=True)
class Finding:
    """A change the gate stops at unless acknowledged (contracts/transitions.py names the codes)."""

    code: str
    object: str  # Kind/name, or the spec field
    field: str
    verdict: Verdict  # refused (Kubernetes or the data refuses it) or disruptive (clients cut off, data at risk)
    what: str  # what Kubernetes, Argo CD / Flux and the broker do
    procedure: str  # the safe way, with what it costs
    data_loss_risk: bool = False
    acknowledged: str = ""  # the spec's reason, when policy.acknowledge names this code


@dataclass(frozen=True)
class ClientChange:
    client: str  # airflow, keda, exporter, smoke
    changes: tuple[str, ...]
    order: str  # with respect to the broker's own change
    disruptive: bool = False


@dataclass
class Plan:
    verdict: Verdict
    objects: list[ObjectChange] = field(default_factory=list)
    rolls: list[Roll] = field(default_factory=list)
    not_rolled: list[str] = field(default_factory=list)  # changed, but no running process reads it until a restart
    immutable: list[Finding] = field(default_factory=list)
    risks: list[Finding] = field(default_factory=list)
    clients: list[ClientChange] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    diff: str = ""

    @property
    def data_loss_risk(self) -> bool:
        return any(f.data_loss_risk for f in (*self.immutable, *self.risks))

    @property
    def findings(self) -> list[Finding]:
        return [*self.immutable, *self.risks]

    @property
    def unacknowledged(self) -> list[Finding]:
        return [f for f in self.findings if not f.acknowledged]

    def as_json(self) -> dict:
        """docs/review/plan.md describes each key; tests/test_plan.py holds them."""
        return {
            "verdict": str(self.verdict),
            "data_loss_risk": self.data_loss_risk,
            "reasons": self.reasons,
            "objects": [_plain(asdict(o)) for o in self.objects],
            "rolls": [_plain(asdict(r)) for r in self.rolls],
            "not_rolled": self.not_rolled,
            "immutable": [_finding(f) for f in self.immutable],
            "risks": [_finding(f) for f in self.risks],
            "clients": [_plain(asdict(c)) for c in self.clients],
        }


def _finding(f: Finding) -> dict:
    out = _plain(asdict(f))
    out["procedure"] = f.procedure
    return out


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, StrEnum):
        return str(value)
    return value
