"""What every container of ours shares: the hardened security context, read-only mounts, password files from
Secrets, and the Redis image running a pod script."""

from __future__ import annotations

from cdk8s_plus_33 import k8s

from redis_gitops.contracts.paths import (
    ALSO_ACCEPTED_SUFFIX,
    REDIS_PASSWORD_FILE,
    SCRIPTS_DIR,
    SECRETS_DIR,
    SENTINEL_PASSWORD_FILE,
    TLS_CA_FILE,
    TLS_DIR,
)
from redis_gitops.contracts.pod_env import PodScriptEnv
from redis_gitops.synth.naming import Names


def secrets_volume(name: str, files: dict[str, object], accepting: bool = False) -> k8s.Volume:
    """Password files from the Secrets the spec references (file name -> SecretRef), read-only: processes read
    files, never environment variables (checkov CKV_K8S_35), so no password shows in `kubectl describe`.
    `accepting`: the servers' own containers, which also accept a rotation's other password (`<file>.also`)."""

    def items(path: str, ref) -> list[k8s.KeyToPath]:
        also = accepting and ref.also_accept
        return [k8s.KeyToPath(key=ref.key, path=path)] + (
            [k8s.KeyToPath(key=ref.also_accept, path=f"{path}{ALSO_ACCEPTED_SUFFIX}")] if also else []
        )

    return k8s.Volume(
        name=name,
        projected=k8s.ProjectedVolumeSource(
            default_mode=0o440,
            sources=[
                k8s.VolumeProjection(secret=k8s.SecretProjection(name=ref.secret_name, items=items(path, ref)))
                for path, ref in files.items()
            ],
        ),
    )


def cluster_password_files(names: Names) -> dict[str, object]:
    """Redis's and Sentinel's passwords, as the pod scripts and the smoke Job read them."""
    return {
        REDIS_PASSWORD_FILE: names.spec.auth.redis_password,
        SENTINEL_PASSWORD_FILE: names.spec.auth.sentinel_password,
    }


def tls_volumes(names: Names) -> list[k8s.Volume]:
    """With `tls.enabled`: the certificate Secret (tls.crt, tls.key, ca.crt), read-only, group-readable."""
    if not names.spec.tls.enabled:
        return []
    return [k8s.Volume(name="tls", secret=k8s.SecretVolumeSource(secret_name=names.tls_secret, default_mode=0o440))]


def tls_mounts(names: Names) -> list[k8s.VolumeMount]:
    return mounts(("tls", TLS_DIR)) if names.spec.tls.enabled else []


def tls_ca_path(names: Names) -> str | None:
    return f"{TLS_DIR}/{TLS_CA_FILE}" if names.spec.tls.enabled else None


def container_security(names: Names) -> k8s.SecurityContext:
    sec = names.spec.security
    return k8s.SecurityContext(
        run_as_non_root=True,
        run_as_user=sec.run_as_user,
        run_as_group=sec.run_as_group,
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        privileged=False,
        capabilities=k8s.Capabilities(drop=["ALL"]),
        seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
    )


def mounts(*pairs: tuple[str, str], read_only: bool = True) -> list[k8s.VolumeMount]:
    return [k8s.VolumeMount(name=n, mount_path=p, read_only=read_only) for n, p in pairs]


def runs_script(names: Names, script: str) -> dict:
    """A container of the Redis image that runs one of the pod scripts."""
    image = names.spec.redis.image
    return {
        "image": image.reference,
        "image_pull_policy": image.pull_policy,
        "command": ["sh", f"{SCRIPTS_DIR}/{script}"],
    }


def run_once_pod(
    names: Names,
    container: k8s.Container,
    volumes: list[k8s.Volume],
    init_containers: list[k8s.Container] | None = None,
) -> k8s.PodSpec:
    """The pod of a Job (the smoke check, a backup): hardened, no API token, never restarted in place. Its
    fsGroup owns its volumes: the Secret files (mode 0440) are readable by the non-root user only through it,
    and a backup PVC is writable."""
    sec = names.spec.security
    return k8s.PodSpec(
        restart_policy="Never",
        service_account_name=names.service_account,
        automount_service_account_token=False,
        enable_service_links=False,
        security_context=k8s.PodSecurityContext(
            run_as_non_root=True,
            run_as_user=sec.run_as_user,
            run_as_group=sec.run_as_group,
            fs_group=sec.fs_group,
            seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
        ),
        init_containers=init_containers,
        containers=[container],
        volumes=volumes,
    )


def job_script_env(names: Names, self_host_field: str, extra: dict[str, str]) -> list[k8s.EnvVar]:
    """lib.sh's contract for a Job's pod script (backup.sh, restore.sh): the broker's pods, ports and master
    name, the password files, SELF_HOST from the downward API, and the script's own variables."""
    spec = names.spec
    env = PodScriptEnv(
        self_host=None,
        peer_hosts=tuple(names.pod_fqdns),
        redis_port=spec.redis.port,
        sentinel_port=spec.sentinel.port,
        master_name=spec.sentinel.master_name,
        secrets_dir=SECRETS_DIR,
        tls_dir=TLS_DIR if spec.tls.enabled else None,
        extra=extra,
        engine=spec.redis.engine,
    )
    return [
        k8s.EnvVar(
            name="SELF_HOST", value_from=k8s.EnvVarSource(field_ref=k8s.ObjectFieldSelector(field_path=self_host_field))
        ),
        *(k8s.EnvVar(name=k, value=v) for k, v in env.variables().items()),
    ]
