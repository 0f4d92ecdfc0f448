"""ServiceMonitor: Prometheus Operator scrapes both exporters of every pod through the headless Service."""
from __future__ import annotations

from constructs import Construct

from synth.components.common import MISSING_CRD_OK, WAVE_OBSERVE, meta_fields
from synth.components.custom import custom_resource
from synth.components.exporter import REDIS_METRICS_PORT, SENTINEL_METRICS_PORT
from synth.naming import Names


# Every series carries `server` (redis or sentinel: which exporter it came from) besides the Operator's `pod` and
# `namespace`; the rules and the dashboard select by them, so they work with any Prometheus job name.
SERVER_LABEL = "server"


def _endpoint(names: Names, port: str, server: str) -> dict:
    return {"port": port, "interval": names.spec.monitoring.service_monitor.interval, "path": "/metrics",
            "relabelings": [{"action": "replace", "targetLabel": SERVER_LABEL, "replacement": server}]}


def service_monitor(scope: Construct, names: Names) -> None:
    spec = names.spec
    metadata = meta_fields(
        names, names.service_monitor, "monitoring", WAVE_OBSERVE, labels=spec.monitoring.service_monitor.labels,
        annotations=MISSING_CRD_OK,
    )
    custom_resource(scope, "service-monitor", "monitoring.coreos.com/v1", "ServiceMonitor", metadata, {
        "selector": {"matchLabels": names.labels("headless")},
        "namespaceSelector": {"matchNames": [spec.namespace]},
        "endpoints": [_endpoint(names, REDIS_METRICS_PORT, "redis"), _endpoint(names, SENTINEL_METRICS_PORT, "sentinel")],
    })
