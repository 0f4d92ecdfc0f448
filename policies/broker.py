"""Broker safety: Celery's queues and bindings must never be evicted."""

from __future__ import annotations

import re

from redis_gitops.policies.manifests import Manifests, selects
from redis_gitops.policies.model import Family, Hit, rule

# The namespace part of a Service DNS name: <pod>.<service>.<namespace>.svc.<cluster domain>.
SERVICE_DNS_NAMESPACE = re.compile(r"\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc\.")


@rule("broker-noeviction", Family.BROKER, "maxmemory-policy noeviction: an evicting policy silently drops tasks.")
def noeviction(m: Manifests):
    for conf in m.conf_files("redis.conf"):
        d = conf.last("maxmemory-policy")
        policy = d.words[1] if d and len(d.words) > 1 else "noeviction"  # Redis's default
        if policy != "noeviction":
            yield Hit(
                conf.owner.ref,
                ("data", conf.key),
                f"maxmemory-policy {policy} lets Redis evict Celery's queue "
                "lists and _kombu.binding.* keys: published tasks vanish without an error",
                "set redis.maxmemoryPolicy: noeviction in the spec",
                d.line,
            )


@rule(
    "broker-maxmemory", Family.BROKER, "maxmemory is set, so a full broker refuses writes instead of being OOM-killed."
)
def maxmemory(m: Manifests):
    for conf in m.conf_files("redis.conf"):
        d = conf.last("maxmemory")
        if d is None or len(d.words) < 2 or d.words[1] in ("0", "0b"):
            yield Hit(
                conf.owner.ref,
                ("data", conf.key),
                "no maxmemory: Redis grows until the kernel kills it, losing everything since the last fsync",
                "set redis.maxmemory (or 'auto') in the spec",
                d.line if d else None,
            )


@rule(
    "broker-no-replica-service",
    Family.BROKER,
    "No load-balanced Service over the Redis pods: clients reach the master through Sentinel.",
)
def no_replica_service(m: Manifests):
    for svc in m.of_kind("Service"):
        spec = svc.doc.get("spec") or {}
        if spec.get("clusterIP") == "None" or spec.get("type") == "ExternalName":
            continue  # headless: per-pod DNS names, no load balancing
        for template, redis, _ in m.redis_servers():
            if not spec.get("selector") or not selects({"matchLabels": dict(spec["selector"])}, template.labels):
                continue
            redis_ports = {p.get("name") for p in redis.get("ports") or []} | {
                p.get("containerPort") for p in redis.get("ports") or []
            }
            for i, port in enumerate(spec.get("ports") or []):
                if port.get("targetPort", port.get("port")) in redis_ports:
                    yield Hit(
                        svc.ref,
                        ("spec", "ports", i),
                        f"Service {svc.ref.name} balances Redis port "
                        f"{port.get('port')} over every Redis pod: a client that does not speak Sentinel lands "
                        "on a read-only replica two times in three",
                        "remove the Service and connect through Sentinel (sentinel:// URLs, redis.sentinel)",
                        None,
                    )


@rule(
    "broker-namespace-in-names",
    Family.BROKER,
    "Pods and the Job name the broker by DNS names in the namespace they run in (no overlay moved them).",
)
def namespace_in_names(m: Manifests):
    for t in m.pod_templates():
        home = t.owner.ref.namespace
        for path, c in t.containers():
            for i, env in enumerate(c.get("env") or []):
                named = {g[0] for g in SERVICE_DNS_NAMESPACE.findall(str(env.get("value") or ""))}
                if home and named - {home}:
                    yield Hit(
                        t.owner.ref,
                        (*path, "env", i),
                        f"{env.get('name')} names the broker in namespace "
                        f"{', '.join(sorted(named - {home}))} but {t.owner.ref} runs in {home}: an overlay moved "
                        "the objects (kustomize namespace:, Flux targetNamespace) but not the names the pods "
                        "announce",
                        "change `namespace` in the spec and render again; do not move dist/ with an overlay",
                        None,
                    )


@rule(
    "broker-readiness-probes",
    Family.BROKER,
    "Every container of the broker's pods has a readiness probe (checkov CKV_K8S_9): a pod is not counted "
    "ready, by the PodDisruptionBudget and by a rolling update, before each of its containers is.",
)
def readiness_probes(m: Manifests):
    for t in m.pod_templates():
        if t.owner.kind != "StatefulSet":
            continue
        for path, c in t.containers():
            if path[-2] == "containers" and not c.get("readinessProbe"):
                yield Hit(
                    t.owner.ref,
                    path,
                    f"container {c.get('name')} has no readinessProbe: the pod counts as ready "
                    "before it is, and a rolling update moves on",
                    "add a readinessProbe (the exporters: GET /health on their metrics port)",
                )
