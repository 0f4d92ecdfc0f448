"""ServiceMonitor: Prometheus Operator scrapes redis_exporter on every pod through the headless Service."""
from __future__ import annotations

from constructs import Construct

from synth.components.common import MISSING_CRD_OK, WAVE_OBSERVE, meta_fields
from synth.components.custom import custom_resource
from synth.naming import Names


def service_monitor(scope: Construct, names: Names) -> None:
    spec = names.spec
    metadata = meta_fields(
        names, names.service_monitor, "monitoring", WAVE_OBSERVE, labels=spec.monitoring.service_monitor.labels,
        annotations=MISSING_CRD_OK,
    )
    custom_resource(scope, "service-monitor", "monitoring.coreos.com/v1", "ServiceMonitor", metadata, {
        "selector": {"matchLabels": names.labels("headless")},
        "namespaceSelector": {"matchNames": [spec.namespace]},
        "endpoints": [{"port": "metrics", "interval": spec.monitoring.service_monitor.interval, "path": "/metrics"}],
    })
