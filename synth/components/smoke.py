"""The PostSync hook Job that runs `redis-gitops smoke` after every sync, and the NetworkPolicy of its pod."""

from __future__ import annotations

from cdk8s_plus_33 import k8s
from constructs import Construct

from redis_gitops.contracts.paths import REDIS_PASSWORD_FILE, SECRETS_DIR, SENTINEL_PASSWORD_FILE, SMOKE_PASSWORD_FILE
from redis_gitops.synth.components.common import WAVE_NETWORK, broker_egress, meta_fields, quantity, resources
from redis_gitops.synth.components.pod import (
    cluster_password_files,
    container_security,
    run_once_pod,
    secrets_volume,
    tls_ca_path,
    tls_mounts,
    tls_volumes,
)
from redis_gitops.synth.naming import Names
from redis_gitops.synth.spec import smoke_user

HOOK_ANNOTATIONS = {
    "argocd.argoproj.io/hook": "PostSync",
    # Keep the last run for `kubectl logs` until the next sync replaces it (ttlSecondsAfterFinished also applies).
    "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
}


def credential_env(names: Names) -> list[k8s.EnvVar]:
    """The Job's own user on Redis and on the Sentinels (one password file), or with `failover` the admin
    passwords its hand-over needs."""
    if not smoke_user(names.spec):
        return [
            k8s.EnvVar(name="REDIS_PASSWORD_FILE", value=f"{SECRETS_DIR}/{REDIS_PASSWORD_FILE}"),
            k8s.EnvVar(name="REDIS_SENTINEL_PASSWORD_FILE", value=f"{SECRETS_DIR}/{SENTINEL_PASSWORD_FILE}"),
        ]
    user, password = names.spec.smoke.username, f"{SECRETS_DIR}/{SMOKE_PASSWORD_FILE}"
    return [
        k8s.EnvVar(name="REDIS_USERNAME", value=user),
        k8s.EnvVar(name="REDIS_PASSWORD_FILE", value=password),
        k8s.EnvVar(name="REDIS_SENTINEL_USERNAME", value=user),
        k8s.EnvVar(name="REDIS_SENTINEL_PASSWORD_FILE", value=password),
    ]


def smoke_password_files(names: Names) -> dict[str, object]:
    return {SMOKE_PASSWORD_FILE: names.spec.smoke.password} if smoke_user(names.spec) else cluster_password_files(names)


def smoke_env(names: Names) -> list[k8s.EnvVar]:
    """The contract runtime/cli.py reads (see its docstring); every value derives from the spec."""
    spec = names.spec
    return [
        k8s.EnvVar(name="REDIS_SENTINELS", value=",".join(f"{h}:{spec.sentinel.port}" for h in names.pod_fqdns)),
        k8s.EnvVar(name="REDIS_NODES", value=",".join(f"{h}:{spec.redis.port}" for h in names.pod_fqdns)),
        k8s.EnvVar(name="REDIS_MASTER_NAME", value=spec.sentinel.master_name),
        k8s.EnvVar(name="REDIS_MAXMEMORY_POLICY", value=spec.redis.maxmemory_policy),
        k8s.EnvVar(name="SMOKE_MAX_WRITE_OUTAGE_SECONDS", value=str(spec.smoke.max_write_outage_seconds)),
        k8s.EnvVar(name="SMOKE_WAIT_SECONDS", value=str(spec.smoke.wait_seconds)),
        # The failover check runs the pods' own preStop script: same timeout as the pods.
        k8s.EnvVar(name="HANDOVER_TIMEOUT_SECONDS", value=str(spec.redis.handover_timeout_seconds)),
        *credential_env(names),
        *([k8s.EnvVar(name="REDIS_TLS_CA_FILE", value=tls_ca_path(names))] if names.spec.tls.enabled else []),
    ]


def smoke_job(scope: Construct, names: Names) -> None:
    smoke = names.spec.smoke
    labels = {**names.labels("smoke"), **names.smoke_selector_labels}
    container = k8s.Container(
        name="smoke",
        image=smoke.image.reference,
        image_pull_policy=smoke.image.pull_policy,
        args=[
            "smoke",
            "--json",
            *(["--celery"] if smoke.celery_round_trip else []),
            *(["--failover"] if smoke.failover else []),
        ],
        env=smoke_env(names),
        resources=resources(smoke.resources),
        security_context=container_security(names),
        volume_mounts=[
            k8s.VolumeMount(name="tmp", mount_path="/tmp"),
            k8s.VolumeMount(name="secrets", mount_path=SECRETS_DIR, read_only=True),
            *tls_mounts(names),
        ],
    )
    k8s.KubeJob(
        scope,
        "smoke-job",
        metadata=k8s.ObjectMeta(
            **meta_fields(
                names, names.smoke_job, "smoke", None, annotations=HOOK_ANNOTATIONS, labels=names.smoke_selector_labels
            )
        ),
        spec=k8s.JobSpec(
            backoff_limit=smoke.backoff_limit,
            active_deadline_seconds=smoke.active_deadline_seconds,
            ttl_seconds_after_finished=smoke.ttl_seconds_after_finished,
            template=k8s.PodTemplateSpec(
                metadata=k8s.ObjectMeta(labels=labels),
                spec=run_once_pod(
                    names,
                    container,
                    [
                        k8s.Volume(
                            name="tmp",
                            empty_dir=k8s.EmptyDirVolumeSource(medium="Memory", size_limit=quantity("16Mi")),
                        ),
                        secrets_volume("secrets", smoke_password_files(names)),
                        *tls_volumes(names),
                    ],
                ),
            ),
        ),
    )
    # The smoke pod serves nothing (no ingress at all) and reaches only the broker (and DNS).
    k8s.KubeNetworkPolicy(
        scope,
        "smoke-network-policy",
        metadata=k8s.ObjectMeta(
            **meta_fields(names, names.smoke_job, "smoke", WAVE_NETWORK, labels=names.smoke_selector_labels)
        ),
        spec=k8s.NetworkPolicySpec(
            pod_selector=k8s.LabelSelector(match_labels=names.smoke_selector_labels),
            policy_types=["Ingress", "Egress"],
            egress=broker_egress(names),
        ),
    )
