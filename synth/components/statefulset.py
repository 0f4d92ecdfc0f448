"""The StatefulSet: Redis, Sentinel and the exporters in each pod, hardened, spread, with a safe preStop."""

from __future__ import annotations

import hashlib

from cdk8s_plus_33 import k8s
from constructs import Construct

from redis_gitops.contracts import pod_scripts
from redis_gitops.contracts.client_acl import SENTINEL_MONITOR_USER
from redis_gitops.contracts.paths import (
    AIRFLOW_ACL_FILE,
    CONFIG_DIR,
    DATA_DIR,
    EXPORTER_ACL_FILE,
    KEDA_ACL_FILE,
    REDIS_RUNTIME_DIR,
    SCRIPTS_DIR,
    SECRETS_DIR,
    SENTINEL_MONITOR_ACL_FILE,
    SENTINEL_PASSWORD_FILE,
    SMOKE_ACL_FILE,
    TLS_DIR,
    acl_password_file,
)
from redis_gitops.contracts.pod_env import PodScriptEnv
from redis_gitops.synth.components.common import WAVE_WORKLOAD, meta, quantity, resources
from redis_gitops.synth.components.exporter import exporter_containers, exporter_volumes
from redis_gitops.synth.components.pod import (
    cluster_password_files,
    container_security,
    mounts,
    runs_script,
    secrets_volume,
    tls_mounts,
    tls_volumes,
)
from redis_gitops.synth.naming import Names
from redis_gitops.synth.redis_config import acl_files, config_files, sentinel_acl_files

PROBE_PERIOD_SECONDS = 10
# Time for the preStop hand-over beyond its own timeout: Redis must still flush the AOF after it.
SHUTDOWN_MARGIN_SECONDS = 30


def config_checksum(names: Names) -> str:
    """Hash of everything the pods read at start, so a config change rolls the pods (one at a time)."""
    digest = hashlib.sha256()
    scripts = (pod_scripts.text(s) for s in pod_scripts.POD_NAMES)
    for text in (*config_files(names.spec).values(), *scripts):
        digest.update(text.encode())
    return digest.hexdigest()


def acl_password_files(names: Names) -> dict[str, object]:
    """The password file of each ACL user the config ConfigMap defines (only the Redis container reads them)."""
    spec = names.spec
    refs = {
        AIRFLOW_ACL_FILE: spec.airflow.password,
        KEDA_ACL_FILE: spec.airflow.keda.password,
        EXPORTER_ACL_FILE: spec.monitoring.exporter.password,
        SENTINEL_MONITOR_ACL_FILE: spec.auth.sentinel_password,
        SMOKE_ACL_FILE: spec.smoke.password,
    }
    return {acl_password_file(f): refs[f] for f in acl_files(spec)}


def sentinel_acl_password_files(names: Names) -> dict[str, object]:
    """The password files of the clients' Sentinel users (a subset of the Redis users': the same passwords)."""
    redis_users = acl_password_files(names)
    return {acl_password_file(f): redis_users[acl_password_file(f)] for f in sentinel_acl_files(names.spec)}


def redis_secret_files(names: Names) -> dict[str, object]:
    """What the Redis container reads: both cluster passwords and every Redis user's."""
    return {**cluster_password_files(names), **acl_password_files(names)}


def sentinel_secret_files(names: Names) -> dict[str, object]:
    """What the Sentinel container reads: the Sentinel password (also its user's on Redis) and its clients' users'
    passwords, never Redis's admin password."""
    return {SENTINEL_PASSWORD_FILE: names.spec.auth.sentinel_password, **sentinel_acl_password_files(names)}


def script_env(names: Names, runtime_dir: str | None, redis_user: str | None = None) -> list[k8s.EnvVar]:
    """The environment contract of the pod scripts (contracts/pod_env.PodScriptEnv); SELF_HOST from the pod's
    name through POD_NAME (Kubernetes expands `$(POD_NAME)` from the variable before it)."""
    spec = names.spec
    env = PodScriptEnv(
        self_host=f"$(POD_NAME).{names.headless_service}.{spec.namespace}.svc.{spec.cluster_domain}",
        peer_hosts=tuple(names.pod_fqdns),
        redis_port=spec.redis.port,
        sentinel_port=spec.sentinel.port,
        master_name=spec.sentinel.master_name,
        secrets_dir=SECRETS_DIR,
        config_dir=CONFIG_DIR,
        runtime_dir=runtime_dir,
        data_dir=DATA_DIR,
        handover_timeout_seconds=spec.redis.handover_timeout_seconds,
        tls_dir=TLS_DIR if spec.tls.enabled else None,
        redis_user=redis_user,
        engine=spec.redis.engine,
    )
    return [
        k8s.EnvVar(
            name="POD_NAME", value_from=k8s.EnvVarSource(field_ref=k8s.ObjectFieldSelector(field_path="metadata.name"))
        ),
        *(k8s.EnvVar(name=k, value=v) for k, v in env.variables().items()),
    ]


def _exec(*args: str) -> k8s.ExecAction:
    return k8s.ExecAction(command=["sh", *args])


def _probe(check: str, period: int, failures: int, timeout: int = 5) -> k8s.Probe:
    return k8s.Probe(
        exec=_exec(f"{SCRIPTS_DIR}/probe.sh", check),
        period_seconds=period,
        failure_threshold=failures,
        timeout_seconds=timeout,
    )


def redis_container(names: Names) -> k8s.Container:
    spec = names.spec
    return k8s.Container(
        name="redis",
        **runs_script(names, "start-redis.sh"),
        env=script_env(names, REDIS_RUNTIME_DIR),
        ports=[k8s.ContainerPort(name="redis", container_port=spec.redis.port, protocol="TCP")],
        # A large AOF can take minutes to load; until then liveness must not kill the pod.
        startup_probe=_probe(
            "redis-alive", PROBE_PERIOD_SECONDS, max(1, spec.redis.startup_timeout_seconds // PROBE_PERIOD_SECONDS)
        ),
        liveness_probe=_probe("redis-alive", PROBE_PERIOD_SECONDS, 6),
        readiness_probe=_probe("redis-ready", 5, 3, timeout=3),
        lifecycle=k8s.Lifecycle(pre_stop=k8s.LifecycleHandler(exec=_exec(f"{SCRIPTS_DIR}/prestop-redis.sh"))),
        resources=resources(spec.redis.resources),
        security_context=container_security(names),
        volume_mounts=[
            *mounts(("data", DATA_DIR), read_only=False),
            *mounts(("redis-runtime", REDIS_RUNTIME_DIR), read_only=False),
            # Redis also reads its ACL users' passwords (start-redis.sh).
            *mounts(("config", CONFIG_DIR), ("scripts", SCRIPTS_DIR), ("redis-secrets", SECRETS_DIR)),
            *tls_mounts(names),
        ],
    )


def sentinel_container(names: Names) -> k8s.Container:
    spec = names.spec
    return k8s.Container(
        name="sentinel",
        **runs_script(names, "start-sentinel.sh"),
        env=script_env(names, None, redis_user=SENTINEL_MONITOR_USER),
        ports=[k8s.ContainerPort(name="sentinel", container_port=spec.sentinel.port, protocol="TCP")],
        liveness_probe=_probe("sentinel", PROBE_PERIOD_SECONDS, 6),
        readiness_probe=_probe("sentinel-ready", 5, 3, timeout=3),
        resources=resources(spec.sentinel.resources),
        security_context=container_security(names),
        volume_mounts=[
            # Sentinel rewrites its own config file on every failover; on the pod's volume that state (epochs,
            # known replicas and Sentinels) survives restarts, so a full restart elects the last master.
            *mounts(("data", DATA_DIR), read_only=False),
            # Sentinel reads its client users' passwords too (start-sentinel.sh), never Redis's admin password.
            *mounts(("config", CONFIG_DIR), ("scripts", SCRIPTS_DIR), ("sentinel-secrets", SECRETS_DIR)),
            *tls_mounts(names),
        ],
    )


def _affinity(names: Names) -> k8s.Affinity:
    term = k8s.PodAffinityTerm(
        topology_key="kubernetes.io/hostname", label_selector=k8s.LabelSelector(match_labels=names.selector_labels)
    )
    if names.spec.scheduling.pod_anti_affinity == "required":
        anti = k8s.PodAntiAffinity(required_during_scheduling_ignored_during_execution=[term])
    else:
        anti = k8s.PodAntiAffinity(
            preferred_during_scheduling_ignored_during_execution=[
                k8s.WeightedPodAffinityTerm(weight=100, pod_affinity_term=term)
            ]
        )
    return k8s.Affinity(pod_anti_affinity=anti)


def statefulset(scope: Construct, names: Names) -> None:
    spec = names.spec
    containers = [redis_container(names), sentinel_container(names)]
    init_containers, volumes = (
        [],
        [
            secrets_volume("redis-secrets", redis_secret_files(names), accepting=True),
            secrets_volume("sentinel-secrets", sentinel_secret_files(names), accepting=True),
            *tls_volumes(names),
        ],
    )
    if spec.monitoring.exporter.enabled:
        init, sidecars = exporter_containers(names)
        init_containers += init
        containers += sidecars
        volumes += exporter_volumes(names)
    pod = k8s.PodSpec(
        service_account_name=names.service_account,
        automount_service_account_token=False,
        enable_service_links=False,
        security_context=k8s.PodSecurityContext(
            run_as_non_root=True,
            run_as_user=spec.security.run_as_user,
            run_as_group=spec.security.run_as_group,
            fs_group=spec.security.fs_group,
            fs_group_change_policy="OnRootMismatch",
            seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
        ),
        termination_grace_period_seconds=spec.redis.handover_timeout_seconds + SHUTDOWN_MARGIN_SECONDS,
        affinity=_affinity(names),
        topology_spread_constraints=[
            k8s.TopologySpreadConstraint(
                max_skew=1,
                topology_key="topology.kubernetes.io/zone",
                when_unsatisfiable=spec.scheduling.zone_spread,
                label_selector=k8s.LabelSelector(match_labels=names.selector_labels),
            )
        ],
        node_selector=spec.scheduling.node_selector or None,
        priority_class_name=spec.scheduling.priority_class_name,
        init_containers=init_containers or None,
        containers=containers,
        volumes=[
            *volumes,
            k8s.Volume(name="config", config_map=k8s.ConfigMapVolumeSource(name=names.config_map, default_mode=0o444)),
            k8s.Volume(
                name="scripts", config_map=k8s.ConfigMapVolumeSource(name=names.scripts_config_map, default_mode=0o555)
            ),
            # Redis's rendered config holds passwords: keep it in memory, not on the persistent volume.
            k8s.Volume(
                name="redis-runtime",
                empty_dir=k8s.EmptyDirVolumeSource(medium="Memory", size_limit=quantity("1Mi")),
            ),
        ],
    )
    k8s.KubeStatefulSet(
        scope,
        "statefulset",
        metadata=meta(names, names.statefulset, "server", WAVE_WORKLOAD),
        spec=k8s.StatefulSetSpec(
            service_name=names.headless_service,
            replicas=spec.redis.replicas,
            # Parallel: after a full restart the last master may be any pod, and the others follow it, so
            # pod 0 must not wait for readiness before its peers start. Updates still roll one pod at a time.
            pod_management_policy="Parallel",
            update_strategy=k8s.StatefulSetUpdateStrategy(type="RollingUpdate"),
            persistent_volume_claim_retention_policy=k8s.StatefulSetPersistentVolumeClaimRetentionPolicy(
                when_deleted="Retain", when_scaled="Retain"
            ),  # queued tasks outlive a mistaken delete
            selector=k8s.LabelSelector(match_labels=names.selector_labels),
            template=k8s.PodTemplateSpec(
                metadata=k8s.ObjectMeta(
                    labels=names.pod_labels, annotations={"redis-gitops/config-checksum": config_checksum(names)}
                ),
                spec=pod,
            ),
            volume_claim_templates=[
                k8s.KubePersistentVolumeClaimProps(
                    metadata=k8s.ObjectMeta(name="data", labels=names.selector_labels),
                    spec=k8s.PersistentVolumeClaimSpec(
                        access_modes=[spec.persistence.access_mode],
                        storage_class_name=spec.persistence.storage_class_name,
                        resources=k8s.VolumeResourceRequirements(requests={"storage": quantity(spec.persistence.size)}),
                    ),
                )
            ],
        ),
    )
