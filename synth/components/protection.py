"""PodDisruptionBudget (one pod down at a time) and the NetworkPolicy (who may connect)."""

from __future__ import annotations

from cdk8s_plus_33 import k8s
from constructs import Construct

from redis_gitops.synth.components.common import WAVE_NETWORK, broker_egress, int_or_string, meta
from redis_gitops.synth.naming import Names


def disruption_budget(scope: Construct, names: Names) -> None:
    k8s.KubePodDisruptionBudget(
        scope,
        "pdb",
        metadata=meta(names, names.pdb, "server", WAVE_NETWORK),
        spec=k8s.PodDisruptionBudgetSpec(
            max_unavailable=int_or_string(1),
            selector=k8s.LabelSelector(match_labels=names.selector_labels),
        ),
    )


def _tcp(port: int) -> k8s.NetworkPolicyPort:
    return k8s.NetworkPolicyPort(protocol="TCP", port=int_or_string(port))


def network_policy(scope: Construct, names: Names) -> None:
    spec = names.spec
    broker_ports = [_tcp(spec.redis.port), _tcp(spec.sentinel.port)]
    clients = [
        k8s.NetworkPolicyPeer(
            pod_selector=k8s.LabelSelector(match_labels=c.pod_selector),
            namespace_selector=k8s.LabelSelector(match_labels=c.namespace_selector) if c.namespace_selector else None,
        )
        for c in spec.network.clients
    ]
    rules = [
        # The cluster's own pods: replication, Sentinel gossip and the preStop hand-over.
        k8s.NetworkPolicyIngressRule(
            from_=[k8s.NetworkPolicyPeer(pod_selector=k8s.LabelSelector(match_labels=names.selector_labels))],
            ports=broker_ports,
        ),
        k8s.NetworkPolicyIngressRule(from_=clients, ports=broker_ports),
    ]
    if spec.smoke.enabled:  # the PostSync smoke Job checks both ports
        rules.append(
            k8s.NetworkPolicyIngressRule(
                from_=[k8s.NetworkPolicyPeer(pod_selector=k8s.LabelSelector(match_labels=names.smoke_selector_labels))],
                ports=broker_ports,
            )
        )
    if spec.backup.enabled:  # the backup pod asks the Sentinels for a replica and reads its snapshot
        rules.append(
            k8s.NetworkPolicyIngressRule(
                from_=[
                    k8s.NetworkPolicyPeer(pod_selector=k8s.LabelSelector(match_labels=names.backup_selector_labels))
                ],
                ports=broker_ports,
            )
        )
    if spec.restore is not None:  # the restore pod re-points every Redis and every Sentinel
        rules.append(
            k8s.NetworkPolicyIngressRule(
                from_=[
                    k8s.NetworkPolicyPeer(pod_selector=k8s.LabelSelector(match_labels=names.restore_selector_labels))
                ],
                ports=broker_ports,
            )
        )
    if spec.airflow.enabled and spec.airflow.keda.enabled:  # KEDA's operator reads the queue lengths
        rules.append(
            k8s.NetworkPolicyIngressRule(
                from_=[
                    k8s.NetworkPolicyPeer(
                        namespace_selector=k8s.LabelSelector(
                            match_labels={"kubernetes.io/metadata.name": spec.airflow.keda.operator_namespace}
                        )
                    )
                ],
                ports=broker_ports,
            )
        )
    if spec.monitoring.exporter.enabled:
        rules.append(
            k8s.NetworkPolicyIngressRule(
                from_=[
                    k8s.NetworkPolicyPeer(
                        namespace_selector=k8s.LabelSelector(
                            match_labels={"kubernetes.io/metadata.name": spec.monitoring.namespace}
                        )
                    )
                ],
                ports=[_tcp(spec.monitoring.exporter.port), _tcp(spec.monitoring.exporter.sentinel_port)],
            )
        )
    k8s.KubeNetworkPolicy(
        scope,
        "network-policy",
        metadata=meta(names, names.network_policy, "server", WAVE_NETWORK),
        spec=k8s.NetworkPolicySpec(
            pod_selector=k8s.LabelSelector(match_labels=names.selector_labels),
            policy_types=["Ingress", "Egress"],
            ingress=rules,
            egress=broker_egress(names),
        ),
    )
