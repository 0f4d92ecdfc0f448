"""Names and labels of every object, derived from the spec in one place.

Selector labels are immutable once applied, so they are kept apart from descriptive labels (which may
carry versions and change freely) and never include a version.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis_gitops.synth.spec import ClusterSpec

MANAGED_BY = "redis-gitops"


@dataclass(frozen=True)
class Names:
    spec: ClusterSpec

    @property
    def base(self) -> str:
        return self.spec.name

    @property
    def statefulset(self) -> str:
        return self.base

    @property
    def headless_service(self) -> str:
        return f"{self.base}-headless"

    @property
    def sentinel_service(self) -> str:
        return f"{self.base}-sentinel"

    @property
    def service_account(self) -> str:
        return self.base

    @property
    def config_map(self) -> str:
        return f"{self.base}-config"

    @property
    def scripts_config_map(self) -> str:
        return f"{self.base}-scripts"

    @property
    def pdb(self) -> str:
        return self.base

    @property
    def network_policy(self) -> str:
        return self.base

    @property
    def service_monitor(self) -> str:
        return self.base

    @property
    def prometheus_rule(self) -> str:
        return self.base

    @property
    def dashboard_config_map(self) -> str:
        return f"{self.base}-dashboard"

    @property
    def application(self) -> str:
        """Unique among the environments one Argo CD or Flux serves (they may share a namespace elsewhere)."""
        place = f"{self.spec.namespace}-{self.base}"
        return f"{self.spec.environment}-{place}" if self.spec.environment else place

    @property
    def synced_path(self) -> str:
        """The folder Argo CD or Flux reads: gitops.path, and an environment's own folder under it."""
        path = self.spec.gitops.path
        return f"{path}/{self.spec.environment}" if self.spec.environment else path

    @property
    def smoke_job(self) -> str:
        return f"{self.base}-smoke"

    @property
    def airflow_workers(self) -> str:
        """The KEDA ScaledObject and TriggerAuthentication that scale Airflow's Celery workers."""
        return f"{self.base}-airflow-workers"

    @property
    def tls_secret(self) -> str:
        """The certificate Secret the pods mount (the Certificate's secretName when cert-manager fills it)."""
        return self.spec.tls.secret_name or f"{self.base}-tls"

    @property
    def certificate(self) -> str:
        return self.base

    @property
    def backup(self) -> str:
        return f"{self.base}-backup"

    @property
    def restore_job(self) -> str:
        return f"{self.base}-restore-{self.spec.restore.id}"

    @property
    def restore_selector_labels(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": "redis-restore", "app.kubernetes.io/instance": self.base}

    @property
    def backup_selector_labels(self) -> dict[str, str]:
        """Like the smoke Job's: never the server's selector."""
        return {"app.kubernetes.io/name": "redis-backup", "app.kubernetes.io/instance": self.base}

    @property
    def smoke_selector_labels(self) -> dict[str, str]:
        """Deliberately not the server's selector: the Services, PDB and StatefulSet must never count this pod."""
        return {"app.kubernetes.io/name": "redis-smoke", "app.kubernetes.io/instance": self.base}

    def pod(self, ordinal: int) -> str:
        return f"{self.statefulset}-{ordinal}"

    def pod_fqdn(self, ordinal: int) -> str:
        """The stable DNS name a pod announces to Sentinel; pod IPs change on restart, this does not."""
        return f"{self.pod(ordinal)}.{self.headless_service}.{self.spec.namespace}.svc.{self.spec.cluster_domain}"

    @property
    def pod_fqdns(self) -> list[str]:
        return [self.pod_fqdn(i) for i in range(self.spec.redis.replicas)]

    @property
    def selector_labels(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": self.base}

    def labels(self, component: str) -> dict[str, str]:
        return {
            **self.selector_labels,
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/part-of": "airflow",
            "app.kubernetes.io/managed-by": MANAGED_BY,
        }

    @property
    def pod_labels(self) -> dict[str, str]:
        return {**self.labels("server"), "app.kubernetes.io/version": self.spec.redis.image.tag}
