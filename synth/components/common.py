"""Metadata shared by every object: explicit name, namespace, labels and the Argo CD sync wave."""

from __future__ import annotations

import functools

from cdk8s_plus_33 import k8s

from redis_gitops.synth.naming import Names

# Argo CD applies lower waves first: config before the pods that read it, pods before their monitors.
WAVE_FOUNDATION = -1  # Namespace, ServiceAccount, ConfigMaps
WAVE_NETWORK = 0  # Services, NetworkPolicy, PodDisruptionBudget
WAVE_WORKLOAD = 1  # StatefulSet
WAVE_OBSERVE = 2  # ServiceMonitor, KEDA
WAVE_RESTORE = 3  # a restore Job: after the StatefulSet is healthy
# Argo CD must not fail the dry run before the custom resource's CRD (Prometheus Operator, KEDA) is installed.
MISSING_CRD_OK = {"argocd.argoproj.io/sync-options": "SkipDryRunOnMissingResource=true"}


@functools.cache
def quantity(text: str) -> k8s.Quantity:
    """k8s.Quantity.from_string, once per value and process: each is a call into Node.js, and environments
    repeat the same few sizes (the value is immutable, so one object serves every rendering)."""
    return k8s.Quantity.from_string(text)


@functools.cache
def int_or_string(value: int | str) -> k8s.IntOrString:
    """k8s.IntOrString, once per value and process (as quantity)."""
    return k8s.IntOrString.from_number(value) if isinstance(value, int) else k8s.IntOrString.from_string(value)


def meta_fields(
    names: Names,
    name: str,
    component: str,
    wave: int | None,
    namespaced: bool = True,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict:
    """wave=None for Argo CD hooks, which run in their own phase and take no sync wave."""
    waves = {} if wave is None else {"argocd.argoproj.io/sync-wave": str(wave)}
    return {
        "name": name,
        "namespace": names.spec.namespace if namespaced else None,
        "labels": {**names.labels(component), **(labels or {})},
        "annotations": {**waves, **(annotations or {})},
    }


def meta(names: Names, name: str, component: str, wave: int, namespaced: bool = True) -> k8s.ObjectMeta:
    return k8s.ObjectMeta(**meta_fields(names, name, component, wave, namespaced))


def resources(r) -> k8s.ResourceRequirements:
    return k8s.ResourceRequirements(
        requests={
            "cpu": quantity(r.requests.cpu),
            "memory": quantity(r.requests.memory),
        },
        limits={"cpu": quantity(r.limits.cpu), "memory": quantity(r.limits.memory)},
    )


DNS_PORT = 53


def tcp_port(port: int, protocol: str = "TCP") -> k8s.NetworkPolicyPort:
    return k8s.NetworkPolicyPort(protocol=protocol, port=int_or_string(port))


def broker_egress(names: Names) -> list[k8s.NetworkPolicyEgressRule]:
    """Where a pod of ours may connect: the broker's pods on Redis's and Sentinel's ports, and DNS (to any address
    on port 53: the resolver's address and labels differ between distributions). A pod told to follow a master
    elsewhere (a forged Sentinel hello) cannot reach it."""
    spec = names.spec
    return [
        k8s.NetworkPolicyEgressRule(
            to=[k8s.NetworkPolicyPeer(pod_selector=k8s.LabelSelector(match_labels=names.selector_labels))],
            ports=[tcp_port(spec.redis.port), tcp_port(spec.sentinel.port)],
        ),
        k8s.NetworkPolicyEgressRule(ports=[tcp_port(DNS_PORT, "UDP"), tcp_port(DNS_PORT)]),
    ]
