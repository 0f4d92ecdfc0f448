"""A restore as a GitOps change: with a `restore` section the spec renders a Job, named after the restore's id,
that runs restore.sh after the StatefulSet is healthy (a later sync wave): every pod back to exactly the
snapshot through replication from a temporary server in the Job's pod; a marker on the backup volume keeps the
same restore from running twice."""

from __future__ import annotations

from cdk8s_plus_33 import k8s
from constructs import Construct

from redis_gitops.contracts.paths import CONFIG_DIR, SCRIPTS_DIR, SECRETS_DIR
from redis_gitops.synth.components.backup import BACKUP_DIR
from redis_gitops.synth.components.common import (
    WAVE_NETWORK,
    WAVE_RESTORE,
    broker_egress,
    int_or_string,
    meta_fields,
    quantity,
    resources,
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

RESTORE_DIR = "/restore"


def restore_env(names: Names) -> list[k8s.EnvVar]:
    """lib.sh's contract (SELF_HOST: this pod's IP, which the Redis pods replicate from) plus RESTORE_ENV."""
    spec = names.spec
    return job_script_env(
        names,
        "status.podIP",
        {
            "CONFIG_DIR": CONFIG_DIR,
            "RESTORE_SNAPSHOT": f"{BACKUP_DIR}/{spec.restore.snapshot}",
            "RESTORE_ID": spec.restore.id,
            "RESTORE_DIR": RESTORE_DIR,
            "RESTORE_SYNC_SECONDS": str(spec.backup.timeout_seconds),
        },
    )


def restore(scope: Construct, names: Names) -> None:
    spec = names.spec
    labels = {**names.labels("restore"), **names.restore_selector_labels}
    container = k8s.Container(
        name="restore",
        **runs_script(names, "restore.sh"),
        env=restore_env(names),
        ports=[k8s.ContainerPort(name="redis", container_port=spec.redis.port, protocol="TCP")],
        resources=resources(spec.redis.resources),  # it holds the whole dataset, as a Redis pod does
        security_context=container_security(names),
        volume_mounts=[
            *mounts(("scripts", SCRIPTS_DIR), ("config", CONFIG_DIR), ("secrets", SECRETS_DIR)),
            *mounts(("backups", BACKUP_DIR), ("restore", RESTORE_DIR), read_only=False),
            *tls_mounts(names),
        ],
    )
    pod = run_once_pod(
        names,
        container,
        [
            k8s.Volume(
                name="scripts", config_map=k8s.ConfigMapVolumeSource(name=names.scripts_config_map, default_mode=0o555)
            ),
            k8s.Volume(name="config", config_map=k8s.ConfigMapVolumeSource(name=names.config_map, default_mode=0o444)),
            secrets_volume("secrets", cluster_password_files(names)),
            k8s.Volume(
                name="backups", persistent_volume_claim=k8s.PersistentVolumeClaimVolumeSource(claim_name=names.backup)
            ),
            k8s.Volume(
                name="restore",
                empty_dir=k8s.EmptyDirVolumeSource(size_limit=quantity(spec.persistence.size)),
            ),
            *tls_volumes(names),
        ],
    )
    k8s.KubeJob(
        scope,
        "restore-job",
        metadata=k8s.ObjectMeta(
            **meta_fields(names, names.restore_job, "restore", WAVE_RESTORE, labels=names.restore_selector_labels)
        ),
        spec=k8s.JobSpec(
            backoff_limit=2, template=k8s.PodTemplateSpec(metadata=k8s.ObjectMeta(labels=labels), spec=pod)
        ),
    )
    # The Redis pods replicate from the restore pod; nothing else may connect to it, and it reaches only the broker.
    k8s.KubeNetworkPolicy(
        scope,
        "restore-network-policy",
        metadata=k8s.ObjectMeta(
            **meta_fields(names, f"{names.base}-restore", "restore", WAVE_NETWORK, labels=names.restore_selector_labels)
        ),
        spec=k8s.NetworkPolicySpec(
            pod_selector=k8s.LabelSelector(match_labels=names.restore_selector_labels),
            policy_types=["Ingress", "Egress"],
            egress=broker_egress(names),
            ingress=[
                k8s.NetworkPolicyIngressRule(
                    from_=[k8s.NetworkPolicyPeer(pod_selector=k8s.LabelSelector(match_labels=names.selector_labels))],
                    ports=[k8s.NetworkPolicyPort(protocol="TCP", port=int_or_string(spec.redis.port))],
                )
            ],
        ),
    )
