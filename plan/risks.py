"""What a change puts at risk in the data the broker holds: queued tasks, volumes, snapshots."""

from __future__ import annotations

from redis_gitops.contracts.engines import rdb_format
from redis_gitops.plan.facts import BrokerFacts
from redis_gitops.plan.model import Action, Finding, ObjectChange, Verdict


def identity(base: BrokerFacts, head: BrokerFacts) -> list[Finding]:
    if not base.statefulset or (base.statefulset, base.namespace) == (head.statefulset, head.namespace):
        return []
    return [
        Finding(
            "namespace-or-name",
            f"StatefulSet/{base.statefulset}",
            f"{base.namespace}/{base.statefulset} -> {head.namespace}/{head.statefulset}",
            Verdict.DISRUPTIVE,
            "a brand-new, empty broker is created; with prune on (as rendered for Argo CD and Flux) the running "
            "one is deleted with every task queued in it (its volumes stay: the claims are retained)",
            "Run both side by side: render the new one under its own Application (or keep the old objects out "
            "of the prune), deploy Airflow pointing at the new broker, wait until the old queues are empty "
            "(LLEN 0 on each), then remove the old broker.",
            data_loss_risk=True,
        )
    ]


def persistence(base: BrokerFacts, head: BrokerFacts) -> list[Finding]:
    off = [
        what
        for what, a, b in (("appendonly", base.appendonly, head.appendonly), ("save", base.rdb_save, head.rdb_save))
        if a and not b
    ]
    if not off:
        return []
    return [
        Finding(
            "persistence-off",
            "persistence",
            ", ".join(f"{w} off" for w in off),
            Verdict.DISRUPTIVE,
            "after the roll a pod that restarts loses "
            + ("every write since its last snapshot" if "appendonly" in off else "its data unless the AOF has it"),
            "Keep AOF on for a broker (the gate's persistence-aof rule); acknowledge only for a cache you can lose.",
            data_loss_risk=True,
        )
    ]


def replicas_down(base: BrokerFacts, head: BrokerFacts) -> list[Finding]:
    if not base.statefulset or head.replicas >= base.replicas or base.statefulset != head.statefulset:
        return []
    gone = [f"{head.statefulset}-{o}" for o in range(head.replicas, base.replicas)]
    return [
        Finding(
            "replicas-down",
            f"StatefulSet/{head.statefulset}",
            f"replicas {base.replicas} -> {head.replicas}",
            Verdict.DISRUPTIVE,
            f"{', '.join(gone)} are deleted (their volumes stay, unused, as the claims are retained); each "
            "remaining Sentinel counts the removed ones until its pod is replaced (its start keeps only the peers "
            "the new template lists), so until the roll ends a failover may lack the votes (see quorum)",
            "Let the roll finish before any other disruption; then check that each Sentinel counts only the "
            f"others (`SENTINEL MASTER <master>`: num-other-sentinels {head.replicas - 1}; `SENTINEL RESET "
            "<master>` on one that does not, one at a time), and delete the unused claims when their data is "
            "no longer needed.",
        )
    ]


def engine(base: BrokerFacts, head: BrokerFacts) -> list[Finding]:
    """A change of engine or version: rolling when the new servers read the running data's RDB format (the
    hand-over keeps the master on an old pod while an old replica runs); refused when they cannot."""
    if (base.engine, base.version) == (head.engine, head.version) or base.version is None:
        return []
    old, new = rdb_format(base.engine, base.version), rdb_format(head.engine, head.version)
    if old is not None and new is not None and new >= old:
        return []
    label = f"{base.image} -> {head.image}"
    procedure = (
        "Never go to an older RDB format on running data: a backup cannot be restored there either (the target "
        "cannot read the snapshot). To move anyway: a new broker on the target version (another name), Airflow "
        "deployed against it, the old one removed once its queues are empty (`LLEN` 0, KEDA's trigger reads it)."
    )
    if old is None or new is None:
        unknown = base.image if old is None else head.image
        return [
            Finding(
                "engine-version",
                "redis.image",
                label,
                Verdict.DISRUPTIVE,
                f"the RDB format of {unknown} is not known here (contracts/engines.py): whether the new servers "
                "can load the running data is not known",
                procedure,
                data_loss_risk=True,
            )
        ]
    return [
        Finding(
            "engine-version",
            "redis.image",
            label,
            Verdict.REFUSED,
            f"{head.image} reads RDB up to format {new}, the running data is format {old}: the first replaced pod "
            "(a replica) cannot load the master's snapshot, so it never syncs, and a pod restarted from its own "
            "files cannot load them",
            procedure,
            data_loss_risk=True,
        )
    ]


def pruned(objects: list[ObjectChange]) -> list[Finding]:
    out = []
    for o in objects:
        if o.action == Action.REMOVED and o.kind == "PersistentVolumeClaim":
            out.append(
                Finding(
                    "backup-removed",
                    f"PersistentVolumeClaim/{o.name}",
                    "removed",
                    Verdict.DISRUPTIVE,
                    "pruned: the claim is deleted and, with the usual Delete reclaim policy, its volume and every "
                    "snapshot on it",
                    "Copy the snapshots you want to keep first (the S3 copy, backup.s3, if it was on), or keep the "
                    "claim out of the prune (`argocd.argoproj.io/sync-options: Prune=false`).",
                    data_loss_risk=True,
                )
            )
    return out
