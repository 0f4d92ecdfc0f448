"""redis_exporter, twice per pod: Redis's (with the Celery queue lengths, as its own read-only ACL user) and
Sentinel's (Sentinel metrics appear only when an exporter targets the Sentinel port with Sentinel's password).

Two containers, not one in multi-target mode: the exporter's username is global in 1.45 (Debian's, what the
tests run) and the default for every target in 1.62, and Sentinel has no such user. Passwords come from a JSON
file (address -> password) that the `exporter-auth` init container writes from the mounted Secrets.
"""

from __future__ import annotations

from cdk8s_plus_33 import k8s

from redis_gitops.contracts.paths import (
    EXPORTER_DIR,
    EXPORTER_PASSWORD_FILE,
    REDIS_PASSWORD_FILE,
    SCRIPTS_DIR,
    SECRETS_DIR,
    SENTINEL_PASSWORD_FILE,
)
from redis_gitops.synth.components.common import int_or_string, quantity, resources
from redis_gitops.synth.components.pod import (
    container_security,
    mounts,
    runs_script,
    secrets_volume,
    tls_ca_path,
    tls_mounts,
)
from redis_gitops.synth.naming import Names
from redis_gitops.synth.redis_config import exporter_keys

PROBE_PERIOD_SECONDS = 10
PASSWORD_JSON = f"{EXPORTER_DIR}/passwords.json"
REDIS_METRICS_PORT, SENTINEL_METRICS_PORT = "metrics", "sentinel-metrics"  # the container ports' names


def _scheme(names: Names) -> str:
    return "rediss" if names.spec.tls.enabled else "redis"


def redis_address(names: Names) -> str:
    """The pod's own Redis; over TLS the certificate names 127.0.0.1 (the exporter verifies it)."""
    return f"{_scheme(names)}://127.0.0.1:{names.spec.redis.port}"


def sentinel_address(names: Names) -> str:
    return f"{_scheme(names)}://127.0.0.1:{names.spec.sentinel.port}"


def password_targets(names: Names) -> list[tuple[str, str]]:
    """(address, password file) for each entry of the JSON file. With an ACL user (on Redis and on the Sentinel),
    each entry is there twice: 1.45 looks the password up by the address, 1.62 by the address with the user in it.
    Without one, the admin passwords."""
    user = names.spec.monitoring.exporter.username
    targets = []
    for address, admin in (
        (redis_address(names), REDIS_PASSWORD_FILE),
        (sentinel_address(names), SENTINEL_PASSWORD_FILE),
    ):
        targets.append((address, EXPORTER_PASSWORD_FILE if user else admin))
        if user:
            targets.append((address.replace("://", f"://{user}@"), EXPORTER_PASSWORD_FILE))
    return targets


def exporter_secret_files(names: Names) -> dict[str, object]:
    """Only the passwords the exporters use: their own user's (or, without one, Redis's and Sentinel's)."""
    spec = names.spec
    files = {f: None for _, f in password_targets(names)}
    refs = {
        EXPORTER_PASSWORD_FILE: spec.monitoring.exporter.password,
        REDIS_PASSWORD_FILE: spec.auth.redis_password,
        SENTINEL_PASSWORD_FILE: spec.auth.sentinel_password,
    }
    return {f: refs[f] for f in files}


def single_keys(names: Names) -> str:
    """--check-single-keys: each Celery queue's length and the unacked hash, in Airflow's database."""
    db = names.spec.airflow.database_index
    return ",".join(f"db{db}={key}" for key in exporter_keys(names.spec))


def exporter_auth_container(names: Names) -> k8s.Container:
    """Writes the exporters' password file: their image has no shell, and redis_exporter reads passwords from a
    JSON file, not from a plain password file."""
    targets = " ".join(f"{addr}={file}" for addr, file in password_targets(names))
    return k8s.Container(
        name="exporter-auth",
        **runs_script(names, "exporter-auth.sh"),
        env=[
            k8s.EnvVar(name="SECRETS_DIR", value=SECRETS_DIR),
            k8s.EnvVar(name="EXPORTER_TARGETS", value=targets),
            k8s.EnvVar(name="EXPORTER_PASSWORD_FILE", value=PASSWORD_JSON),
        ],
        resources=resources(names.spec.monitoring.exporter.resources),
        security_context=container_security(names),
        volume_mounts=[
            *mounts(("scripts", SCRIPTS_DIR), ("exporter-secrets", SECRETS_DIR)),
            *mounts(("exporter-auth", EXPORTER_DIR), read_only=False),
        ],
    )


def _health(port_name: str) -> k8s.Probe:
    return k8s.Probe(
        http_get=k8s.HttpGetAction(path="/health", port=int_or_string(port_name)),
        period_seconds=PROBE_PERIOD_SECONDS,
        timeout_seconds=5,
    )


def _exporter(
    names: Names, name: str, port_name: str, port: int, env: dict[str, str], args: list[str]
) -> k8s.Container:
    exporter = names.spec.monitoring.exporter
    return k8s.Container(
        name=name,
        image=exporter.image.reference,
        image_pull_policy=exporter.image.pull_policy,
        args=args or None,
        env=[
            k8s.EnvVar(name=k, value=v)
            for k, v in {
                **env,
                "REDIS_PASSWORD_FILE": PASSWORD_JSON,
                "REDIS_EXPORTER_WEB_LISTEN_ADDRESS": f":{port}",
                **({"REDIS_EXPORTER_TLS_CA_CERT_FILE": tls_ca_path(names)} if names.spec.tls.enabled else {}),
            }.items()
        ],
        ports=[k8s.ContainerPort(name=port_name, container_port=port, protocol="TCP")],
        liveness_probe=_health(port_name),
        readiness_probe=_health(port_name),
        resources=resources(exporter.resources),
        security_context=container_security(names),
        volume_mounts=[*mounts(("exporter-auth", EXPORTER_DIR)), *tls_mounts(names)],
    )


def exporter_containers(names: Names) -> tuple[list[k8s.Container], list[k8s.Container]]:
    """(init containers, containers) of the pod's monitoring."""
    exporter = names.spec.monitoring.exporter
    user = {"REDIS_USER": exporter.username} if exporter.username else {}
    redis_env = {"REDIS_ADDR": redis_address(names), **user}
    keys = single_keys(names)
    if keys:
        redis_env["REDIS_EXPORTER_CHECK_SINGLE_KEYS"] = keys
    return [exporter_auth_container(names)], [
        _exporter(names, "exporter", REDIS_METRICS_PORT, exporter.port, redis_env, list(exporter.extra_args)),
        _exporter(
            names,
            "sentinel-exporter",
            SENTINEL_METRICS_PORT,
            exporter.sentinel_port,
            {"REDIS_ADDR": sentinel_address(names), **user},
            [],
        ),
    ]


def exporter_volumes(names: Names) -> list[k8s.Volume]:
    return [
        secrets_volume("exporter-secrets", exporter_secret_files(names)),
        k8s.Volume(
            name="exporter-auth",
            empty_dir=k8s.EmptyDirVolumeSource(medium="Memory", size_limit=quantity("1Mi")),
        ),
    ]
