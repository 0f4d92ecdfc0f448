"""Which pods a change replaces, in the StatefulSet controller's order, and what that costs the broker.

`predict_roll` is the one prediction: the plan prints it, and `local apply` (which rolls a local cluster the
same way) is held equal to it.
"""

from __future__ import annotations

from redis_gitops.plan.measured import HandOverPause
from redis_gitops.plan.model import QuorumStep, Roll
from redis_gitops.plan.objects import Rendered, differences

CHECKSUM = "spec.template.metadata.annotations.redis-gitops/config-checksum"


def _why(fields: list[str]) -> tuple[str, ...]:
    """The template's changed paths, the config checksum named for what it stands for."""
    return tuple("the config ConfigMap (its checksum in the pod template)" if f == CHECKSUM else f for f in fields)


def _pod(statefulset: str, ordinal: int) -> str:
    return f"{statefulset}-{ordinal}"


def _majority(known: int) -> int:
    return known // 2 + 1


def quorum_steps(
    statefulset: str,
    rolled: list[int],
    created: list[int],
    deleted: list[int],
    base: tuple[int, int],
    head: tuple[int, int],
) -> tuple[QuorumStep, ...]:
    """Each step's Sentinels: up, known, and whether a failover could still be agreed (quorum) and authorised
    (a majority of the Sentinels its leader knows). A Sentinel not yet replaced knows every pod it has seen
    (the removed ones too); a replaced one only the new template's pods."""
    (base_pods, base_quorum), (head_pods, head_quorum) = base, head
    known = max(base_pods, head_pods)
    steps, up = [], base_pods + len(created)
    if created:
        steps.append(_step(f"create {', '.join(_pod(statefulset, o) for o in created)}", up, known, base_quorum))
    if deleted:
        up -= len(deleted)
        steps.append(_step(f"delete {', '.join(_pod(statefulset, o) for o in deleted)}", up, known, base_quorum))
    for done, ordinal in enumerate(rolled):
        step = _step(f"replace {_pod(statefulset, ordinal)}", up - 1, known, base_quorum)
        if not step.ok and done:  # a Sentinel already replaced (and up) may lead, with the new configuration
            replaced = _step(step.step, up - 1, head_pods, head_quorum)
            step = replaced if replaced.ok else step
        steps.append(step)
    return tuple(steps)


def _step(what: str, up: int, known: int, quorum: int) -> QuorumStep:
    return QuorumStep(what, up, known, quorum, up >= quorum and up >= _majority(known))


def predict_roll(
    base: Rendered | None, head: Rendered | None, pause: HandOverPause, quorum: tuple[int, int]
) -> Roll | None:
    """A StatefulSet's roll from `base` to `head` (None: absent on that side), or None when no pod changes.

    A template change replaces every pod that stays, highest ordinal first, each after the previous is Ready;
    a replicas change creates or deletes the pods above the smaller count (Parallel: all at once). The master's
    pod hands over in its preStop, to a replica already replaced (one above it) or else to the lowest, which is
    replaced last (prestop-redis.sh's not_preferred): once, or twice when the master is on the highest pod (or on
    a deleted one) and must first go to pod 0."""
    if base is None or head is None:
        return None
    name = head.name
    base_pods, head_pods = int(base.at("spec", "replicas") or 1), int(head.at("spec", "replicas") or 1)
    why = _why(differences(base.at("spec", "template"), head.at("spec", "template"), "spec.template"))
    kept = min(base_pods, head_pods)
    rolled = list(range(kept - 1, -1, -1)) if why else []
    created = list(range(base_pods, head_pods))
    deleted = list(range(head_pods, base_pods))[::-1]
    if not (rolled or created or deleted):
        return None
    # A deleted pod may hold the master (it hands over in its preStop too, to pod 0); a replaced one, at its turn.
    handovers = min(2, len(rolled) + (1 if deleted else 0))
    best = 1 if rolled else 0
    return Roll(
        workload=f"StatefulSet/{name}",
        pods=tuple(_pod(name, o) for o in rolled),
        created=tuple(_pod(name, o) for o in created),
        deleted=tuple(_pod(name, o) for o in deleted),
        handovers=handovers,
        handovers_best=best,
        write_pause_s=round(handovers * pause.max_s, 2),
        write_pause_best_s=round(best * pause.median_s, 2),
        why=why,
        quorum=quorum_steps(name, rolled, created, deleted, (base_pods, quorum[0]), (head_pods, quorum[1])),
    )
