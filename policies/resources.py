"""Resources: every container is bounded, and Redis keeps headroom under its memory limit."""

from __future__ import annotations

from redis_gitops.contracts.bounds import MAX_MAXMEMORY_RATIO, percent
from redis_gitops.policies.manifests import Manifests, memory_bytes
from redis_gitops.policies.model import Family, Hit, rule


@rule("resources-requests-limits", Family.RESOURCES, "CPU and memory requests and limits on every container.")
def requests_limits(m: Manifests):
    for t in m.pod_templates():
        for path, c in t.containers():
            r = c.get("resources") or {}
            missing = [
                f"{kind}.{res}"
                for kind in ("requests", "limits")
                for res in ("cpu", "memory")
                if res not in (r.get(kind) or {})
            ]
            if missing:
                yield Hit(
                    t.owner.ref,
                    (*path, "resources"),
                    f"container {c.get('name')} has no {', '.join(missing)}: "
                    "it can starve its neighbours or be killed first",
                    "set requests and limits for cpu and memory (the resources sections of the spec)",
                )


@rule(
    "resources-maxmemory-headroom",
    Family.RESOURCES,
    f"maxmemory at most {percent(MAX_MAXMEMORY_RATIO)} of the redis container's memory limit.",
)
def maxmemory_headroom(m: Manifests):
    limits = [
        memory_bytes(((c.get("resources") or {}).get("limits") or {}).get("memory")) for _, c, _ in m.redis_servers()
    ]
    limits = [x for x in limits if x]
    if not limits:
        return  # no limit at all is resources-requests-limits' finding
    limit = min(limits)
    for conf in m.conf_files("redis.conf"):
        d = conf.last("maxmemory")
        if d and len(d.words) > 1 and d.words[1].isdigit() and int(d.words[1]) > limit * MAX_MAXMEMORY_RATIO:
            yield Hit(
                conf.owner.ref,
                ("data", conf.key),
                f"maxmemory {d.words[1]} is above {percent(MAX_MAXMEMORY_RATIO)} of the redis memory "
                f"limit ({limit} bytes): the kernel kills Redis during a rewrite or a replica sync",
                f"lower maxmemory to at most {int(limit * MAX_MAXMEMORY_RATIO)} bytes, or use 'auto'",
                d.line,
            )
