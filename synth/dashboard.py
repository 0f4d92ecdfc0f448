"""The Grafana dashboard, generated (not pasted): every panel's query is built here from the same selectors the
alerts use, so tests/test_monitoring_live.py can check each metric and label against a real scrape.

`namespace` and `instance` are template variables; the `server` label (redis or sentinel) comes from the
ServiceMonitor's relabeling.
"""

from __future__ import annotations

import json

from redis_gitops.synth.alerts import SERVER_LABEL
from redis_gitops.synth.naming import Names
from redis_gitops.synth.redis_config import exporter_keys

RATE = "$__rate_interval"
WIDTH, HEIGHT = 12, 8  # half the grid's width per panel


def _sel(server: str | None = None, **more: str) -> str:
    labels = ['namespace="$namespace"', 'instance=~"$instance"']
    if server:
        labels.append(f'{SERVER_LABEL}="{server}"')
    labels += [f'{k}=~"{v}"' if "|" in v else f'{k}="{v}"' for k, v in more.items()]
    return "{" + ",".join(labels) + "}"


def _panel(
    title: str, targets: list[tuple[str, str]], unit: str = "short", kind: str = "timeseries", description: str = ""
) -> dict:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def panels(names: Names) -> list[dict]:
    redis, sentinel = _sel("redis"), _sel("sentinel")
    master = names.spec.sentinel.master_name
    out = [
        _panel(
            "Masters (by run_id: 1 is healthy)",
            [(f"count(count by (run_id) (redis_instance_info{_sel('redis', role='master')}))", "masters")],
            kind="stat",
            description="0: writes fail; 2 or more: a master about to be demoted still takes writes",
        ),
        _panel(
            "Role over time (1 = master)",
            [(f"max by (pod) (redis_instance_info{_sel('redis', role='master')})", "{{pod}}")],
            description="a change of pod is a failover or a hand-over",
        ),
        _panel(
            "Replication lag (s)",
            [(f"max by (pod, slave_ip) (redis_connected_slave_lag_seconds{redis})", "{{pod}} -> {{slave_ip}}")],
            unit="s",
            description=f"above min-replicas-max-lag ({names.spec.redis.min_replicas_max_lag_seconds} s) "
            "the master stops counting the replica",
        ),
        _panel("Replica link up", [(f"redis_master_link_up{redis}", "{{pod}}")]),
        _panel(
            "Memory used vs maxmemory",
            [
                (f"redis_memory_used_bytes{redis}", "{{pod}} used"),
                (f"redis_memory_max_bytes{redis}", "{{pod}} maxmemory"),
            ],
            unit="bytes",
            description="noeviction: at maxmemory every write fails with OOM",
        ),
        _panel(
            "Commands per second",
            [(f"sum by (pod) (rate(redis_commands_processed_total{redis}[{RATE}]))", "{{pod}}")],
            unit="ops",
        ),
        _panel(
            "Average command latency",
            [
                (
                    f"sum by (pod) (rate(redis_commands_duration_seconds_total{redis}[{RATE}])) / "
                    f"sum by (pod) (rate(redis_commands_total{redis}[{RATE}]))",
                    "{{pod}}",
                )
            ],
            unit="s",
        ),
        _panel(
            "Clients and rejections",
            [
                (f"redis_connected_clients{redis}", "{{pod}} connected"),
                (f"redis_blocked_clients{redis}", "{{pod}} blocked (BRPOP: idle workers)"),
                (f"rate(redis_rejected_connections_total{redis}[{RATE}])", "{{pod}} rejected/s"),
            ],
        ),
        _panel(
            "Persistence (1 = last write ok)",
            [
                (f"redis_rdb_last_bgsave_status{redis}", "{{pod}} RDB"),
                (f"redis_aof_last_write_status{redis}", "{{pod}} AOF write"),
                (f"redis_aof_last_bgrewrite_status{redis}", "{{pod}} AOF rewrite"),
            ],
        ),
        _panel(
            "Seconds since the last RDB save",
            [(f"time() - redis_rdb_last_save_timestamp_seconds{redis}", "{{pod}}")],
            unit="s",
        ),
        _panel(
            "Sentinels each Sentinel sees (usable)",
            [(f"redis_sentinel_master_ok_sentinels{_sel('sentinel', master_name=master)}", "{{pod}}")],
            description=f"quorum {names.spec.sentinel.quorum} of {names.spec.redis.replicas}",
        ),
        _panel(
            "Quorum reachable (CKQUORUM)",
            [(f"redis_sentinel_master_ckquorum_status{_sel('sentinel', master_name=master)}", "{{pod}}")],
        ),
        _panel(
            "Master each Sentinel names",
            [(f"count by (master_address) (redis_sentinel_master_status{sentinel})", "{{master_address}}")],
            description="more than one line: the Sentinels disagree",
        ),
    ]
    keys = exporter_keys(names.spec)
    if keys:
        out.append(
            _panel(
                "Celery queues (tasks waiting) and unacked (tasks running)",
                [(f"max by (key) (redis_key_size{_sel('redis', key='|'.join(keys))})", "{{key}}")],
            )
        )
    for i, panel in enumerate(out):
        panel["id"] = i + 1
        panel["gridPos"] = {"h": HEIGHT, "w": WIDTH, "x": (i % 2) * WIDTH, "y": (i // 2) * HEIGHT}
    return out


def dashboard(names: Names) -> dict:
    namespace = names.spec.namespace
    return {
        "title": f"Redis broker ({names.base}, {namespace})",
        "uid": f"redis-gitops-{names.base}",
        "tags": ["redis", "sentinel", "celery", "redis-gitops"],
        "timezone": "browser",
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
                {
                    "name": "namespace",
                    "type": "query",
                    "label": "Namespace",
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "query": "label_values(redis_up, namespace)",
                    "refresh": 2,
                    "current": {"text": namespace, "value": namespace},
                },
                {
                    "name": "instance",
                    "type": "query",
                    "label": "Instance",
                    "multi": True,
                    "includeAll": True,
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "query": 'label_values(redis_up{namespace="$namespace"}, instance)',
                    "refresh": 2,
                    "current": {"text": "All", "value": "$__all"},
                },
            ]
        },
        "panels": panels(names),
    }


def dashboard_json(names: Names) -> str:
    return json.dumps(dashboard(names), indent=2, sort_keys=True) + "\n"
