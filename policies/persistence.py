"""Persistence: every acknowledged task survives a restart (AOF with fsync, RDB snapshots) on a volume that
outlives the pod and has room for the dataset plus a rewrite."""

from __future__ import annotations

from redis_gitops.contracts.bounds import SAFE_AOF_FSYNC
from redis_gitops.contracts.paths import DATA_DIR
from redis_gitops.policies.manifests import Manifests, env_of, memory_bytes
from redis_gitops.policies.model import Family, Hit, rule


@rule("persistence-aof", Family.PERSISTENCE, "appendonly yes with an fsync policy of everysec or always.")
def aof(m: Manifests):
    for conf in m.conf_files("redis.conf"):
        on = conf.last("appendonly")
        if on is None or on.words[1:] != ("yes",):
            yield Hit(
                conf.owner.ref,
                ("data", conf.key),
                "AOF is off: a restart loses every write since the last snapshot, i.e. queued Celery tasks",
                "set persistence.aof.enabled: true in the spec",
                on.line if on else None,
            )
        fsync = conf.last("appendfsync")
        if fsync is None or fsync.words[1:] not in ((p,) for p in SAFE_AOF_FSYNC):
            yield Hit(
                conf.owner.ref,
                ("data", conf.key),
                f"appendfsync {conf.value('appendfsync') or 'unset'}: the kernel decides when writes reach the disk",
                "use appendfsync everysec (or always)",
                fsync.line if fsync else None,
            )


@rule("persistence-rdb", Family.PERSISTENCE, "RDB save rules, so a replica can resync and backups exist.")
def rdb(m: Manifests):
    for conf in m.conf_files("redis.conf"):
        saves = conf.all("save")
        last = saves[-1] if saves else None
        if last is None or len(last.words) < 3 or last.words[1] in ("", '""'):
            yield Hit(
                conf.owner.ref,
                ("data", conf.key),
                "no RDB save rule: no snapshot for backups or a fast restart",
                "set persistence.rdbSave in the spec (e.g. 3600 1, 300 100, 60 10000)",
                last.line if last else None,
            )


def data_dir_of(container) -> str:
    env = env_of(container)
    return str(env["DATA_DIR"][1].get("value", DATA_DIR)) if "DATA_DIR" in env else DATA_DIR


@rule(
    "persistence-data-volume",
    Family.PERSISTENCE,
    "Redis's data folder is a PersistentVolumeClaim from a volumeClaimTemplate, never emptyDir or hostPath.",
)
def data_volume(m: Manifests):
    for t, c, path in m.redis_servers():
        folder = data_dir_of(c)
        mount = next(((i, v) for i, v in enumerate(c.get("volumeMounts") or []) if v.get("mountPath") == folder), None)
        if mount is None:
            yield Hit(
                t.owner.ref,
                (*path, "volumeMounts"),
                f"nothing is mounted at {folder}: data lives in the container's filesystem and dies with it",
                f"mount a volumeClaimTemplate at {folder}",
            )
            continue
        name = mount[1].get("name")
        claims = {
            (ct.get("metadata") or {}).get("name")
            for ct in (t.owner.doc.get("spec") or {}).get("volumeClaimTemplates") or []
        }
        volumes = {v.get("name"): (i, v) for i, v in enumerate(t.spec.get("volumes") or [])}
        if name in volumes:
            i, v = volumes[name]
            kind = next((k for k in v if k != "name"), "?")
            yield Hit(
                t.owner.ref,
                (*t.path, "spec", "volumes", i),
                f"{folder} is on volume {name!r} ({kind}): the queue is lost when the pod moves or restarts",
                f"remove volume {name!r} and keep {folder} on a volumeClaimTemplate (persistence in the spec)",
            )
        elif name not in claims:
            yield Hit(
                t.owner.ref,
                (*path, "volumeMounts", mount[0]),
                f"{folder} mounts {name!r}, which no volumeClaimTemplate provides",
                f"add a volumeClaimTemplate named {name!r}",
            )


def data_claims(m: Manifests):
    for t, c, _path in m.redis_servers():
        folder = data_dir_of(c)
        names = {v.get("name") for v in c.get("volumeMounts") or [] if v.get("mountPath") == folder}
        for i, ct in enumerate((t.owner.doc.get("spec") or {}).get("volumeClaimTemplates") or []):
            if (ct.get("metadata") or {}).get("name") in names:
                yield t, c, i, ct


@rule("persistence-access-mode", Family.PERSISTENCE, "The data claim is ReadWriteOnce (or ReadWriteOncePod).")
def access_mode(m: Manifests):
    for t, _c, i, ct in data_claims(m):
        modes = list((ct.get("spec") or {}).get("accessModes") or [])
        if not modes or any(mode not in ("ReadWriteOnce", "ReadWriteOncePod") for mode in modes):
            yield Hit(
                t.owner.ref,
                ("spec", "volumeClaimTemplates", i, "spec", "accessModes"),
                f"access modes {modes}: a Redis data folder must belong to exactly one pod",
                "use accessMode: ReadWriteOnce in the spec",
            )


@rule(
    "persistence-size",
    Family.PERSISTENCE,
    "The data claim holds a dataset at maxmemory plus an AOF rewrite (at least 2 x maxmemory).",
)
def size(m: Manifests):
    maxmemory = max(
        (int(c.value("maxmemory") or 0) for c in m.conf_files("redis.conf") if (c.value("maxmemory") or "").isdigit()),
        default=0,
    )
    for t, _c, i, ct in data_claims(m):
        storage = ((ct.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")
        size_bytes = memory_bytes(storage)
        if size_bytes is None or (maxmemory and size_bytes < 2 * maxmemory):
            yield Hit(
                t.owner.ref,
                ("spec", "volumeClaimTemplates", i, "spec", "resources", "requests", "storage"),
                f"claim size {storage} cannot hold a dataset at maxmemory ({maxmemory} bytes) plus an AOF rewrite",
                f"request at least {2 * maxmemory} bytes (persistence.size in the spec)",
            )
