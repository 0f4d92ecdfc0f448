"""redis.conf and sentinel.conf, rendered from the spec as plain text (no secrets, no per-pod values).

Per-pod values (the announced name, the role, passwords read from Secrets) are appended at start by
the pod scripts, because only the pod knows them; everything the reviewer should see is here.
"""

from __future__ import annotations

from redis_gitops.contracts.client_acl import (
    AIRFLOW_COMMANDS,
    CONFIRM_COMMAND,
    EXPORTER_COMMANDS,
    EXPORTER_SENTINEL_COMMANDS,
    KEDA_COMMANDS,
    KOMBU_KEYS,
    LIBRARY_NAME_COMMAND,
    SENTINEL_DISCOVERY_CHANNELS,
    SENTINEL_DISCOVERY_COMMANDS,
    SENTINEL_HELLO_CHANNEL,
    SENTINEL_MONITOR_COMMANDS,
    SENTINEL_MONITOR_USER,
    SMOKE_CELERY_COMMANDS,
    SMOKE_CELERY_KEYS,
    SMOKE_COMMANDS,
    SMOKE_KEYS,
    SMOKE_SENTINEL_COMMANDS,
)
from redis_gitops.contracts.engines import knows_client_setinfo, rdb_formats_text
from redis_gitops.contracts.paths import (
    AIRFLOW_ACL_FILE,
    EXPORTER_ACL_FILE,
    KEDA_ACL_FILE,
    RDB_FORMATS_FILE,
    SENTINEL_MONITOR_ACL_FILE,
    SMOKE_ACL_FILE,
    sentinel_acl_file,
)
from redis_gitops.synth.airflow_config import confirm_replicas
from redis_gitops.synth.spec import ClusterSpec, smoke_user

MASTER_HOST_PLACEHOLDER = "__MASTER_HOST__"
# A replica that comes back needs a full sync, and with min-replicas-to-write its master may refuse writes
# until one is linked: start the transfer after 1 s, not Redis's default 5 s (measured: NOREPLICAS lasted
# 5-6 s after both replicas were back), and at once when every replica is waiting for it.
DISKLESS_SYNC_DELAY_SECONDS = 1


def listen_lines(spec: ClusterSpec, port: int) -> list[str]:
    """The port directives: plain, or with `tls.enabled` TLS only (the plain port off). The pod scripts append
    the certificate files from TLS_DIR; passwords stay required (`tls-auth-clients no`: no client certificates,
    so Airflow and KEDA need only the CA)."""
    if not spec.tls.enabled:
        return [f"port {port}"]
    return [
        "# TLS only: no plain port. start-redis.sh / start-sentinel.sh append tls-cert-file, tls-key-file and",
        "# tls-ca-cert-file from TLS_DIR.",
        "port 0",
        f"tls-port {port}",
        "# Replication (and Sentinel's links to Redis and to the other Sentinels) over TLS too",
        "tls-replication yes",
        "tls-auth-clients no",
    ]


def redis_conf(spec: ClusterSpec) -> str:
    r, p = spec.redis, spec.persistence
    save = " ".join(f"{rule.seconds} {rule.changes}" for rule in p.rdb_save)
    lines = [
        "# Rendered by redis-gitops from cluster_spec.yaml. start-redis.sh appends dir, requirepass, masterauth,",
        "# replica-announce-ip and replicaof at start; passwords come from Secrets, never from this file.",
        *listen_lines(spec, r.port),
        "bind * -::*",
        "protected-mode yes",
        "daemonize no",
        'logfile ""',
        "# Persistence: RDB snapshots plus an append-only file",
        f"save {save}",
        "stop-writes-on-bgsave-error yes",
        f"appendonly {'yes' if p.aof.enabled else 'no'}",
        f"appendfsync {p.aof.fsync}",
        "aof-use-rdb-preamble yes",
        "# Memory: a broker must never evict",
        f"maxmemory {r.maxmemory_bytes}",
        f"maxmemory-policy {r.maxmemory_policy}",
        "# Replication: bound what an isolated master can accept and later lose",
        f"min-replicas-to-write {r.min_replicas_to_write}",
        f"min-replicas-max-lag {r.min_replicas_max_lag_seconds}",
        "replica-read-only yes",
        "replica-serve-stale-data yes",
        f"replica-announce-port {r.port}",
        "repl-diskless-sync yes",
        f"repl-diskless-sync-delay {DISKLESS_SYNC_DELAY_SECONDS}",
        f"repl-diskless-sync-max-replicas {r.replicas - 1}",
        "tcp-keepalive 60",
        "timeout 0",
    ]
    return "\n".join(lines) + "\n"


def kombu_channels(spec: ClusterSpec) -> tuple[str, ...]:
    """kombu's fanout channels (`/<db>.<exchange>/<routing key>`): Celery's remote control and events. A
    PSUBSCRIBE pattern must be granted literally (Redis compares patterns as strings), PUBLISH matches them."""
    db = spec.airflow.database_index
    return (f"/{db}.celery.pidbox", f"/{db}.celeryev/*", f"/{db}.celeryev/worker.*")


def library_name(spec: ClusterSpec) -> tuple[str, ...]:
    """CLIENT SETINFO for the clients that name their library, where the engine knows the command."""
    return (LIBRARY_NAME_COMMAND,) if knows_client_setinfo(spec.redis.engine, spec.redis.version) else ()


def airflow_commands(spec: ClusterSpec) -> tuple[str, ...]:
    """Airflow's commands; SELECT only of its own database, and only when that is not 0 (redis-py sends none);
    WAIT only when its transport confirms writes."""
    db = spec.airflow.database_index
    confirms = (CONFIRM_COMMAND,) if confirm_replicas(spec) else ()
    return (*AIRFLOW_COMMANDS, *library_name(spec), *confirms, *((f"select|{db}",) if db else ()))


def _user(
    name: str, keys: tuple[str, ...], channels: tuple[str, ...], commands: tuple[str, ...], key_access: str = ""
) -> str:
    """A `user` directive that starts from nothing (reset: no command, key or channel) and grants only these
    (no password: the pod appends it)."""
    words = [
        "user",
        name,
        "reset",
        "on",
        *(f"{key_access}~{k}" for k in keys),
        *(f"&{c}" for c in channels),
        "-@all",
        *(f"+{c}" for c in commands),
    ]
    return " ".join(words) + "\n"


def airflow_acl(spec: ClusterSpec) -> str:
    """Airflow's Celery user. A queue's pattern ends in `*` to cover kombu's priority lists
    (`<queue>\\x06\\x16<n>`)."""
    a = spec.airflow
    return _user(a.username, (*KOMBU_KEYS, *(f"{q}*" for q in a.queues)), kombu_channels(spec), airflow_commands(spec))


def keda_acl(spec: ClusterSpec) -> str:
    """KEDA's user: LLEN of the queues, read-only."""
    return _user(
        spec.airflow.keda.username, spec.airflow.queues, (), (*KEDA_COMMANDS, *library_name(spec)), key_access="%R"
    )


def sentinel_client_acl(spec: ClusterSpec, username: str) -> str:
    """A client's user on the Sentinels (same name and password as on Redis): discovery only."""
    return _user(username, (), SENTINEL_DISCOVERY_CHANNELS, (*SENTINEL_DISCOVERY_COMMANDS, *library_name(spec)))


def exporter_keys(spec: ClusterSpec) -> list[str]:
    """The Celery keys the exporter reads: each queue's list and kombu's unacked hash (tasks being run)."""
    return [*spec.airflow.queues, "unacked"] if spec.airflow.enabled else []


def exporter_acl(spec: ClusterSpec) -> str:
    """`user` directive for the exporter: read-only, on the keys it measures (no password: the pod appends it)."""
    words = [
        "user",
        spec.monitoring.exporter.username,
        "reset",
        "on",
        *(f"%R~{k}" for k in exporter_keys(spec)),
        "resetchannels",
        EXPORTER_COMMANDS,
    ]
    return " ".join(words) + "\n"


def keda_enabled(spec: ClusterSpec) -> bool:
    return spec.airflow.enabled and spec.airflow.keda.enabled


def sentinel_monitor_acl() -> str:
    """The Sentinels' own user on Redis: what they send to monitor, announce and fail over, on no key and only
    their hello channel. Its password is the Sentinel password, so a Sentinel never holds Redis's admin one."""
    return _user(SENTINEL_MONITOR_USER, (), (SENTINEL_HELLO_CHANNEL,), SENTINEL_MONITOR_COMMANDS)


def smoke_acl(spec: ClusterSpec) -> str:
    """The smoke Job's user: its health key and what its checks read; kombu's probe queue with the Celery round
    trip."""
    celery = spec.smoke.celery_round_trip
    return _user(
        spec.smoke.username,
        (*SMOKE_KEYS, *(SMOKE_CELERY_KEYS if celery else ())),
        (),
        (*SMOKE_COMMANDS, *(SMOKE_CELERY_COMMANDS if celery else ()), *library_name(spec)),
    )


def acl_files(spec: ClusterSpec) -> dict[str, str]:
    """The Redis ACL users' files in the config ConfigMap (contracts/paths.py: `<role>.acl`)."""
    exporter = spec.monitoring.exporter
    return {
        SENTINEL_MONITOR_ACL_FILE: sentinel_monitor_acl(),
        **({AIRFLOW_ACL_FILE: airflow_acl(spec)} if spec.airflow.enabled else {}),
        **({KEDA_ACL_FILE: keda_acl(spec)} if keda_enabled(spec) else {}),
        **({EXPORTER_ACL_FILE: exporter_acl(spec)} if exporter.enabled and exporter.username else {}),
        **({SMOKE_ACL_FILE: smoke_acl(spec)} if smoke_user(spec) else {}),
    }


def sentinel_acl_files(spec: ClusterSpec) -> dict[str, str]:
    """The Sentinel ACL users' files (`<role>.sentinel-acl`): each client of the Sentinels (Airflow and KEDA
    discover the master, the exporter and the smoke Job read their state) has a user there, with its Redis password;
    the Sentinel password stays with the broker's pods."""
    exporter = spec.monitoring.exporter
    return {
        **(
            {sentinel_acl_file(AIRFLOW_ACL_FILE): sentinel_client_acl(spec, spec.airflow.username)}
            if spec.airflow.enabled
            else {}
        ),
        **(
            {sentinel_acl_file(KEDA_ACL_FILE): sentinel_client_acl(spec, spec.airflow.keda.username)}
            if keda_enabled(spec)
            else {}
        ),
        **(
            {sentinel_acl_file(EXPORTER_ACL_FILE): _user(exporter.username, (), (), EXPORTER_SENTINEL_COMMANDS)}
            if exporter.enabled and exporter.username
            else {}
        ),
        **(
            {
                sentinel_acl_file(SMOKE_ACL_FILE): _user(
                    spec.smoke.username, (), (), (*SMOKE_SENTINEL_COMMANDS, *library_name(spec))
                )
            }
            if smoke_user(spec)
            else {}
        ),
    }


def sentinel_conf(spec: ClusterSpec) -> str:
    s, m = spec.sentinel, spec.sentinel.master_name
    lines = [
        "# Rendered by redis-gitops from cluster_spec.yaml. start-sentinel.sh fills in the current master,",
        "# announces this pod's DNS name and appends the passwords from Secrets.",
        *listen_lines(spec, s.port),
        "bind * -::*",
        "protected-mode yes",
        "daemonize no",
        'logfile ""',
        "# Announce stable DNS names, never pod IPs (they change on restart)",
        "sentinel resolve-hostnames yes",
        "sentinel announce-hostnames yes",
        f"sentinel monitor {m} {MASTER_HOST_PLACEHOLDER} {spec.redis.port} {s.quorum}",
        f"sentinel down-after-milliseconds {m} {s.down_after_milliseconds}",
        f"sentinel failover-timeout {m} {s.failover_timeout_milliseconds}",
        f"sentinel parallel-syncs {m} {s.parallel_syncs}",
        "# Sentinel reaches Redis as its own user (sentinel.acl), never as admin; start-sentinel.sh appends its",
        "# password (the Sentinel password)",
        f"sentinel auth-user {m} {SENTINEL_MONITOR_USER}",
    ]
    return "\n".join(lines) + "\n"


def config_files(spec: ClusterSpec) -> dict[str, str]:
    """The config ConfigMap's data: what the pods read at start (its hash rolls them when it changes)."""
    return {
        "redis.conf": redis_conf(spec),
        "sentinel.conf": sentinel_conf(spec),
        RDB_FORMATS_FILE: rdb_formats_text(),
        **acl_files(spec),
        **sentinel_acl_files(spec),
    }
