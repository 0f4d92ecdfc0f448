"""The cert-manager Certificate behind `tls.certManager`: one certificate for every pod's Redis and Sentinel.

Its names are every name a client of ours dials: each pod's stable DNS name (replication, Sentinel, the smoke
Job, Airflow, KEDA), both Services, and the loopback address (the exporters and the probes dial the pod's own
servers on 127.0.0.1). One certificate, not one per pod: the pods of a StatefulSet share their template.
"""

from __future__ import annotations

from constructs import Construct

from redis_gitops.synth.components.common import MISSING_CRD_OK, WAVE_FOUNDATION, meta_fields
from redis_gitops.synth.components.custom import custom_resource
from redis_gitops.synth.naming import Names

LOOPBACK_NAMES, LOOPBACK_ADDRESSES = ["localhost"], ["127.0.0.1"]


def service_dns_names(names: Names, service: str) -> list[str]:
    spec = names.spec
    return [
        service,
        f"{service}.{spec.namespace}",
        f"{service}.{spec.namespace}.svc",
        f"{service}.{spec.namespace}.svc.{spec.cluster_domain}",
    ]


def certificate_dns_names(names: Names) -> list[str]:
    return [
        *names.pod_fqdns,
        *service_dns_names(names, names.headless_service),
        *service_dns_names(names, names.sentinel_service),
        *LOOPBACK_NAMES,
    ]


def certificate(scope: Construct, names: Names) -> None:
    cm = names.spec.tls.cert_manager
    custom_resource(
        scope,
        "cert-manager.io/v1",
        "Certificate",
        # Before the pods that mount its Secret (a pod waits for a missing Secret volume, then starts).
        meta_fields(names, names.certificate, "tls", WAVE_FOUNDATION, annotations=MISSING_CRD_OK),
        {
            "secretName": names.tls_secret,
            "issuerRef": {"name": cm.issuer_ref.name, "kind": cm.issuer_ref.kind, "group": cm.issuer_ref.group},
            "duration": cm.duration,
            "renewBefore": cm.renew_before,
            "commonName": names.pod_fqdns[0],
            "dnsNames": certificate_dns_names(names),
            "ipAddresses": LOOPBACK_ADDRESSES,
            # Redis shows the same certificate when it dials a peer (replication, Sentinel's links).
            "usages": ["digital signature", "key encipherment", "server auth", "client auth"],
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "secretTemplate": {"labels": names.labels("tls")},
        },
    )
