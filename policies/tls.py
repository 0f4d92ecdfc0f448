"""TLS: once redis.conf or sentinel.conf turns TLS on (`tls.enabled` in the spec), every server listens on TLS
only and replicates over it, and every client we render (the pod scripts, the exporters, the smoke Job, KEDA,
Airflow) speaks it with the CA. A half-TLS cluster is worse than none: it looks encrypted and is not."""

from __future__ import annotations

from redis_gitops.contracts.paths import TLS_CA_FILE
from redis_gitops.policies.manifests import Manifests, env_of
from redis_gitops.policies.model import Family, Hit, rule

SERVER_CONFS = ("redis.conf", "sentinel.conf")


def tls_on(m: Manifests) -> bool:
    return any(conf.last("tls-port") is not None for key in SERVER_CONFS for conf in m.conf_files(key))


@rule(
    "security-tls-only",
    Family.SECURITY,
    "With TLS on, Redis and Sentinel listen on TLS only (port 0) and replicate and talk to each other over it.",
)
def tls_only(m: Manifests):
    if not tls_on(m):
        return
    for key in SERVER_CONFS:
        for conf in m.conf_files(key):
            port, tls_port = conf.last("port"), conf.last("tls-port")
            where = ("data", key)
            if tls_port is None:
                yield Hit(
                    conf.owner.ref,
                    where,
                    f"{key} has no tls-port while the other server config uses TLS",
                    "render both from one spec (tls.enabled)",
                )
                continue
            if port is None or port.words[1:] != ("0",):
                plain = port.words[1] if port else "6379 (Redis's default)"
                yield Hit(
                    conf.owner.ref,
                    where,
                    f"{key} enables TLS (tls-port {tls_port.words[1]}) but leaves the plain port {plain} open",
                    "set `port 0`: clients would still connect unencrypted",
                    port.line if port else tls_port.line,
                )
            replication = conf.last("tls-replication")
            if replication is None or replication.words[1:] != ("yes",):
                yield Hit(
                    conf.owner.ref,
                    where,
                    f"{key} uses TLS for clients but not for replication and Sentinel's links (tls-replication)",
                    "set `tls-replication yes`",
                    replication.line if replication else tls_port.line,
                )


def _ca_mounted(template, container, path: str) -> bool:
    """`path` (a file) lies in a read-only mount of a Secret or projected volume of the pod."""
    volumes = {v.get("name"): v for v in template.spec.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        folder = str(mount.get("mountPath", "")).rstrip("/") + "/"
        volume = volumes.get(mount.get("name")) or {}
        if path.startswith(folder) and mount.get("readOnly") and ("secret" in volume or "projected" in volume):
            return True
    return False


def _value(env: dict, name: str) -> str:
    return str((env.get(name) or (0, {}))[1].get("value", ""))


@rule(
    "security-tls-clients",
    Family.SECURITY,
    "With TLS on, every client rendered here dials TLS with the CA: the pod "
    "scripts (TLS_DIR), the exporters (rediss://), the smoke Job, KEDA and Airflow.",
)
def tls_clients(m: Manifests):
    if not tls_on(m):
        return
    for t in m.pod_templates():
        for path, c in t.containers():
            env = env_of(c)
            name = c.get("name")
            if "SECRETS_DIR" in env and "REDIS_PORT" in env:  # runs our pod scripts
                tls_dir = _value(env, "TLS_DIR")
                if not tls_dir or not _ca_mounted(t, c, f"{tls_dir}/{TLS_CA_FILE}"):
                    yield Hit(
                        t.owner.ref,
                        (*path, "env"),
                        f"container {name} runs the pod scripts without TLS_DIR "
                        "on a mounted certificate Secret: its redis-cli would dial the plain port",
                        "set TLS_DIR to the mount of the certificate Secret",
                    )
            if "REDIS_ADDR" in env:  # redis_exporter
                ca = _value(env, "REDIS_EXPORTER_TLS_CA_CERT_FILE")
                if not _value(env, "REDIS_ADDR").startswith("rediss://") or not ca or not _ca_mounted(t, c, ca):
                    yield Hit(
                        t.owner.ref,
                        (*path, "env"),
                        f"container {name} scrapes {_value(env, 'REDIS_ADDR')} without TLS and the CA",
                        "use rediss:// and REDIS_EXPORTER_TLS_CA_CERT_FILE on the mounted CA",
                    )
            if "REDIS_SENTINELS" in env:  # the smoke image
                ca = _value(env, "REDIS_TLS_CA_FILE")
                if not ca or not _ca_mounted(t, c, ca):
                    yield Hit(
                        t.owner.ref,
                        (*path, "env"),
                        f"container {name} checks the broker without TLS",
                        "set REDIS_TLS_CA_FILE to the mounted CA",
                    )
    for o in m.of_kind("ScaledObject"):
        for i, trigger in enumerate((o.doc.get("spec") or {}).get("triggers") or []):
            if (
                trigger.get("type", "").startswith("redis")
                and str((trigger.get("metadata") or {}).get("enableTLS", "")).lower() != "true"
            ):
                yield Hit(
                    o.ref,
                    ("spec", "triggers", i, "metadata"),
                    "KEDA's trigger reads the queues without TLS",
                    'set enableTLS: "true" (and the `ca` parameter in its TriggerAuthentication)',
                )
    values = m.airflow_values
    if values is not None:
        celery = (values.doc.get("config") or {}).get("celery") or {}
        if str(celery.get("ssl_active", "")).lower() != "true" or not celery.get("ssl_cacert"):
            yield Hit(
                values.ref,
                ("config", "celery"),
                "Airflow's Celery reaches the broker without TLS",
                "set [celery] ssl_active True and ssl_cacert to the mounted CA",
            )
