"""Secret keys a change makes pods read for the first time. Secrets are not in git, so the gate cannot see
whether the cluster's Secret holds them: a pod whose key is missing does not start, and a roll stops there."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from redis_gitops.plan.facts import BrokerFacts
from redis_gitops.plan.model import Finding, Verdict
from redis_gitops.plan.objects import Key, Rendered

POD_SPEC = {
    "StatefulSet": ("spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def needed(objects: Mapping[Key, Rendered], facts: BrokerFacts) -> dict[tuple[str, str], str]:
    """(Secret, key) -> who reads it: mounted items, env references, KEDA's TriggerAuthentication and the Airflow
    values; a Secret mounted whole or marked optional names no key a pod depends on, and cert-manager makes the
    Secret of a rendered Certificate."""
    out: dict[tuple[str, str], list[str]] = {}
    made = {_in(o, o.at("spec", "secretName") or "") for o in objects.values() if o.kind == "Certificate"}
    for obj in objects.values():
        path = POD_SPEC.get(obj.kind)
        if path:
            for secret, key in _pod_keys(obj.at(*path) or {}):
                out.setdefault((_in(obj, secret), key), []).append(f"{obj.kind}/{obj.name}")
        if obj.kind == "TriggerAuthentication":
            for ref in obj.at("spec", "secretTargetRef") or []:
                key = (_in(obj, ref.get("name", "")), ref.get("key", ""))
                out.setdefault(key, []).append(f"{obj.kind}/{obj.name}")
    for option, keys in facts.airflow.items():
        if option.startswith("secret "):
            for key in filter(None, keys.split(",")):
                # The values name the broker's own Secrets: Airflow is deployed beside the broker.
                secret = option.removeprefix("secret ")
                where = f"{facts.namespace}/{secret}" if facts.namespace else secret
                out.setdefault((where, key), []).append("Airflow's pods (dist/airflow/helm-values.yaml)")
    return {k: ", ".join(sorted(set(who))) for k, who in out.items() if k[0] not in made}


def _in(obj: Rendered, secret: str) -> str:
    """A Secret is its namespace's: the same name elsewhere is another Secret."""
    return f"{obj.namespace}/{secret}" if obj.namespace else secret


def _pod_keys(pod: dict) -> Iterator[tuple[str, str]]:
    for volume in pod.get("volumes") or []:
        whole = volume.get("secret")
        sources = [{"secret": {**whole, "name": whole.get("secretName", "")}}] if whole else []
        sources += (volume.get("projected") or {}).get("sources") or []
        for source in sources:
            secret = source.get("secret") or {}
            if not secret.get("optional"):
                yield from ((secret.get("name", ""), item["key"]) for item in secret.get("items") or [])
    for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref and not ref.get("optional"):
                yield ref.get("name", ""), ref.get("key", "")


def findings(base: Mapping[tuple[str, str], str], head: Mapping[tuple[str, str], str]) -> list[Finding]:
    added = sorted(set(head) - set(base))
    if not added or not base:  # a first rendering: every key is new, and the README's setup creates them
        return []
    return [
        Finding(
            "secret-key-added",
            f"Secret/{secret}",
            key,
            Verdict.DISRUPTIVE,
            f"{head[(secret, key)]} now read(s) key `{key}` of Secret `{secret}`, which no pod read before; "
            "Secrets are not in git, so the gate cannot see whether the cluster's Secret has it: a pod whose key "
            "is missing does not start (the kubelet cannot mount it), so the roll stops at its first pod and the "
            "broker runs one pod short",
            f"Add `{key}` to Secret `{secret}` in every cluster this syncs to (kubectl, or your secret store), "
            "then merge with this change acknowledged.",
        )
        for secret, key in added
    ]
