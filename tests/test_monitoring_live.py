"""Monitoring proven on the local cluster: the exporters as rendered (Debian's redis_exporter 1.45), a real
Prometheus (Debian's 2.42) scraping them with the ServiceMonitor's labels and evaluating the rendered rules.

The rules come from the spec with one change: the backlog alert's `for` is seconds, not minutes, so the test
can wait for it. Everything else (expressions, thresholds, the other durations) is what dist/ carries.
"""

import re
import subprocess
import time

import pytest
import redis

from redis_gitops.devcluster.local_cluster import LocalCluster
from redis_gitops.devcluster.monitoring import LocalMonitoring
from redis_gitops.synth.alerts import alerts, rule_groups
from redis_gitops.synth.dashboard import dashboard
from redis_gitops.synth.naming import Names

from conftest import ROOT

BACKLOG_FOR = "5s"
# Labels a series gets from its target (the Prometheus Operator's and the ServiceMonitor's), not from the exporter.
TARGET_LABELS = {"namespace", "service", "pod", "container", "endpoint", "job", "instance", "server"}


def quick_spec(spec):
    alerts_ = spec.monitoring.alerts.model_copy(update={"queue_backlog_for": BACKLOG_FOR})
    return spec.model_copy(update={"monitoring": spec.monitoring.model_copy(update={"alerts": alerts_})})


@pytest.fixture(scope="module")
def stack(spec, objects, tmp_path_factory):
    names = Names(quick_spec(spec))
    with LocalCluster(spec, ROOT / "dist", tmp_path_factory.mktemp("monitoring-cluster"), subnet=85) as cluster:
        with LocalMonitoring(
            cluster, objects[("StatefulSet", spec.name)], objects[("ServiceMonitor", spec.name)], rule_groups(names)
        ) as monitoring:
            yield cluster, monitoring


@pytest.fixture(scope="module")
def scraped(stack):
    """Every exporter's output once all answer, with an error and a queued task on the master so that
    redis_errors_total and the queue length exist."""
    cluster, monitoring = stack
    master = cluster.redis(cluster.master())
    with pytest.raises(redis.exceptions.ResponseError):
        master.execute_command("NO-SUCH-COMMAND")
    master.rpush("default", "task")
    cluster.wait_until_healthy(30)
    time.sleep(1)
    yield monitoring.scrape()
    cluster.redis(cluster.master()).delete("default")  # the master may have changed meanwhile


def parse(text: str) -> dict[str, list[dict[str, str]]]:
    """metric name -> the label sets it was exported with."""
    out: dict[str, list[dict[str, str]]] = {}
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ", line)
        if m:
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out.setdefault(m.group(1), []).append(labels)
    return out


def real_metrics(scraped) -> dict[str, set[str]]:
    """metric -> every label it carries in Prometheus (the exporter's and the target's)."""
    out: dict[str, set[str]] = {"up": set(TARGET_LABELS)}
    for target_labels, text in scraped:
        for name, label_sets in parse(text).items():
            for labels in label_sets:
                out.setdefault(name, set()).update(labels, target_labels)
    return out


def queries(spec) -> list[str]:
    names = Names(spec)
    return [a.expr for a in alerts(names)] + [t["expr"] for p in dashboard(names)["panels"] for t in p["targets"]]


SELECTOR = re.compile(r"\b([a-z_]+)\{([^}]*)\}")
BY = re.compile(r"\bby \(([^)]*)\)")


def test_every_target_answers_and_reports_its_server(scraped):
    assert len(scraped) == 6
    for labels, text in scraped:
        assert "\nredis_up 1" in "\n" + text, labels
    sentinel = [text for labels, text in scraped if labels["server"] == "sentinel"]
    assert all("redis_sentinel_master_ok_sentinels{" in text for text in sentinel)


def test_every_metric_and_label_the_rules_and_the_dashboard_use_is_in_the_real_scrape(spec, scraped):
    real = real_metrics(scraped)
    used = set()
    for expr in queries(spec):
        names_in_expr = set()
        for metric, matchers in SELECTOR.findall(expr):
            names_in_expr.add(metric)
            assert metric in real, f"{metric} (in {expr}) is not exported"
            for label in re.findall(r'([a-z_]+)\s*=~?"', matchers):
                assert label in real[metric], f"{metric} has no label {label} (in {expr})"
        for group in BY.findall(expr):
            for label in (g.strip() for g in group.split(",")):
                assert any(label in real[m] for m in names_in_expr), f"no metric in {expr} has {label}"
        used |= names_in_expr
    # What the metric list names is covered.
    assert {
        "redis_sentinel_master_ok_sentinels",
        "redis_sentinel_master_ckquorum_status",
        "redis_master_link_up",
        "redis_memory_used_bytes",
        "redis_memory_max_bytes",
        "redis_key_size",
        "redis_errors_total",
    } <= used


def test_the_exporter_acl_user_is_refused_nothing_but_config_get(stack, scraped):
    """The exporter works as its own read-only user; Redis logs what it refused (CONFIG GET, on purpose)."""
    cluster, _ = stack
    refused = {
        (e["reason"], e["object"])
        for i in range(len(cluster.state.nodes))
        for e in cluster.redis(i).acl_log()
        if e["username"] == "exporter"
    }
    assert refused <= {("command", "config|get"), ("command", "slowlog|get")}, refused


def _alerting(monitoring, name, state=None):
    return [
        a for a in monitoring.alerts() if a["labels"]["alertname"] == name and (state is None or a["state"] == state)
    ]


def test_a_healthy_cluster_has_no_alert_pending_or_firing(stack, scraped):
    cluster, monitoring = stack
    monitoring.wait_for(
        lambda: monitoring.query('count(up{service="redis-headless"} == 1) == 6'), 20, "every target up in Prometheus"
    )
    # Give every rule a few evaluations on healthy data, then nothing may be pending or firing.
    monitoring.wait_for(lambda: not monitoring.alerts(), 20, "no alert")
    time.sleep(3)
    assert monitoring.alerts() == []


def test_killing_the_master_fires_no_master_which_the_failover_clears(stack, scraped):
    cluster, monitoring = stack
    old = cluster.master()
    started = time.monotonic()
    cluster.stop_node(old, graceful=False, sentinel=False)
    try:
        fired = monitoring.wait_for(
            lambda: _alerting(monitoring, "RedisNoMaster", "firing"), 20, "RedisNoMaster firing"
        )
        assert fired[0]["labels"]["severity"] == "critical"
        fired_after = time.monotonic() - started
        monitoring.wait_for(lambda: not _alerting(monitoring, "RedisNoMaster"), 40, "RedisNoMaster cleared")
        cleared_after = time.monotonic() - started
        failover = monitoring.wait_for(lambda: _alerting(monitoring, "RedisFailover", "firing"), 10, "RedisFailover")
        assert failover[0]["labels"]["pod"] != f"{spec_name(cluster)}-{old}"
        print(f"RedisNoMaster fired {fired_after:.1f} s after the kill and cleared at {cleared_after:.1f} s")
    finally:
        cluster.start_process(old, "redis")  # its Sentinel kept running
        cluster.wait_until_healthy(60)


def spec_name(cluster) -> str:
    return cluster.spec.name


def test_a_queue_that_fills_and_keeps_growing_fires_the_backlog_alert(stack, scraped, spec):
    cluster, monitoring = stack
    master = cluster.redis(cluster.master())
    threshold = spec.monitoring.alerts.queue_backlog
    try:

        def fill():
            master.rpush("default", *range(threshold // 4))
            return _alerting(monitoring, "CeleryQueueBacklog", "firing")

        fired = monitoring.wait_for(fill, 40, "CeleryQueueBacklog firing")
        assert fired[0]["labels"]["key"] == "default"
    finally:
        master.delete("default")
    monitoring.wait_for(lambda: not _alerting(monitoring, "CeleryQueueBacklog"), 20, "CeleryQueueBacklog cleared")


def test_starting_a_container_that_still_runs_is_refused_not_leaked(stack, scraped):
    cluster, _ = stack
    with pytest.raises(RuntimeError, match="still running"):
        cluster.start_process(0, "sentinel")


# -- promtool test rules: a firing and a silent case per alert, on label sets from the real scrape above -------


class Labels:
    """Label sets as Prometheus stores them: a target's (from the scrape above) plus an exporter's own."""

    def __init__(self, scraped):
        self.targets = {(t["pod"], t["server"]): t for t, _ in scraped}
        self.exported: dict[str, list[dict]] = {}
        for _, text in scraped:
            for name, sets in parse(text).items():
                self.exported.setdefault(name, []).extend(sets)

    def of(self, metric: str, pod: int, server: str = "redis", **override: str) -> dict:
        own = self.exported[metric]
        match = next((s for s in own if all(s.get(k) == v for k, v in override.items() if k in s)), own[0])
        return {**match, **self.targets[(f"redis-{pod}", server)], **override}


def series(metric: str, labels: dict, values: str) -> dict:
    body = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {"series": f"{metric}{{{body}}}", "values": values}


def keep(labels: dict, *names: str) -> dict:
    return {k: labels[k] for k in names}


def cases(L: Labels, spec) -> dict[str, tuple[list, list, str, dict]]:
    """alert -> (firing input, silent input, eval time, the firing alert's labels without severity)."""
    info = "redis_instance_info"
    m0 = L.of(info, 0, role="master", run_id="a" * 40)
    s1, s2 = L.of(info, 1, role="slave", run_id="b" * 40), L.of(info, 2, role="slave", run_id="c" * 40)
    m1 = {**s1, "role": "master"}
    m0_again = {**m0, "instance": "10.0.0.9:9121"}  # the same Redis scraped twice
    ok = lambda pod, **o: L.of("redis_sentinel_master_ok_sentinels", pod, "sentinel", **o)  # noqa: E731
    status = lambda pod, addr: L.of("redis_sentinel_master_status", pod, "sentinel", master_address=addr)  # noqa: E731
    up0, up1 = L.of("redis_up", 0), L.of("redis_up", 1)
    lag = L.of("redis_connected_slave_lag_seconds", 0)
    used, maximum = L.of("redis_memory_used_bytes", 0), L.of("redis_memory_max_bytes", 0)
    oom = L.of("redis_errors_total", 0, err="OOM")
    queue = L.of("redis_key_size", 0, key="default")
    persistence = [
        L.of(m, 0)
        for m in ("redis_rdb_last_bgsave_status", "redis_aof_last_write_status", "redis_aof_last_bgrewrite_status")
    ]
    names = ("redis_rdb_last_bgsave_status", "redis_aof_last_write_status", "redis_aof_last_bgrewrite_status")
    n = spec.redis.replicas
    return {
        "RedisNoMaster": (
            [series(info, s, "1x10") for s in (s1, s2, {**m0, "role": "slave"})],
            [series(info, s, "1x10") for s in (m0, s1, s2)],
            "5m",
            {},
        ),
        "RedisTooManyMasters": (
            [series(info, s, "1x10") for s in (m0, m1)],
            [series(info, s, "1x10") for s in (m0, m0_again, s2)],
            "5m",
            {},
        ),
        "RedisSentinelQuorumLost": (
            [
                series(
                    "redis_sentinel_master_ckquorum_status",
                    L.of("redis_sentinel_master_ckquorum_status", i, "sentinel"),
                    "0x10",
                )
                for i in range(n)
            ],
            [
                series(
                    "redis_sentinel_master_ckquorum_status",
                    L.of("redis_sentinel_master_ckquorum_status", i, "sentinel"),
                    "1x10",
                )
                for i in range(n)
            ],
            "5m",
            {},
        ),
        "RedisSentinelQuorumAtRisk": (
            [series("redis_sentinel_master_ok_sentinels", ok(0), f"{n - 1}x20")],
            [series("redis_sentinel_master_ok_sentinels", ok(i), f"{n}x20") for i in range(n)],
            "10m",
            {},
        ),
        "RedisSentinelDisagrees": (
            [
                series("redis_sentinel_master_status", status(0, "redis-0:6379"), "1x10"),
                series("redis_sentinel_master_status", status(1, "redis-1:6379"), "1x10"),
            ],
            [series("redis_sentinel_master_status", status(i, "redis-0:6379"), "1x10") for i in range(n)],
            "5m",
            {},
        ),
        "RedisDown": ([series("redis_up", up1, "0x10")], [series("redis_up", up1, "1x10")], "5m", up1),
        "RedisExporterDown": (
            [series("up", L.targets[("redis-1", "redis")], "0x20")],
            [series("up", L.targets[("redis-1", "redis")], "1x20")],
            "10m",
            L.targets[("redis-1", "redis")],
        ),
        "RedisReplicaLinkDown": (
            [series("redis_master_link_up", L.of("redis_master_link_up", 1), "0x10")],
            [series("redis_master_link_up", L.of("redis_master_link_up", 1), "1x10")],
            "5m",
            L.of("redis_master_link_up", 1),
        ),
        "RedisReplicationLagHigh": (
            [series("redis_connected_slave_lag_seconds", lag, f"{spec.redis.min_replicas_max_lag_seconds * 3}x10")],
            [series("redis_connected_slave_lag_seconds", lag, "1x10")],
            "5m",
            keep(lag, "namespace", "pod", "slave_ip"),
        ),
        "RedisMemoryNearMax": (
            [series("redis_memory_used_bytes", used, "950x20"), series("redis_memory_max_bytes", maximum, "1000x20")],
            [series("redis_memory_used_bytes", used, "500x20"), series("redis_memory_max_bytes", maximum, "1000x20")],
            "10m",
            used,
        ),
        "RedisOutOfMemoryRejections": (
            [series("redis_errors_total", oom, "0 0 0 5 10 15 20")],
            [series("redis_errors_total", oom, "0x10")],
            "5m",
            oom,
        ),
        "RedisRejectedConnections": (
            [series("redis_rejected_connections_total", up0, "0 1 2 3 4 5 6")],
            [series("redis_rejected_connections_total", up0, "0x10")],
            "5m",
            up0,
        ),
        "RedisPersistenceFailed": (
            [
                series(names[0], persistence[0], "0x10"),
                series(names[1], persistence[1], "1x10"),
                series(names[2], persistence[2], "1x10"),
            ],
            [series(name, labels, "1x10") for name, labels in zip(names, persistence, strict=True)],
            "5m",
            persistence[0],
        ),
        "RedisFailover": (
            [series(info, s1, "1x5 _x10"), series(info, m1, "_x5 1x10")],
            [series(info, m0, "1x15"), series(info, s1, "1x15")],
            "8m",
            keep(m1, "namespace", "pod"),
        ),
        "CeleryQueueBacklog": (
            [series("redis_key_size", queue, "0+20x20")],
            [series("redis_key_size", queue, "500x20")],
            "20m",
            keep(queue, "namespace", "key"),
        ),
    }


def expand(template: str, labels: dict) -> str:
    return re.sub(r"\{\{ \$labels\.([a-z_]+) \}\}", lambda m: labels.get(m.group(1), ""), template)


def test_promtool_test_rules_fires_and_stays_silent_for_each_alert_on_real_label_sets(spec, scraped, tmp_path):
    from ruamel.yaml import YAML

    groups = rule_groups(Names(spec))  # the rules exactly as dist/ carries them
    rules = {r["alert"]: r for g in groups for r in g["rules"]}
    table = cases(Labels(scraped), spec)
    assert set(table) == set(rules), "every alert needs a firing and a silent case"
    tests = []
    for alert, (firing, silent, at, labels) in table.items():
        expected = {**labels, "severity": rules[alert]["labels"]["severity"]}
        tests.append(
            {
                "interval": "1m",
                "input_series": firing,
                "alert_rule_test": [
                    {
                        "eval_time": at,
                        "alertname": alert,
                        "exp_alerts": [
                            {
                                "exp_labels": expected,
                                "exp_annotations": {
                                    k: expand(v, expected) for k, v in rules[alert]["annotations"].items()
                                },
                            }
                        ],
                    }
                ],
            }
        )
        tests.append(
            {
                "interval": "1m",
                "input_series": silent,
                "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": []}],
            }
        )
    yaml = YAML(typ="safe")
    with (tmp_path / "rules.yaml").open("w") as f:
        yaml.dump({"groups": groups}, f)
    with (tmp_path / "tests.yaml").open("w") as f:
        yaml.dump({"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}, f)
    run = subprocess.run(
        ["promtool", "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert len(tests) == 2 * len(rules)
