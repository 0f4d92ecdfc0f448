"""The environment contracts: what the pod scripts read (set by the StatefulSet and by the local cluster), and
what the smoke Job's command reads (set by the Job). The header of pod_scripts/lib.sh lists the first;
tests/test_contracts.py holds the StatefulSet, the local cluster, lib.sh and runtime/ to these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# name -> meaning, in the order lib.sh documents them.
POD_SCRIPT_ENV = {
    "SELF_HOST": "name this pod announces (its headless-Service FQDN in Kubernetes)",
    "PEER_HOSTS": "every pod's announced name, in ordinal order (SELF_HOST among them)",
    "LOCAL_HOST": "address of this pod's own Redis and Sentinel (default 127.0.0.1)",
    "REDIS_PORT": "Redis's port",
    "SENTINEL_PORT": "Sentinel's port",
    "MASTER_NAME": "the name Sentinel monitors the master under",
    "SECRETS_DIR": "read-only password files from Secrets: redis-password, sentinel-password, <client>-password",
    "CONFIG_DIR": "read-only templates (redis.conf, sentinel.conf)",
    "RUNTIME_DIR": "Redis only: writable in-memory folder for its rendered config (holds passwords)",
    "DATA_DIR": "the PersistentVolumeClaim: Redis's data; Sentinel's state (0600) in $DATA_DIR/sentinel",
    "HANDOVER_TIMEOUT_SECONDS": "preStop: longest the hand-over may pause writes and wait for a new master",
    "BIND_ADDRESS": "optional: listen only here (the local cluster gives each pod its own address)",
    "TLS_DIR": "optional: tls.crt, tls.key, ca.crt; set, every server listens and every redis-cli dials TLS only",
    "REDIS_USER": "optional: the Sentinel container's `sentinel` reads Redis as that user with sentinel-password; "
    "unset, the admin with redis-password",
    "ENGINE": "optional: valkey runs valkey-server, valkey-cli and valkey-check-rdb; unset (redis), the redis-* ones",
}
# Set only where needed: LOCAL_HOST has a default, RUNTIME_DIR is the Redis container's, BIND_ADDRESS local,
# REDIS_USER the Sentinel container's, ENGINE a Valkey broker's.
OPTIONAL_POD_SCRIPT_ENV = ("LOCAL_HOST", "RUNTIME_DIR", "BIND_ADDRESS", "TLS_DIR", "REDIS_USER", "ENGINE")


@dataclass(frozen=True)
class PodScriptEnv:
    """lib.sh's environment, typed: the StatefulSet's containers, the backup and restore Jobs, the local cluster
    and the failover check all build it here, so no place can miss or misspell a variable. `self_host` None: the
    caller sets SELF_HOST itself (a Job, from the downward API)."""

    self_host: str | None
    peer_hosts: tuple[str, ...]
    redis_port: int
    sentinel_port: int
    master_name: str
    secrets_dir: str
    local_host: str | None = None
    config_dir: str | None = None
    runtime_dir: str | None = None
    data_dir: str | None = None
    handover_timeout_seconds: int | None = None
    bind_address: str | None = None
    tls_dir: str | None = None
    redis_user: str | None = None
    engine: str | None = None  # None: redis (the rendering of a Redis broker stays as it was)
    extra: Mapping[str, str] = field(default_factory=dict)  # the script's own (BACKUP_ENV, RESTORE_ENV)

    def variables(self) -> dict[str, str]:
        """Name -> value in POD_SCRIPT_ENV's order, then the script's own; unset optional ones left out."""
        values = {
            "SELF_HOST": self.self_host,
            "PEER_HOSTS": " ".join(self.peer_hosts),
            "LOCAL_HOST": self.local_host,
            "REDIS_PORT": str(self.redis_port),
            "SENTINEL_PORT": str(self.sentinel_port),
            "MASTER_NAME": self.master_name,
            "SECRETS_DIR": self.secrets_dir,
            "CONFIG_DIR": self.config_dir,
            "RUNTIME_DIR": self.runtime_dir,
            "DATA_DIR": self.data_dir,
            "HANDOVER_TIMEOUT_SECONDS": None
            if self.handover_timeout_seconds is None
            else str(self.handover_timeout_seconds),
            "BIND_ADDRESS": self.bind_address,
            "TLS_DIR": self.tls_dir,
            "REDIS_USER": self.redis_user,
            "ENGINE": None if self.engine in (None, "redis") else self.engine,
        }
        unknown = set(self.extra) - set(BACKUP_ENV) - set(RESTORE_ENV) - set(POD_SCRIPT_ENV)
        if unknown:
            raise ValueError(f"not a pod script variable: {', '.join(sorted(unknown))} (contracts/pod_env.py)")
        return {**{k: v for k, v in values.items() if v is not None}, **self.extra}


# name -> meaning: the exporter's init container (pod_scripts/exporter-auth.sh, whose header lists them too).
EXPORTER_AUTH_ENV = {
    "SECRETS_DIR": "the password files",
    "EXPORTER_TARGETS": "space-separated ADDRESS=FILE pairs: each exporter target and its password file",
    "EXPORTER_PASSWORD_FILE": "where to write the file (an in-memory folder the exporters mount read-only)",
}

# name -> meaning: what backup.sh reads besides POD_SCRIPT_ENV (the backup CronJob and `backup now` set them).
BACKUP_ENV = {
    "BACKUP_DIR": "where the snapshots live (the backup PVC)",
    "BACKUP_RETENTION": "how many snapshots to keep",
    "BACKUP_TIMEOUT_SECONDS": "optional: longest one snapshot transfer may take (default 600)",
    "BACKUP_WAIT_SECONDS": "optional: how long to wait for a replica in sync (default 60)",
}

# name -> meaning: what backup-upload.sh reads (the backup CronJob's upload container, with `backup.s3`).
BACKUP_UPLOAD_ENV = {
    "BACKUP_DIR": "where backup.sh left its snapshots",
    "SECRETS_DIR": "the credential files s3-access-key-id and s3-secret-access-key (from Secrets)",
    "S3_ENDPOINT": "the S3 API's URL",
    "S3_BUCKET": "the bucket",
    "S3_PREFIX": "optional: a folder in the bucket, ending in '/'",
    "S3_REGION": "optional: the region (empty: the endpoint's default)",
    "S3_PATH_STYLE": "optional: true (default: https://endpoint/bucket/key) or false (https://bucket.endpoint/key)",
    "S3_RETENTION": "how many snapshots to keep in the bucket",
}

# name -> meaning: what restore.sh reads besides POD_SCRIPT_ENV (the restore Job and `restore --local` set them).
RESTORE_ENV = {
    "RESTORE_SNAPSHOT": "the snapshot file",
    "RESTORE_ID": "this restore's name; a marker restored-<id> beside the snapshot makes it run once",
    "RESTORE_DIR": "a writable folder for the temporary server",
    "RESTORE_SYNC_SECONDS": "optional: longest each step may wait for the pods to sync (default 600)",
}

# name -> meaning: the smoke Job's environment (runtime/ reads it; synth/components/smoke.py sets it).
SMOKE_ENV = {
    "REDIS_SENTINELS": "host:port of every Sentinel, comma-separated",
    "REDIS_NODES": "host:port of every Redis, comma-separated",
    "REDIS_MASTER_NAME": "the name Sentinel monitors the master under",
    "REDIS_MAXMEMORY_POLICY": "the maxmemory-policy every Redis must have",
    "SMOKE_MAX_WRITE_OUTAGE_SECONDS": "write outage the failover check tolerates",
    "SMOKE_WAIT_SECONDS": "how long the checks wait for the broker to be healthy",
    "HANDOVER_TIMEOUT_SECONDS": "the preStop's hand-over timeout (the check runs the same script)",
    "REDIS_USERNAME": "optional: the ACL user on Redis (the Job's own; unset: the admin)",
    "REDIS_PASSWORD_FILE": "file holding that user's password on Redis (a mounted Secret)",
    "REDIS_SENTINEL_USERNAME": "optional: the ACL user on the Sentinels (the Job's own; unset: the admin)",
    "REDIS_SENTINEL_PASSWORD_FILE": "file holding that user's password on the Sentinels (a mounted Secret)",
    "REDIS_PASSWORD": "optional, by hand: Redis's password itself (the Job mounts files instead)",
    "REDIS_SENTINEL_PASSWORD": "optional, by hand: Sentinel's password itself",
    "REDIS_DB": "optional: the database number (default 0)",
    "REDIS_SOCKET_TIMEOUT": "optional: seconds per command and connect (default 0.5)",
    "REDIS_TLS_CA_FILE": "optional: the CA certificate; set, every connection (Redis and Sentinel) is TLS",
}
OPTIONAL_SMOKE_ENV = (
    "REDIS_USERNAME",
    "REDIS_SENTINEL_USERNAME",
    "REDIS_PASSWORD",
    "REDIS_SENTINEL_PASSWORD",
    "REDIS_DB",
    "REDIS_SOCKET_TIMEOUT",
    "REDIS_TLS_CA_FILE",
)


def lib_sh_header() -> str:
    """The comment at the top of pod_scripts/lib.sh that documents POD_SCRIPT_ENV (a test holds them equal)."""
    lines = [
        "# Helpers shared by the pod scripts. They read only environment variables (contracts/pod_env.py) and",
        "# the password files in SECRETS_DIR, so the same files run in a Kubernetes pod and in the local cluster",
        "# (`redis-gitops local up`):",
    ]
    lines += [f"#   {name:<25} {meaning}" for name, meaning in POD_SCRIPT_ENV.items()]
    return "\n".join(lines) + "\n"
