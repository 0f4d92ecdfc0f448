"""Changes the API server refuses on a live object, what Argo CD and Flux then do, and the safe procedure.

Kubernetes lets a StatefulSet change only replicas, template, updateStrategy, persistentVolumeClaimRetentionPolicy,
minReadySeconds and ordinals; a Job's template and selector never; a PVC may only grow (where its StorageClass
allows expansion); a Service keeps its clusterIP.
"""

from __future__ import annotations

from redis_gitops.contracts.quantity import memory_bytes
from redis_gitops.plan.model import Finding, Verdict
from redis_gitops.plan.objects import Rendered

STATEFULSET_MUTABLE = (
    "replicas",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
    "ordinals",
)
ARGO_HOOK = "argocd.argoproj.io/hook"

REFUSED_SYNC = (
    "the API server refuses the update: an Argo CD sync fails (and may still show Synced, argo-cd#28722) until "
    "the object is recreated; Flux's Kustomization (force: true, as rendered) deletes and recreates it"
)


def is_hook(obj: Rendered) -> bool:
    """An Argo CD hook is deleted and created again on every sync (hook-delete-policy), never patched."""
    return ARGO_HOOK in obj.annotations


def _storage(obj: Rendered | dict | None) -> int | None:
    spec = obj.doc.get("spec") if isinstance(obj, Rendered) else (obj or {}).get("spec")
    size = (((spec or {}).get("resources") or {}).get("requests") or {}).get("storage")
    return memory_bytes(size) if size is not None else None


def _claims(obj: Rendered) -> dict:
    return {(c.get("metadata") or {}).get("name"): c for c in obj.at("spec", "volumeClaimTemplates") or []}


def statefulset(base: Rendered, head: Rendered, fields: list[str]) -> list[Finding]:
    refused = sorted(
        {f.split(".")[1] for f in fields if f.startswith("spec.") and f.split(".")[1] not in STATEFULSET_MUTABLE}
    )
    out = []
    name, pods = f"StatefulSet/{head.name}", int(head.at("spec", "replicas") or 1)
    if "volumeClaimTemplates" in refused:
        out.append(_volume_claims(base, head, name, pods))
    identity = [f for f in refused if f != "volumeClaimTemplates"]
    if identity:
        out.append(
            Finding(
                "statefulset-identity",
                name,
                ", ".join(f"spec.{f}" for f in identity),
                Verdict.REFUSED,
                f"{REFUSED_SYNC}: with Flux every pod is deleted at once (the broker is down until they are Ready)",
                "Keep the old value if you can. Otherwise: take a backup (`redis-gitops backup now`), then "
                f"`kubectl delete statefulset {head.name} --cascade=orphan` (the pods keep running, unowned), sync; "
                "the new StatefulSet adopts the pods only if its selector still matches their labels, and then "
                "rolls them one at a time (with hand-overs). A selector that no longer matches leaves the old pods "
                "running beside new ones of the same names, which cannot be created: delete the old pods one at a "
                "time, highest ordinal first, the master's last (its preStop hands over).",
            )
        )
    return out


def _volume_claims(base: Rendered, head: Rendered, name: str, pods: int) -> Finding:
    old, new = _claims(base), _claims(head)
    grown = [
        claim
        for claim in new
        if claim in old
        and (_storage(new[claim]) or 0) > (_storage(old[claim]) or 0)
        and {k: v for k, v in (new[claim].get("spec") or {}).items() if k != "resources"}
        == {k: v for k, v in (old[claim].get("spec") or {}).items() if k != "resources"}
    ]
    if grown and len(grown) == len(new) == len(old):
        size = {c: new[c]["spec"]["resources"]["requests"]["storage"] for c in grown}
        pvcs = " ".join(f"{c}-{head.name}-{o}" for c in grown for o in range(pods))
        return Finding(
            "volume-claim-template",
            name,
            "spec.volumeClaimTemplates (storage grown: " + ", ".join(f"{c} to {s}" for c, s in size.items()) + ")",
            Verdict.REFUSED,
            f"{REFUSED_SYNC}: with Flux every pod is deleted at once (the broker is down until they are Ready). "
            "The running volumes are not resized either way.",
            "Check first that the StorageClass allows it (`kubectl get storageclass <class> -o "
            "jsonpath='{.allowVolumeExpansion}'` is true); otherwise the size cannot grow in place: add a broker "
            "with the larger volumes and move the data (backup, restore). Then, before the sync: resize each claim "
            f'(`kubectl patch pvc <name> -p \'{{"spec":{{"resources":{{"requests":{{"storage":"..."}}}}}}}}\'` '
            f"for {pvcs}), wait until each shows the new capacity, then `kubectl delete statefulset {head.name} "
            "--cascade=orphan` (pods and volumes keep running) and sync: the new StatefulSet adopts the pods "
            "without restarting them. Nothing is lost; no hand-over.",
        )
    return Finding(
        "volume-claim-template",
        name,
        "spec.volumeClaimTemplates (size shrunk, class, access mode or claims changed)",
        Verdict.REFUSED,
        f"{REFUSED_SYNC}. Existing claims keep their size, class and mode: Kubernetes never shrinks a volume "
        "or changes its class.",
        "A new volume layout needs new volumes: take a backup, render the broker under a new name (or "
        "namespace) with the new layout beside the running one, restore the backup into it, switch Airflow "
        "to it (its workers drain the old queues first), then remove the old one. What is written between the "
        "backup and the switch stays in the old broker.",
        data_loss_risk=True,
    )


def job(base: Rendered, head: Rendered, fields: list[str]) -> list[Finding]:
    if is_hook(head) or not any(f.startswith(("spec.template", "spec.selector")) for f in fields):
        return []
    return [
        Finding(
            "job-template",
            f"Job/{head.name}",
            "spec.template",
            Verdict.REFUSED,
            REFUSED_SYNC,
            f"Delete the Job before the sync (`kubectl delete job {head.name}`), or let Argo CD replace it "
            "(`argocd.argoproj.io/sync-options: Replace=true` on it). A Job's run is history only: nothing is lost.",
        )
    ]


def claim(base: Rendered, head: Rendered, fields: list[str]) -> list[Finding]:
    old, new = _storage(base), _storage(head)
    changed = [f for f in fields if f.startswith("spec.") and not f.startswith("spec.resources")]
    shrunk = old is not None and new is not None and new < old
    if not changed and not shrunk:
        return []
    what = ", ".join(changed + (["spec.resources.requests.storage (smaller)"] if shrunk else []))
    return [
        Finding(
            "pvc-spec",
            f"PersistentVolumeClaim/{head.name}",
            what,
            Verdict.REFUSED,
            REFUSED_SYNC + "; with force, the claim and its volume's data are deleted",
            "Keep the claim as it is. A smaller or different volume is a new claim under a new name: copy what "
            "you need to it first (for the backup volume: the snapshots), then remove the old one.",
            data_loss_risk=True,
        )
    ]


def service(base: Rendered, head: Rendered, fields: list[str]) -> list[Finding]:
    if "spec.clusterIP" not in fields:
        return []
    return [
        Finding(
            "service-cluster-ip",
            f"Service/{head.name}",
            "spec.clusterIP",
            Verdict.REFUSED,
            REFUSED_SYNC + "; while it is recreated its DNS name does not resolve",
            f"Delete the Service right before the sync (`kubectl delete service {head.name}`): clients reach the "
            "broker again once the sync recreates it (seconds), and reconnect through Sentinel.",
        )
    ]


BY_KIND = {"StatefulSet": statefulset, "Job": job, "PersistentVolumeClaim": claim, "Service": service}


def findings(base: Rendered, head: Rendered, fields: list[str]) -> list[Finding]:
    check = BY_KIND.get(head.kind)
    return check(base, head, fields) if check else []
