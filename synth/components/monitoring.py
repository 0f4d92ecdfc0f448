"""What Prometheus and Grafana read: the ServiceMonitor over both exporters of every pod, the PrometheusRule
and the dashboard."""

from __future__ import annotations

from cdk8s_plus_33 import k8s
from constructs import Construct

from redis_gitops.synth.alerts import SERVER_LABEL, rule_groups
from redis_gitops.synth.components.common import MISSING_CRD_OK, WAVE_OBSERVE, meta_fields
from redis_gitops.synth.components.custom import custom_resource
from redis_gitops.synth.components.exporter import REDIS_METRICS_PORT, SENTINEL_METRICS_PORT
from redis_gitops.synth.dashboard import dashboard_json
from redis_gitops.synth.naming import Names


def _endpoint(names: Names, port: str, server: str) -> dict:
    """Every series carries `server` (redis or sentinel: which exporter it came from) besides the Operator's
    `namespace`, `service` and `pod`; the rules and the dashboard select by them, whatever the job is called."""
    return {
        "port": port,
        "interval": names.spec.monitoring.service_monitor.interval,
        "path": "/metrics",
        "relabelings": [{"action": "replace", "targetLabel": SERVER_LABEL, "replacement": server}],
    }


def service_monitor(scope: Construct, names: Names) -> None:
    spec = names.spec
    metadata = meta_fields(
        names,
        names.service_monitor,
        "monitoring",
        WAVE_OBSERVE,
        labels=spec.monitoring.service_monitor.labels,
        annotations=MISSING_CRD_OK,
    )
    custom_resource(
        scope,
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
        metadata,
        {
            "selector": {"matchLabels": names.labels("headless")},
            "namespaceSelector": {"matchNames": [spec.namespace]},
            "endpoints": [
                _endpoint(names, REDIS_METRICS_PORT, "redis"),
                _endpoint(names, SENTINEL_METRICS_PORT, "sentinel"),
            ],
        },
    )


def prometheus_rule(scope: Construct, names: Names) -> None:
    """The alerts of synth/alerts.py, labelled for the Prometheus Operator's ruleSelector."""
    metadata = meta_fields(
        names,
        names.prometheus_rule,
        "monitoring",
        WAVE_OBSERVE,
        labels=names.spec.monitoring.alerts.labels,
        annotations=MISSING_CRD_OK,
    )
    custom_resource(scope, "monitoring.coreos.com/v1", "PrometheusRule", metadata, {"groups": rule_groups(names)})


def dashboard_config_map(scope: Construct, names: Names) -> None:
    """The Grafana dashboard for kube-prometheus-stack's sidecar, which loads ConfigMaps carrying its label
    (set its searchNamespace to ALL, or to this namespace)."""
    k8s.KubeConfigMap(
        scope,
        "dashboard",
        metadata=k8s.ObjectMeta(
            **meta_fields(
                names,
                names.dashboard_config_map,
                "monitoring",
                WAVE_OBSERVE,
                labels=names.spec.monitoring.dashboard.labels,
            )
        ),
        data={f"{names.dashboard_config_map}.json": dashboard_json(names)},
    )
