"""The broker's Prometheus alerts, rendered from the spec: each with a runbook line, thresholds from the spec
where the spec holds the number, and only metric names the real exporter produces (tests/test_monitoring_live.py
checks them against a scrape of the local cluster).

Series are selected by `namespace` and `service` (what the Prometheus Operator adds for a ServiceMonitor) and by
`server` (redis or sentinel: which exporter, from the ServiceMonitor's relabeling). Masters are counted by
`run_id`, not by scrape target, so two scrapes of one Redis never count twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis_gitops.synth.naming import Names
from redis_gitops.synth.redis_config import exporter_keys

SERVER_LABEL = "server"  # set by the ServiceMonitor's relabeling: "redis" or "sentinel"
# How long a condition lasts before it pages; a planned or automatic failover takes seconds, not minutes.
SHORT, LONG = "1m", "5m"


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    severity: str  # critical: writes fail or will; warning: redundancy or headroom lost; info: worth knowing
    summary: str
    runbook: str  # what to look at first
    for_: str = "0m"


def selector(names: Names, server: str | None = None, regex: dict[str, str] | None = None, **equal: str) -> str:
    """The label matchers of this broker's series (`regex`: label -> =~ pattern)."""
    labels = {
        "namespace": names.spec.namespace,
        "service": names.headless_service,
        **({SERVER_LABEL: server} if server else {}),
        **equal,
    }
    matchers = [f'{k}="{v}"' for k, v in labels.items()] + [f'{k}=~"{v}"' for k, v in (regex or {}).items()]
    return "{" + ",".join(matchers) + "}"


def alerts(names: Names) -> list[Alert]:
    spec, a = names.spec, names.spec.monitoring.alerts
    redis, sentinel = selector(names, "redis"), selector(names, "sentinel")
    masters = f"count(count by (run_id) (redis_instance_info{selector(names, 'redis', role='master')}))"
    master = spec.sentinel.master_name
    out = [
        Alert(
            "RedisNoMaster",
            f"({masters} or vector(0)) < 1",
            "critical",
            f"No Redis in {spec.namespace} is master: Celery cannot publish or ack",
            "expected for the seconds of a failover; longer: `redis-gitops smoke`, SENTINEL MASTERS on each pod, "
            "the Sentinel logs (-failover-abort-*)",
        ),
        Alert(
            "RedisTooManyMasters",
            f"{masters} > 1",
            "critical",
            "More than one Redis reports the master role: writes may land on a master that is about to be demoted",
            "find the pod Sentinel does not name (SENTINEL GET-MASTER-ADDR-BY-NAME); Sentinel reconfigures it once "
            "it sees it; if it persists, check the network between the pods",
            SHORT,
        ),
        Alert(
            "RedisSentinelQuorumLost",
            f"min(redis_sentinel_master_ckquorum_status{sentinel}) == 0",
            "critical",
            "Sentinels cannot reach quorum: no failover will happen if the master fails",
            "SENTINEL CKQUORUM on each pod; bring the Sentinel containers back (at least "
            f"{spec.sentinel.quorum} of {spec.redis.replicas} must see each other)",
            SHORT,
        ),
        Alert(
            "RedisSentinelQuorumAtRisk",
            f"min(redis_sentinel_master_ok_sentinels{sentinel}) < {spec.redis.replicas}",
            "warning",
            f"A Sentinel sees fewer than all {spec.redis.replicas} Sentinels: one more loss stops failovers",
            "which pod's Sentinel is down or cut off: `kubectl get pods`, the sentinel container's log",
            LONG,
        ),
        Alert(
            "RedisSentinelDisagrees",
            "count(count by (master_address) "
            f"(redis_sentinel_master_status{selector(names, 'sentinel', master_name=master)})) > 1",
            "warning",
            "The Sentinels name different masters for " + master,
            "SENTINEL GET-MASTER-ADDR-BY-NAME on each pod; a Sentinel cut off from its peers keeps an old view",
            SHORT,
        ),
        Alert(
            "RedisDown",
            f"redis_up{selector(names)} == 0",
            "warning",
            "{{ $labels.pod }}: its {{ $labels." + SERVER_LABEL + " }} does not answer the exporter",
            "the pod's container log; a replica restarting is covered by the others, a master by failover",
            SHORT,
        ),
        Alert(
            "RedisExporterDown",
            f"up{selector(names)} == 0",
            "warning",
            "Prometheus cannot scrape {{ $labels.pod }} ({{ $labels." + SERVER_LABEL + " }}): the broker is not "
            "watched there",
            "the exporter containers' logs and the NetworkPolicy from the monitoring namespace",
            LONG,
        ),
        Alert(
            "RedisReplicaLinkDown",
            f"redis_master_link_up{redis} == 0",
            "warning",
            "{{ $labels.pod }} is not replicating from its master: one failure away from losing writes",
            "INFO replication on the pod (master_link_status, master_host); after a failover it takes a few "
            "seconds to resync",
            SHORT,
        ),
        Alert(
            "RedisReplicationLagHigh",
            f"max by (namespace, pod, slave_ip) (redis_connected_slave_lag_seconds{redis}) > "
            f"{spec.redis.min_replicas_max_lag_seconds}",
            "warning",
            "A replica of {{ $labels.pod }} lags more than min-replicas-max-lag: the master refuses writes when "
            "fewer than min-replicas-to-write replicas keep up",
            "INFO replication on the master (lag=); the replica pod's CPU, disk and network",
            SHORT,
        ),
        Alert(
            "RedisMemoryNearMax",
            f"redis_memory_used_bytes{redis} / (redis_memory_max_bytes{redis} > 0) > {a.memory_ratio}",
            "warning",
            f"{{{{ $labels.pod }}}} uses more than {a.memory_ratio:.0%} of maxmemory: with noeviction, writes will "
            "fail with OOM",
            "which keys grow (the queues' lengths on the dashboard); raise redis.resources and "
            "maxmemory in the spec, or drain the backlog",
            LONG,
        ),
        Alert(
            "RedisOutOfMemoryRejections",
            f"increase(redis_errors_total{selector(names, 'redis', err='OOM')}[5m]) > 0",
            "critical",
            "{{ $labels.pod }} refused writes with OOM: tasks were not published",
            "maxmemory reached; see RedisMemoryNearMax's runbook",
        ),
        Alert(
            "RedisRejectedConnections",
            f"increase(redis_rejected_connections_total{redis}[5m]) > 0",
            "warning",
            "{{ $labels.pod }} rejected connections (maxclients reached)",
            "CLIENT LIST on the pod: which clients hold connections (Celery workers x concurrency)",
        ),
        Alert(
            "RedisPersistenceFailed",
            f"redis_rdb_last_bgsave_status{redis} == 0 or redis_aof_last_write_status{redis} == 0 "
            f"or redis_aof_last_bgrewrite_status{redis} == 0",
            "critical",
            "{{ $labels.pod }} failed to write its RDB snapshot or AOF: with stop-writes-on-bgsave-error it "
            "refuses writes",
            "the redis container's log (disk full, permissions); the PVC's free space",
        ),
        Alert(
            "RedisFailover",
            f"count by (namespace, pod) (redis_instance_info{selector(names, 'redis', role='master')}) and "
            "count by (namespace, pod) "
            f"(max_over_time(redis_instance_info{selector(names, 'redis', role='slave')}[10m]))",
            "info",
            "{{ $labels.pod }} is master and was a replica in the last 10 minutes: a failover happened",
            "expected after a rolling update or a node loss; unexpected ones: the old master's log and events",
        ),
    ]
    keys = [q for q in exporter_keys(spec) if q != "unacked"]
    if keys:
        queues = selector(names, "redis", regex={"key": "|".join(keys)})
        out.append(
            Alert(
                "CeleryQueueBacklog",
                f"max by (namespace, key) (redis_key_size{queues}) > {a.queue_backlog} and "
                f"max by (namespace, key) (deriv(redis_key_size{queues}[{a.queue_backlog_for}])) > 0",
                "warning",
                f"Celery queue {{{{ $labels.key }}}} holds more than {a.queue_backlog} tasks and keeps growing",
                "are the workers up and scaling (KEDA ScaledObject status, maxReplicaCount)? are tasks failing and "
                "being retried?",
                a.queue_backlog_for,
            )
        )
    return out


def runbook_url(spec, alert: str) -> str:
    """`monitoring.alerts.runbookUrl` ending in '/' is a folder of one page per alert (docs/runbooks/); otherwise
    every alert points at that one page."""
    base = spec.monitoring.alerts.runbook_url
    return f"{base}{alert}.md" if base.endswith("/") else base


def rule_groups(names: Names) -> list[dict]:
    """The PrometheusRule's spec.groups (also what `promtool check rules` reads)."""
    rules = [
        {
            "alert": r.name,
            "expr": r.expr,
            "for": r.for_,
            "labels": {"severity": r.severity},
            "annotations": {
                "summary": r.summary,
                "runbook": r.runbook,
                "runbook_url": runbook_url(names.spec, r.name),
            },
        }
        for r in alerts(names)
    ]
    return [{"name": f"{names.base}-broker", "rules": rules}]


def markdown_table(names: Names) -> str:
    """The monitoring page's alert table, from the same alerts (a test holds docs/operate/monitoring.md to it)."""
    rows = ["| alert | severity | for | means | look first at |", "|---|---|---|---|---|"]
    for a in alerts(names):
        summary = a.summary.replace("{{ $labels.pod }}", "a pod").replace("{{ $labels.key }}", "a queue")
        summary = summary.replace("{{ $labels." + SERVER_LABEL + " }}", "Redis or Sentinel")
        rows.append(f"| `{a.name}` | {a.severity} | {a.for_} | {summary} | {a.runbook} |")
    return "\n".join(rows) + "\n"
