"""Broker safety: Celery's queues and bindings must never be evicted."""
from __future__ import annotations

from policies.manifests import Manifests
from policies.model import rule


@rule("broker-noeviction", "broker", "maxmemory-policy noeviction: an evicting policy silently drops tasks.")
def noeviction(m: Manifests):
    for conf in m.conf_files("redis.conf"):
        d = conf.last("maxmemory-policy")
        policy = d.words[1] if d and len(d.words) > 1 else "noeviction"  # Redis's default
        if policy != "noeviction":
            yield (conf.owner.ref, ("data", conf.key), f"maxmemory-policy {policy} lets Redis evict Celery's queue "
                   "lists and _kombu.binding.* keys: published tasks vanish without an error",
                   "set redis.maxmemoryPolicy: noeviction in the spec", d.line)


@rule("broker-maxmemory", "broker", "maxmemory is set, so a full broker refuses writes instead of being OOM-killed.")
def maxmemory(m: Manifests):
    for conf in m.conf_files("redis.conf"):
        d = conf.last("maxmemory")
        if d is None or len(d.words) < 2 or d.words[1] in ("0", "0b"):
            yield (conf.owner.ref, ("data", conf.key), "no maxmemory: Redis grows until the kernel kills it, "
                   "losing everything since the last fsync", "set redis.maxmemory (or 'auto') in the spec",
                   d.line if d else None)
