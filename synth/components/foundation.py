"""Namespace, ServiceAccount and the ConfigMaps the pods read their config and scripts from."""

from __future__ import annotations

from cdk8s_plus_33 import k8s
from constructs import Construct

from redis_gitops.contracts import pod_scripts
from redis_gitops.synth.components.common import WAVE_FOUNDATION, meta, meta_fields
from redis_gitops.synth.naming import Names
from redis_gitops.synth.redis_config import config_files


def namespace(scope: Construct, names: Names) -> None:
    """Airflow's namespace, shared with Airflow: Argo CD creates it if missing but never prunes or deletes it
    (deleting the Application, or dropping the object from dist/, must not take Airflow down with it)."""
    spec = names.spec
    version = f"v{spec.kubernetes_version}"
    levels = {"warn": "restricted", "audit": "restricted", "enforce": spec.security.pod_security_enforce}
    psa = {f"pod-security.kubernetes.io/{mode}": level for mode, level in levels.items()}
    psa.update({f"pod-security.kubernetes.io/{mode}-version": version for mode in levels})
    k8s.KubeNamespace(
        scope,
        "namespace",
        metadata=k8s.ObjectMeta(
            **meta_fields(
                names,
                spec.namespace,
                "namespace",
                WAVE_FOUNDATION,
                namespaced=False,
                labels=psa,
                annotations={"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"},
            )
        ),
    )


def foundation(scope: Construct, names: Names) -> None:
    k8s.KubeServiceAccount(
        scope,
        "service-account",
        metadata=meta(names, names.service_account, "server", WAVE_FOUNDATION),
        automount_service_account_token=False,  # Redis never talks to the API server
    )
    k8s.KubeConfigMap(
        scope,
        "config",
        metadata=meta(names, names.config_map, "config", WAVE_FOUNDATION),
        data=config_files(names.spec),
    )
    k8s.KubeConfigMap(
        scope,
        "scripts",
        metadata=meta(names, names.scripts_config_map, "config", WAVE_FOUNDATION),
        data={name: pod_scripts.text(name) for name in pod_scripts.NAMES},
    )
