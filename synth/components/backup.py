"""Scheduled backups: a CronJob runs backup.sh (a snapshot from a replica, never the master, verified with
redis-check-rdb) onto a PVC of its own, keeping `backup.retention` files; with `backup.s3`, backup.sh runs as
the init container and backup-upload.sh (rclone's image) copies the new snapshot to the bucket. Its pod serves
nothing."""

from __future__ import annotations

from urllib.parse import urlsplit

from cdk8s_plus_33 import k8s
from constructs import Construct

from redis_gitops.contracts.paths import S3_ACCESS_KEY_ID_FILE, S3_SECRET_ACCESS_KEY_FILE, SCRIPTS_DIR, SECRETS_DIR
from redis_gitops.synth.components.common import (
    WAVE_NETWORK,
    WAVE_WORKLOAD,
    broker_egress,
    meta_fields,
    quantity,
    resources,
    tcp_port,
)
from redis_gitops.synth.components.pod import (
    cluster_password_files,
    container_security,
    job_script_env,
    mounts,
    run_once_pod,
    runs_script,
    secrets_volume,
    tls_mounts,
    tls_volumes,
)
from redis_gitops.synth.naming import Names

HTTPS_PORT = 443
BACKUP_DIR = "/backups"


def backup_env(names: Names) -> list[k8s.EnvVar]:
    """lib.sh's contract (SELF_HOST: this pod's own name; it announces none) plus contracts/pod_env.BACKUP_ENV."""
    b = names.spec.backup
    return job_script_env(
        names,
        "metadata.name",
        {
            "BACKUP_DIR": BACKUP_DIR,
            "BACKUP_RETENTION": str(b.retention),
            "BACKUP_TIMEOUT_SECONDS": str(b.timeout_seconds),
            "BACKUP_WAIT_SECONDS": str(b.wait_seconds),
        },
    )


def upload_env(names: Names) -> list[k8s.EnvVar]:
    """contracts/pod_env.BACKUP_UPLOAD_ENV, from `backup.s3`."""
    b = names.spec.backup
    s3 = b.s3
    values = {
        "BACKUP_DIR": BACKUP_DIR,
        "SECRETS_DIR": SECRETS_DIR,
        "S3_ENDPOINT": s3.endpoint,
        "S3_BUCKET": s3.bucket,
        "S3_PREFIX": s3.prefix,
        "S3_REGION": s3.region,
        "S3_PATH_STYLE": str(s3.path_style).lower(),
        "S3_RETENTION": str(s3.retention or b.retention),
        "HOME": "/tmp",
    }  # rclone's home: the only writable place besides the backups
    return [k8s.EnvVar(name=k, value=v) for k, v in values.items()]


def upload_container(names: Names) -> k8s.Container:
    s3 = names.spec.backup.s3
    return k8s.Container(
        name="upload",
        image=s3.image.reference,
        image_pull_policy=s3.image.pull_policy,
        command=["sh", f"{SCRIPTS_DIR}/backup-upload.sh"],
        env=upload_env(names),
        resources=resources(s3.resources),
        security_context=container_security(names),
        volume_mounts=[
            *mounts(("scripts", SCRIPTS_DIR), ("s3-credentials", SECRETS_DIR), ("backups", BACKUP_DIR)),
            *mounts(("tmp", "/tmp"), read_only=False),
        ],
    )


def upload_volumes(names: Names) -> list[k8s.Volume]:
    s3 = names.spec.backup.s3
    return [
        secrets_volume(
            "s3-credentials", {S3_ACCESS_KEY_ID_FILE: s3.access_key_id, S3_SECRET_ACCESS_KEY_FILE: s3.secret_access_key}
        ),
        k8s.Volume(name="tmp", empty_dir=k8s.EmptyDirVolumeSource(medium="Memory", size_limit=quantity("16Mi"))),
    ]


def backup(scope: Construct, names: Names) -> None:
    spec, b = names.spec, names.spec.backup
    labels = {**names.labels("backup"), **names.backup_selector_labels}
    k8s.KubePersistentVolumeClaim(
        scope,
        "backup-pvc",
        metadata=k8s.ObjectMeta(
            **meta_fields(
                names,
                names.backup,
                "backup",
                WAVE_WORKLOAD,
                labels=names.backup_selector_labels,
                annotations={"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"},
            )
        ),  # backups outlive a mistake
        spec=k8s.PersistentVolumeClaimSpec(
            access_modes=["ReadWriteOnce"],
            storage_class_name=b.storage_class_name or spec.persistence.storage_class_name,
            resources=k8s.VolumeResourceRequirements(requests={"storage": quantity(b.size)}),
        ),
    )
    container = k8s.Container(
        name="backup",
        **runs_script(names, "backup.sh"),
        env=backup_env(names),
        resources=resources(b.resources),
        security_context=container_security(names),
        volume_mounts=[
            *mounts(("scripts", SCRIPTS_DIR), ("secrets", SECRETS_DIR)),
            *mounts(("backups", BACKUP_DIR), read_only=False),
            *tls_mounts(names),
        ],
    )
    # With S3, the snapshot is taken (and verified) first, then copied: backup.sh becomes the init container.
    init, main = ([container], upload_container(names)) if b.s3 else (None, container)
    pod = run_once_pod(
        names,
        main,
        [
            k8s.Volume(
                name="scripts", config_map=k8s.ConfigMapVolumeSource(name=names.scripts_config_map, default_mode=0o555)
            ),
            secrets_volume("secrets", cluster_password_files(names)),
            k8s.Volume(
                name="backups", persistent_volume_claim=k8s.PersistentVolumeClaimVolumeSource(claim_name=names.backup)
            ),
            *tls_volumes(names),
            *(upload_volumes(names) if b.s3 else []),
        ],
        init_containers=init,
    )
    k8s.KubeCronJob(
        scope,
        "backup-cronjob",
        metadata=k8s.ObjectMeta(
            **meta_fields(names, names.backup, "backup", WAVE_WORKLOAD, labels=names.backup_selector_labels)
        ),
        spec=k8s.CronJobSpec(
            schedule=b.schedule,
            time_zone="Etc/UTC",
            concurrency_policy="Forbid",  # two transfers at once would double the load on the replica
            starting_deadline_seconds=300,
            successful_jobs_history_limit=3,
            failed_jobs_history_limit=3,
            job_template=k8s.JobTemplateSpec(
                spec=k8s.JobSpec(
                    backoff_limit=1,
                    active_deadline_seconds=b.wait_seconds + b.timeout_seconds + 120,
                    template=k8s.PodTemplateSpec(metadata=k8s.ObjectMeta(labels=labels), spec=pod),
                )
            ),
        ),
    )
    # The backup pod serves nothing (no ingress) and reaches only the broker, DNS and, with `s3`, the endpoint's
    # port (any address: a NetworkPolicy cannot name a host).
    egress = broker_egress(names)
    if b.s3 is not None:
        egress.append(k8s.NetworkPolicyEgressRule(ports=[tcp_port(urlsplit(b.s3.endpoint).port or HTTPS_PORT)]))
    k8s.KubeNetworkPolicy(
        scope,
        "backup-network-policy",
        metadata=k8s.ObjectMeta(
            **meta_fields(names, names.backup, "backup", WAVE_NETWORK, labels=names.backup_selector_labels)
        ),
        spec=k8s.NetworkPolicySpec(
            pod_selector=k8s.LabelSelector(match_labels=names.backup_selector_labels),
            policy_types=["Ingress", "Egress"],
            egress=egress,
        ),
    )
