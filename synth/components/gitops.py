"""The Argo CD Application that syncs dist/ (applied once by hand; not part of its own kustomization)."""
from __future__ import annotations

from constructs import Construct

from synth.components.custom import custom_resource
from synth.naming import Names


def application(scope: Construct, names: Names) -> None:
    spec, g = names.spec, names.spec.gitops
    custom_resource(
        scope, "application", "argoproj.io/v1alpha1", "Application",
        {"name": names.application, "namespace": g.argocd_namespace, "labels": names.labels("gitops")},
        {
            "project": g.project,
            "source": {"repoURL": g.repo_url, "path": g.path, "targetRevision": g.target_revision},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": spec.namespace},
            # What the API server adds to volumeClaimTemplates on its own (Argo CD #4126, #11143, #16707).
            "ignoreDifferences": [{
                "group": "apps", "kind": "StatefulSet", "name": names.statefulset,
                "jqPathExpressions": [".spec.volumeClaimTemplates[]?.status",
                                      ".spec.volumeClaimTemplates[]?.metadata.creationTimestamp"],
            }],
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}},
            },
        },
    )
