"""What syncs dist/, applied once by hand and not part of dist/'s own kustomization: the Argo CD Application,
or for Flux a GitRepository and a Kustomization."""

from __future__ import annotations

from constructs import Construct

from redis_gitops.synth.components.custom import custom_resource
from redis_gitops.synth.naming import Names


def application(scope: Construct, names: Names) -> None:
    g = names.spec.gitops
    custom_resource(
        scope,
        "argoproj.io/v1alpha1",
        "Application",
        {"name": names.application, "namespace": g.argocd_namespace, "labels": names.labels("gitops")},
        {
            "project": g.project,
            "source": {"repoURL": g.repo_url, "path": names.synced_path, "targetRevision": g.target_revision},
            "destination": _destination(names),
            # What the API server adds to volumeClaimTemplates on its own (Argo CD #4126, #11143, #16707).
            "ignoreDifferences": [
                {
                    "group": "apps",
                    "kind": "StatefulSet",
                    "name": names.statefulset,
                    "jqPathExpressions": [
                        ".spec.volumeClaimTemplates[]?.status",
                        ".spec.volumeClaimTemplates[]?.metadata.creationTimestamp",
                    ],
                }
            ],
            "syncPolicy": {
                **({"automated": {"prune": True, "selfHeal": True}} if g.automated else {}),
                **({"syncOptions": list(g.sync_options)} if g.sync_options else {}),
                "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}},
            },
        },
    )


def _destination(names: Names) -> dict[str, str]:
    d = names.spec.gitops.destination
    where = {"name": d.name} if d.name else {"server": d.server}
    return {**where, "namespace": names.spec.namespace}


# Flux checks the repository and re-applies dist/ this often (and heals drift on the same beat).
FLUX_INTERVAL = "1m"


def flux(scope: Construct, names: Names) -> None:
    """Flux's equivalent of the Application. Under Flux the smoke Job is no hook: it runs when applied and
    waits for the broker itself (smoke.waitSeconds); `force` recreates it when its (immutable) spec changes,
    and `wait` makes the Kustomization report the broker's health."""
    g = names.spec.gitops
    metadata = {"name": names.application, "namespace": g.flux_namespace, "labels": names.labels("gitops")}
    custom_resource(
        scope,
        "source.toolkit.fluxcd.io/v1",
        "GitRepository",
        metadata,
        {"interval": FLUX_INTERVAL, "url": g.repo_url, "ref": {"branch": g.target_revision}},
    )
    custom_resource(
        scope,
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        metadata,
        {
            "interval": FLUX_INTERVAL,
            "sourceRef": {"kind": "GitRepository", "name": names.application},
            "path": f"./{names.synced_path}",
            "prune": True,
            "force": True,
            "wait": True,
            "timeout": "10m",
            **(
                {"kubeConfig": {"secretRef": {"name": g.destination.kube_config_secret}}}
                if g.destination.kube_config_secret
                else {}
            ),
        },
    )
