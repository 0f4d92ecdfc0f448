"""Scheduled backups: a CronJob runs backup.sh (a snapshot from a replica, never the master, verified with
redis-check-rdb) onto a PVC of its own, keeping `backup.retention` files; its pod serves nothing."""
from __future__ import annotations

from cdk8s_plus_33 import k8s
from constructs import Construct

from contracts.paths import SCRIPTS_DIR, SECRETS_DIR
from synth.components.common import WAVE_NETWORK, WAVE_WORKLOAD, meta_fields, resources
from synth.components.pod import (cluster_password_files, container_security, job_script_env, mounts, run_once_pod,
                                  runs_script, secrets_volume, tls_mounts, tls_volumes)
from synth.naming import Names

BACKUP_DIR = "/backups"


def backup_env(names: Names) -> list[k8s.EnvVar]:
    """lib.sh's contract (SELF_HOST: this pod's own name; it announces none) plus contracts/pod_env.BACKUP_ENV."""
    b = names.spec.backup
    return job_script_env(names, "metadata.name", {
        "BACKUP_DIR": BACKUP_DIR, "BACKUP_RETENTION": str(b.retention),
        "BACKUP_TIMEOUT_SECONDS": str(b.timeout_seconds), "BACKUP_WAIT_SECONDS": str(b.wait_seconds)})


def backup(scope: Construct, names: Names) -> None:
    spec, b = names.spec, names.spec.backup
    labels = {**names.labels("backup"), **names.backup_selector_labels}
    k8s.KubePersistentVolumeClaim(scope, "backup-pvc", metadata=k8s.ObjectMeta(**meta_fields(
        names, names.backup, "backup", WAVE_WORKLOAD, labels=names.backup_selector_labels,
        annotations={"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"})),  # backups outlive a mistake
        spec=k8s.PersistentVolumeClaimSpec(
            access_modes=["ReadWriteOnce"],
            storage_class_name=b.storage_class_name or spec.persistence.storage_class_name,
            resources=k8s.VolumeResourceRequirements(requests={"storage": k8s.Quantity.from_string(b.size)})))
    container = k8s.Container(
        name="backup",
        **runs_script(names, "backup.sh"),
        env=backup_env(names),
        resources=resources(b.resources),
        security_context=container_security(names),
        volume_mounts=[*mounts(("scripts", SCRIPTS_DIR), ("secrets", SECRETS_DIR)),
                       *mounts(("backups", BACKUP_DIR), read_only=False), *tls_mounts(names)],
    )
    pod = run_once_pod(names, container, [
        k8s.Volume(name="scripts", config_map=k8s.ConfigMapVolumeSource(name=names.scripts_config_map, default_mode=0o555)),
        secrets_volume("secrets", cluster_password_files(names)),
        k8s.Volume(name="backups", persistent_volume_claim=k8s.PersistentVolumeClaimVolumeSource(claim_name=names.backup)),
        *tls_volumes(names),
    ])
    k8s.KubeCronJob(scope, "backup-cronjob", metadata=k8s.ObjectMeta(**meta_fields(
        names, names.backup, "backup", WAVE_WORKLOAD, labels=names.backup_selector_labels)),
        spec=k8s.CronJobSpec(
            schedule=b.schedule,
            time_zone="Etc/UTC",
            concurrency_policy="Forbid",  # two transfers at once would double the load on the replica
            starting_deadline_seconds=300,
            successful_jobs_history_limit=3,
            failed_jobs_history_limit=3,
            job_template=k8s.JobTemplateSpec(spec=k8s.JobSpec(
                backoff_limit=1,
                active_deadline_seconds=b.wait_seconds + b.timeout_seconds + 120,
                template=k8s.PodTemplateSpec(metadata=k8s.ObjectMeta(labels=labels), spec=pod),
            )),
        ))
    # The backup pod serves nothing: no ingress (its connections to Redis are admitted by the server's policy).
    k8s.KubeNetworkPolicy(scope, "backup-network-policy", metadata=k8s.ObjectMeta(**meta_fields(
        names, names.backup, "backup", WAVE_NETWORK, labels=names.backup_selector_labels)),
        spec=k8s.NetworkPolicySpec(pod_selector=k8s.LabelSelector(match_labels=names.backup_selector_labels),
                                   policy_types=["Ingress"]))
