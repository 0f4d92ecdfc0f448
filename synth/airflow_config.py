"""What Airflow needs to use the broker, derived from the spec: AIRFLOW__ variables, airflow.cfg sections and
values for the official Airflow Helm chart.

Airflow holds one credential, its own user's password, valid on Redis (its queues) and on the Sentinels (discovery
only). Passwords never appear here: Airflow's `_CMD` options run `redis_gitops_airflow.broker_url` (installed in the
Airflow image, see airflow_broker/) on password files mounted from the existing Secrets. Only the local
cluster's config (`redis-gitops airflow-config --dir`) carries literal passwords, and it is never committed.
"""

from __future__ import annotations

import json
import shlex

from redis_gitops.contracts.broker_url import sentinel_broker_url, tls_kwargs
from redis_gitops.contracts.paths import AIRFLOW_PASSWORD_FILE, TLS_CA_FILE
from redis_gitops.synth.naming import Names
from redis_gitops.synth.spec import ClusterSpec

PACKAGE = "redis_gitops_airflow"
CELERY_CONFIG_OPTIONS = f"{PACKAGE}.celery_config.CELERY_CONFIG"
BROKER_URL_COMMAND = ("python", "-m", f"{PACKAGE}.broker_url")
VOLUME = "redis-broker-auth"
PUBLISH_ATTEMPTS_THROUGH_A_FAILOVER = 15


def sentinel_socket_timeout(spec: ClusterSpec) -> float:
    """Each Sentinel lookup gives up after this (connect and reply): half of Airflow's operation_timeout, so a
    Sentinel that accepts and never answers costs one publish this long and the next Sentinel answers within the
    attempt. Without it redis-py waits forever on Sentinel connections once sentinel_kwargs is set (measured:
    publishes blocked > 120 s)."""
    return spec.airflow.operation_timeout_seconds / 2


def confirm_replicas(spec: ClusterSpec) -> int:
    """How many replicas must hold a publish (and a delivered task's record) before it counts: as many as the
    master needs to accept writes at all. 0: no confirmation."""
    return spec.redis.min_replicas_to_write if spec.airflow.confirm_publishes else 0


def confirm_timeout(spec: ClusterSpec) -> float:
    """How long the master may wait for the replicas: what is left of one publish attempt after a silent
    Sentinel, halved, so an attempt holds an unconfirmed write, a Sentinel lookup and a confirmed retry."""
    return (spec.airflow.operation_timeout_seconds - sentinel_socket_timeout(spec)) / 2


def sentinel_addresses(spec: ClusterSpec) -> list[str]:
    """Every Sentinel by its pod's stable DNS name: kombu and KEDA try them in turn."""
    return [f"{fqdn}:{spec.sentinel.port}" for fqdn in Names(spec).pod_fqdns]


def _commands(spec: ClusterSpec, sentinels: list[str], mount: str, ca_file: str | None) -> tuple[str, str]:
    a = spec.airflow
    url = [
        *BROKER_URL_COMMAND,
        "url",
        "--sentinels",
        ",".join(sentinels),
        "--db",
        str(a.database_index),
        "--username",
        a.username,
        "--password-file",
        f"{mount}/{AIRFLOW_PASSWORD_FILE}",
    ]
    # Airflow's own user on the Sentinels too (discovery only): the Sentinel password never reaches Airflow's pods.
    kwargs = [
        *BROKER_URL_COMMAND,
        "sentinel-kwargs",
        "--username",
        a.username,
        "--password-file",
        f"{mount}/{AIRFLOW_PASSWORD_FILE}",
        "--socket-timeout",
        str(sentinel_socket_timeout(spec)),
        *(["--tls-ca-file", ca_file] if ca_file else []),
    ]
    return shlex.join(url), shlex.join(kwargs)


def _ca_file(spec: ClusterSpec, mount: str, ca_file: str | None) -> str | None:
    """With TLS, the CA certificate Airflow verifies the broker with (mounted beside the password files)."""
    return (ca_file or f"{mount}/{TLS_CA_FILE}") if spec.tls.enabled else None


def _plain_options(spec: ClusterSpec, ca_file: str | None) -> dict[str, dict[str, str]]:
    """The options that hold no secret, by airflow.cfg section. With TLS, Airflow's own `[celery] ssl_*` options:
    its provider turns them into kombu's broker_use_ssl (server verified against the CA, no client certificate:
    the broker asks for passwords, not certificates)."""
    a = spec.airflow
    tls = {"ssl_active": "True", "ssl_mutual_tls": "False", "ssl_cacert": ca_file} if ca_file else {}
    return {
        "celery": {
            "celery_config_options": CELERY_CONFIG_OPTIONS,
            "worker_concurrency": str(a.worker_concurrency),
            "operation_timeout": str(a.operation_timeout_seconds),
            # Each publish attempt ends at Airflow's 1 s operation_timeout; a timed-out task is re-sent,
            # so this many attempts ride out a master crash (~6 s) instead of failing the task.
            "task_publish_max_retries": str(PUBLISH_ATTEMPTS_THROUGH_A_FAILOVER),
            **tls,
        },
        "celery_broker_transport_options": {
            "master_name": spec.sentinel.master_name,
            "visibility_timeout": str(a.visibility_timeout_seconds),
            # Read by redis_gitops_airflow's transport only (kombu's own ignores them).
            "confirm_replicas": str(confirm_replicas(spec)),
            "confirm_timeout": str(confirm_timeout(spec)),
        },
        "operators": {"default_queue": a.queues[0]},
    }


def cfg_sections(
    spec: ClusterSpec, sentinels: list[str] | None = None, mount: str | None = None, ca_file: str | None = None
) -> dict[str, dict[str, str]]:
    """airflow.cfg sections; the secret options as `_cmd` options reading the mounted password files (and with
    TLS the CA, `ca_file` or ca.crt in the mount)."""
    mount = mount or spec.airflow.secrets_mount_path
    ca = _ca_file(spec, mount, ca_file)
    url_cmd, kwargs_cmd = _commands(spec, sentinels or sentinel_addresses(spec), mount, ca)
    sections = _plain_options(spec, ca)
    sections["celery"]["broker_url_cmd"] = url_cmd
    sections["celery_broker_transport_options"]["sentinel_kwargs_cmd"] = kwargs_cmd
    return sections


def cfg_sections_with_passwords(
    spec: ClusterSpec, sentinels: list[str], airflow_password: str, ca_file: str | None = None
) -> dict[str, dict[str, str]]:
    """Usable as is against a local cluster: the passwords written in (never for a real cluster)."""
    a = spec.airflow
    ca = ca_file if spec.tls.enabled else None
    sections = _plain_options(spec, ca)
    sections["celery"]["broker_url"] = sentinel_broker_url(sentinels, a.database_index, airflow_password, a.username)
    sections["celery_broker_transport_options"]["sentinel_kwargs"] = json.dumps(
        {
            "username": a.username,
            "password": airflow_password,
            "socket_timeout": sentinel_socket_timeout(spec),
            "socket_connect_timeout": sentinel_socket_timeout(spec),
            **tls_kwargs(ca),
        }
    )
    return sections


def environment(sections: dict[str, dict[str, str]]) -> dict[str, str]:
    """The same options as AIRFLOW__SECTION__KEY variables (Airflow reads `_cmd` ones as `..._CMD`)."""
    return {
        f"AIRFLOW__{section.upper()}__{key.upper()}": value
        for section, options in sections.items()
        for key, value in options.items()
    }


def cfg_text(sections: dict[str, dict[str, str]]) -> str:
    out = []
    for section, options in sections.items():
        out.append(f"[{section}]")
        out.extend(f"{k} = {v}" for k, v in options.items())
        out.append("")
    return "\n".join(out)


def helm_values(spec: ClusterSpec) -> dict:
    """Values for the official Airflow chart (apache-airflow/airflow): our broker instead of its own Redis, the
    passwords mounted from the Secrets, the secret options as _CMD variables, KEDA left to our ScaledObject."""
    a = spec.airflow
    sections = cfg_sections(spec)
    secret_options = {k: v for k, v in environment(sections).items() if k.endswith("_CMD")}
    sources: dict[str, list[dict[str, str]]] = {}  # Secret name -> its items (both may be one Secret)
    sources.setdefault(a.password.secret_name, []).append({"key": a.password.key, "path": AIRFLOW_PASSWORD_FILE})
    if spec.tls.enabled:  # the CA only: Airflow needs no certificate of its own
        sources.setdefault(Names(spec).tls_secret, []).append({"key": TLS_CA_FILE, "path": TLS_CA_FILE})
    return {
        "executor": "CeleryExecutor",
        "redis": {"enabled": False},
        # The chart would otherwise set AIRFLOW__CELERY__BROKER_URL from its own Secret, which wins over _CMD.
        "enableBuiltInSecretEnvVars": {"AIRFLOW__CELERY__BROKER_URL": False},
        "env": [{"name": k, "value": v} for k, v in secret_options.items()],
        "config": {
            section: {k: v for k, v in options.items() if not k.endswith("_cmd")}
            for section, options in sections.items()
        },
        "volumes": [
            {
                "name": VOLUME,
                "projected": {
                    "defaultMode": 0o440,
                    "sources": [{"secret": {"name": name, "items": its}} for name, its in sources.items()],
                },
            }
        ],
        "volumeMounts": [{"name": VOLUME, "mountPath": a.secrets_mount_path, "readOnly": True}],
        "workers": {"keda": {"enabled": False}},
    }
