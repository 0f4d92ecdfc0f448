"""The headless Service (stable pod DNS names) and the Sentinel Service.

There is deliberately no ClusterIP Service over Redis: it would select every pod, so a client that does not
speak Sentinel would land on a read-only replica two times in three, and no label can follow the master
without giving the pods API access. Clients find the master through Sentinel (redis-py's `redis.sentinel`,
Celery/kombu's `sentinel://`, KEDA's `redis-sentinel` scaler); a pod's own DNS name serves diagnostics.
"""

from __future__ import annotations

from cdk8s_plus_33 import k8s
from constructs import Construct

from redis_gitops.synth.components.common import WAVE_NETWORK, int_or_string, meta
from redis_gitops.synth.components.exporter import REDIS_METRICS_PORT, SENTINEL_METRICS_PORT
from redis_gitops.synth.naming import Names


def _port(name: str, port: int) -> k8s.ServicePort:
    return k8s.ServicePort(name=name, port=port, target_port=int_or_string(name), protocol="TCP")


def services(scope: Construct, names: Names) -> None:
    spec = names.spec
    redis, sentinel = _port("redis", spec.redis.port), _port("sentinel", spec.sentinel.port)
    headless_ports = [redis, sentinel]
    if spec.monitoring.exporter.enabled:
        headless_ports += [
            _port(REDIS_METRICS_PORT, spec.monitoring.exporter.port),
            _port(SENTINEL_METRICS_PORT, spec.monitoring.exporter.sentinel_port),
        ]
    k8s.KubeService(
        scope,
        "headless",
        metadata=meta(names, names.headless_service, "headless", WAVE_NETWORK),
        spec=k8s.ServiceSpec(
            cluster_ip="None",
            # Peers must resolve each other before they are ready, or a starting pod cannot find the master.
            publish_not_ready_addresses=True,
            selector=names.selector_labels,
            ports=headless_ports,
        ),
    )
    k8s.KubeService(
        scope,
        "sentinel",
        metadata=meta(names, names.sentinel_service, "sentinel", WAVE_NETWORK),
        # Pod readiness includes the Redis container, and every replica is not ready while its master is
        # down: the Sentinels must stay reachable exactly then, to name the new master.
        spec=k8s.ServiceSpec(
            type="ClusterIP", selector=names.selector_labels, ports=[sentinel], publish_not_ready_addresses=True
        ),
    )
