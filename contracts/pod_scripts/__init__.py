"""The pod scripts (POSIX sh): the generator ships them in a ConfigMap, the failover check runs the preStop
one, the local cluster runs them all. Their environment is contracts.pod_env.POD_SCRIPT_ENV."""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
NAMES = (
    "lib.sh",
    "start-redis.sh",
    "start-sentinel.sh",
    "prestop-redis.sh",
    "probe.sh",
    "exporter-auth.sh",
    "backup.sh",
    "backup-upload.sh",
    "restore.sh",
)
# What the broker's pods run: a change to these rolls them (the others run in Job pods only).
POD_NAMES = tuple(n for n in NAMES if n not in ("backup.sh", "backup-upload.sh", "restore.sh"))


def text(name: str) -> str:
    return (FOLDER / name).read_text()
