"""What only an API server would reject (schemas do not): names, selectors, ports, PDB and Job fields.
Checked here so a pull request fails before Argo CD's sync does."""

from __future__ import annotations

import json
import re

from redis_gitops.contracts.bounds import DNS_LABEL, DNS_SUBDOMAIN
from redis_gitops.policies.manifests import Manifests, selects
from redis_gitops.policies.model import Family, Hit, rule

LABEL_NAMED = {"Namespace", "Service"}  # these names must be DNS-1123 labels, not subdomains
# What the API server stores: a ConfigMap or Secret holds at most 1 MiB (and etcd takes 1.5 MiB requests by
# default: 1 MiB for every object keeps a margin), annotations at most 256 KiB in all.
MAX_OBJECT_BYTES = 1 << 20
MAX_ANNOTATION_BYTES = 256 << 10
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@rule(
    "api-dns-names",
    Family.API_SERVER,
    "Object names are DNS-1123 (labels for Services and Namespaces); label values valid.",
)
def dns_names(m: Manifests):
    for o in m.objects:
        name = str((o.doc.get("metadata") or {}).get("name", ""))
        label = o.kind in LABEL_NAMED
        pattern, limit = (DNS_LABEL, 63) if label else (DNS_SUBDOMAIN, 253)
        if len(name) > limit or not pattern.fullmatch(name):
            yield Hit(
                o.ref,
                ("metadata", "name"),
                f"{o.kind} name {name!r} is not a DNS-1123 {'label' if label else 'subdomain'}",
                f"use lowercase letters, digits and '-', at most {limit}",
            )
        for key, value in o.labels.items():
            if len(str(value)) > 63 or not LABEL_VALUE.fullmatch(str(value)):
                yield Hit(
                    o.ref,
                    ("metadata", "labels", key),
                    f"label value {value!r} is invalid",
                    "use at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric",
                )


@rule(
    "api-object-size",
    Family.API_SERVER,
    "Every object fits the API server's limits: at most 1 MiB, annotations "
    "at most 256 KiB (a 50 MB waiver reason once rendered a 52 MB object).",
)
def object_size(m: Manifests):
    for o in m.objects:
        size = len(json.dumps(o.doc, default=str).encode())
        if size > MAX_OBJECT_BYTES:
            yield Hit(
                o.ref,
                (),
                f"{o.kind} is {size:,} bytes: the API server refuses objects over {MAX_OBJECT_BYTES:,}",
                "shrink what the spec puts into it (waiver reasons, queues, scripts)",
            )
        annotations = (o.doc.get("metadata") or {}).get("annotations") or {}
        total = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())
        if total > MAX_ANNOTATION_BYTES:
            yield Hit(
                o.ref,
                ("metadata", "annotations"),
                f"annotations take {total:,} bytes: the API server refuses more than {MAX_ANNOTATION_BYTES:,}",
                "shorten them (waiver reasons become annotations)",
            )


@rule("api-selector-matches-template", Family.API_SERVER, "A workload's selector matches its pod template's labels.")
def selector_matches(m: Manifests):
    for t in m.pod_templates():
        if t.owner.kind in ("Pod", "Job", "CronJob"):
            continue  # a Job's selector is generated (a CronJob's Jobs too)
        selector = (t.owner.doc.get("spec") or {}).get("selector")
        if not selects(selector, t.labels):
            yield Hit(
                t.owner.ref,
                ("spec", "selector"),
                "the selector does not match the pod template's labels: the API server refuses the object",
                "make spec.selector.matchLabels a subset of the template labels",
            )


@rule(
    "api-service-target-ports", Family.API_SERVER, "Every Service selects pods and targets a port a container declares."
)
def service_ports(m: Manifests):
    templates = m.pod_templates()
    for s in m.of_kind("Service"):
        spec = s.doc.get("spec") or {}
        selector = spec.get("selector")
        if not selector:
            continue
        pods = [
            t
            for t in templates
            if t.owner.ref.namespace == s.ref.namespace and all(t.labels.get(k) == v for k, v in selector.items())
        ]
        if not pods:
            yield Hit(
                s.ref,
                ("spec", "selector"),
                "the selector matches no pod template: the Service has no endpoints",
                "use the pod template's labels",
            )
            continue
        declared = {
            (p.get("name"), p.get("containerPort"))
            for t in pods
            for _, c in t.containers()
            for p in c.get("ports") or []
        }
        for i, port in enumerate(spec.get("ports") or []):
            target = port.get("targetPort", port.get("port"))
            if not any(target in pair for pair in declared):
                yield Hit(
                    s.ref,
                    ("spec", "ports", i, "targetPort"),
                    f"targetPort {target!r} is not a port of the selected containers",
                    "use a containerPort number or name the pods declare",
                )


@rule("api-port-ranges", Family.API_SERVER, "Every port number is within 1-65535.")
def port_ranges(m: Manifests):
    def bad(value) -> bool:
        return isinstance(value, int) and not 1 <= value <= 65535

    for t in m.pod_templates():
        for path, c in t.containers():
            for i, p in enumerate(c.get("ports") or []):
                if bad(p.get("containerPort")):
                    yield Hit(
                        t.owner.ref,
                        (*path, "ports", i, "containerPort"),
                        f"port {p.get('containerPort')} is out of range",
                        "use 1-65535",
                    )
    for s in m.of_kind("Service"):
        for i, p in enumerate((s.doc.get("spec") or {}).get("ports") or []):
            for key in ("port", "targetPort", "nodePort"):
                if bad(p.get(key)):
                    yield Hit(s.ref, ("spec", "ports", i, key), f"{key} {p.get(key)} is out of range", "use 1-65535")
    for n in m.of_kind("NetworkPolicy"):
        for direction in ("ingress", "egress"):
            for i, r in enumerate((n.doc.get("spec") or {}).get(direction) or []):
                for j, p in enumerate(r.get("ports") or []):
                    if bad(p.get("port")):
                        yield Hit(
                            n.ref,
                            ("spec", direction, i, "ports", j, "port"),
                            f"port {p.get('port')} is out of range",
                            "use 1-65535",
                        )


@rule(
    "api-pdb-fields",
    Family.API_SERVER,
    "A PodDisruptionBudget has a selector and only one of minAvailable/maxUnavailable.",
)
def pdb_fields(m: Manifests):
    for p in m.of_kind("PodDisruptionBudget"):
        spec = p.doc.get("spec") or {}
        if "minAvailable" in spec and "maxUnavailable" in spec:
            yield Hit(
                p.ref,
                ("spec",),
                "both minAvailable and maxUnavailable are set: the API server refuses it",
                "keep only maxUnavailable: 1",
            )
        if not spec.get("selector"):
            yield Hit(p.ref, ("spec", "selector"), "no selector: the budget protects nothing", "select the pods")


@rule("api-job-restart-policy", Family.API_SERVER, "A Job's pods restart Never or OnFailure.")
def job_restart_policy(m: Manifests):
    for t in m.pod_templates():
        if t.owner.kind == "Job" and t.spec.get("restartPolicy") not in ("Never", "OnFailure"):
            yield Hit(
                t.owner.ref,
                (*t.path, "spec", "restartPolicy"),
                f"restartPolicy {t.spec.get('restartPolicy')} is refused for a Job",
                "use restartPolicy: Never",
            )


@rule("api-statefulset-service", Family.API_SERVER, "A StatefulSet's serviceName is a headless Service in dist/.")
def statefulset_service(m: Manifests):
    headless = {
        (s.ref.namespace, s.ref.name)
        for s in m.of_kind("Service")
        if (s.doc.get("spec") or {}).get("clusterIP") == "None"
    }
    for o in m.of_kind("StatefulSet"):
        name = (o.doc.get("spec") or {}).get("serviceName")
        if (o.ref.namespace, name) not in headless:
            yield Hit(
                o.ref,
                ("spec", "serviceName"),
                f"serviceName {name!r} is not a headless Service here: the pods "
                "get no stable DNS names, which Sentinel announces",
                "point it at the headless Service",
            )
