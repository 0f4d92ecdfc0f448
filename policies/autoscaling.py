"""Autoscaling: KEDA's triggers read the queues of this broker, through its Sentinels, with Secret references."""

from __future__ import annotations

import fnmatch

from redis_gitops.contracts.paths import AIRFLOW_ACL_FILE
from redis_gitops.policies.manifests import Manifests
from redis_gitops.policies.model import Family, Hit, rule
from redis_gitops.policies.quorum import monitors, sentinel_workloads

SECRET_PARAMETERS = ("password", "sentinelPassword")


def sentinel_triggers(m: Manifests):
    """(ScaledObject, trigger index, trigger metadata) of every redis-sentinel trigger."""
    for so in m.of_kind("ScaledObject"):
        for i, trigger in enumerate((so.doc.get("spec") or {}).get("triggers") or []):
            if trigger.get("type") == "redis-sentinel":
                yield so, i, trigger.get("metadata") or {}


def expected_sentinels(m: Manifests) -> set[str] | None:
    """host:port of every Sentinel pod, as `<pod>.<serviceName>.<namespace>.svc.` + cluster domain."""
    ports = {p for conf in m.conf_files("sentinel.conf") for p in conf.ports()}
    headless = {o.ref.name for o in m.of_kind("Service") if (o.doc.get("spec") or {}).get("clusterIP") == "None"}
    out = set()
    for t, n in sentinel_workloads(m):
        sts = t.owner
        service = (sts.doc.get("spec") or {}).get("serviceName")
        if service not in headless:
            return None  # no stable pod names at all: api-statefulset-service reports that
        out |= {f"{sts.ref.name}-{i}.{service}.{sts.ref.namespace}.svc.:{p}" for i in range(n) for p in ports}
    return out or None


@rule(
    "keda-trigger-sentinels",
    Family.BROKER,
    "KEDA's redis-sentinel triggers name only Sentinel pods of this broker, and its master name.",
)
def trigger_sentinels(m: Manifests):
    expected = expected_sentinels(m)
    names = {name for _, _, name, _ in monitors(m)}
    for so, i, meta in sentinel_triggers(m):
        given = set()
        for address in str(meta.get("addresses", "")).split(","):
            host, _, port = address.strip().rpartition(":")
            given.add(host.split(".svc.")[0] + ".svc.:" + port if ".svc." in host else address.strip())
        if expected is not None and not given <= expected:
            yield Hit(
                so.ref,
                ("spec", "triggers", i, "metadata", "addresses"),
                f"the trigger reads {', '.join(sorted(given))}, not this broker's Sentinels "
                f"({', '.join(sorted(expected))}): KEDA would scale on another queue or on nothing",
                "regenerate dist/ from the spec (make synth)",
            )
        if names and meta.get("sentinelMaster") not in names:
            yield Hit(
                so.ref,
                ("spec", "triggers", i, "metadata", "sentinelMaster"),
                f"sentinelMaster {meta.get('sentinelMaster')!r} is not the name the Sentinels monitor "
                f"({', '.join(sorted(names))}): KEDA finds no master",
                "regenerate dist/ from the spec (make synth)",
            )


@rule("keda-trigger-queues", Family.BROKER, "KEDA's list names are queues Airflow's ACL user may use.")
def trigger_queues(m: Manifests):
    patterns = []
    for cm in m.of_kind("ConfigMap"):
        acl = (cm.doc.get("data") or {}).get(AIRFLOW_ACL_FILE)
        if acl:
            patterns += [w[1:] for w in str(acl).split() if w.startswith("~")]
    if not patterns:
        return
    for so, i, meta in sentinel_triggers(m):
        name = str(meta.get("listName", ""))
        if not any(fnmatch.fnmatchcase(name, p) for p in patterns):
            yield Hit(
                so.ref,
                ("spec", "triggers", i, "metadata", "listName"),
                f"listName {name!r} is none of Airflow's queues (the ACL user's keys: {', '.join(patterns)}): "
                "KEDA would watch a list no worker consumes",
                "list the queue in airflow.queues in the spec",
            )


@rule("keda-secret-refs", Family.AUTH, "KEDA gets passwords only from Secret references, never in a trigger.")
def trigger_secrets(m: Manifests):
    for so, i, meta in sentinel_triggers(m):
        for key in SECRET_PARAMETERS:
            if key in meta:
                yield Hit(
                    so.ref,
                    ("spec", "triggers", i, "metadata", key),
                    f"a literal {key} in the trigger is committed to git",
                    "reference the Secret from a TriggerAuthentication (secretTargetRef)",
                )
    for ta in m.of_kind("TriggerAuthentication", "ClusterTriggerAuthentication"):
        for j, ref in enumerate((ta.doc.get("spec") or {}).get("configMapTargetRef") or []):
            if "password" in str(ref.get("parameter", "")).lower():
                yield Hit(
                    ta.ref,
                    ("spec", "configMapTargetRef", j),
                    "a password read from a ConfigMap is stored unencrypted and usually committed",
                    "use secretTargetRef for passwords",
                )
