"""Password rotations, read from the Redis container's Secret files: which key every sender uses (`<file>`) and
which the servers accept (`<file>` and, during a rotation, `<file>.also`). During a roll, pods of both templates
talk to each other and clients reach either, so a change is safe only when each side's sent password is
accepted by the other side: the three-step rotation (docs/operate/rotation.md) is, a one-step switch is not."""

from __future__ import annotations

from collections.abc import Mapping

from redis_gitops.contracts.paths import ALSO_ACCEPTED_SUFFIX, SECRETS_DIR
from redis_gitops.plan.model import ClientChange, Finding, Verdict
from redis_gitops.plan.objects import Key, Rendered

Password = tuple[str, frozenset[str]]  # the key sent, the keys accepted (each "secret/key")


def passwords(objects: Mapping[Key, Rendered]) -> dict[str, Password]:
    """Password file -> (sent, accepted), from the broker's Redis container (it mounts every password)."""
    for obj in objects.values():
        if obj.kind != "StatefulSet":
            continue
        pod = obj.at("spec", "template", "spec") or {}
        redis = next((c for c in pod.get("containers") or [] if c.get("name") == "redis"), None)
        if redis is None:
            continue
        volume = next((m["name"] for m in redis.get("volumeMounts") or [] if m.get("mountPath") == SECRETS_DIR), None)
        sources = next(
            ((v.get("projected") or {}).get("sources") or [] for v in pod.get("volumes") or [] if v["name"] == volume),
            [],
        )
        keys = {
            item["path"]: f"{(s.get('secret') or {}).get('name')}/{item['key']}"
            for s in sources
            for item in (s.get("secret") or {}).get("items") or []
        }
        return {
            path: (key, frozenset({key, keys.get(path + ALSO_ACCEPTED_SUFFIX, key)}))
            for path, key in keys.items()
            if not path.endswith(ALSO_ACCEPTED_SUFFIX)
        }
    return {}


def review(base: Mapping[str, Password], head: Mapping[str, Password]) -> tuple[list[ClientChange], list[Finding]]:
    """A step of a rotation (what it does, what comes next) per password, or a finding for an unsafe switch."""
    steps, findings = [], []
    for path in sorted(set(base) & set(head)):
        (sent_b, accepted_b), (sent_h, accepted_h) = base[path], head[path]
        if (sent_b, accepted_b) == (sent_h, accepted_h):
            continue
        if sent_b not in accepted_h or sent_h not in accepted_b:
            findings.append(_switch(path, sent_b, accepted_b, sent_h, accepted_h))
            continue
        new = _key(next(iter(accepted_h - {sent_h}), sent_h))
        if sent_b == sent_h and accepted_h > accepted_b:
            what = f"step 1 of 3: the servers accept `{new}` beside `{_key(sent_h)}`, which everything still sends"
            order = f"next commit: `key: {new}`, `alsoAccept: {_key(sent_h)}`, once every pod is replaced"
        elif sent_b != sent_h:
            what = f"step 2 of 3: everything of the broker sends `{_key(sent_h)}`; both are still accepted"
            order = (
                "after the broker: deploy Airflow with dist/airflow/helm-values.yaml (its pods read the new key); "
                "next commit: remove `alsoAccept`, once Airflow's pods have all restarted"
            )
        else:
            dropped = ", ".join(sorted(_key(k) for k in accepted_b - accepted_h))
            what = f"step 3 of 3: only `{_key(sent_h)}` is accepted"
            order = (
                "before the merge: Airflow runs with the new key already (step 2's deploy); once every pod is "
                f"replaced, delete `{dropped}` from the Secret"
            )
        steps.append(ClientChange(f"password {path}", (what,), order))
    return steps, findings


def _key(ref: str) -> str:
    return ref.split("/", 1)[1]


def _switch(path: str, sent_b: str, accepted_b: frozenset, sent_h: str, accepted_h: frozenset) -> Finding:
    return Finding(
        "password-switch",
        f"password {path}",
        f"sent {_key(sent_b)} -> {_key(sent_h)}, accepted {sorted(map(_key, accepted_b))} -> "
        f"{sorted(map(_key, accepted_h))}",
        Verdict.DISRUPTIVE,
        "during the roll, pods not yet replaced and the replaced ones refuse each other's password: replication, "
        "the Sentinels and every client (Airflow's publishes among them) get WRONGPASS until the last pod is "
        "replaced; Airflow marks the tasks it cannot publish as failed",
        f"Rotate in three commits, each after the previous roll: (1) `alsoAccept: <new key>`; (2) `key: <new key>`, "
        f"`alsoAccept: {_key(sent_b)}`, then deploy Airflow; (3) remove `alsoAccept` (docs/operate/rotation.md).",
    )
