"""What dist/ carries for monitoring: both exporters' configuration, the alerts, the dashboard, and the README
that explains them (their live behaviour: tests/test_monitoring_live.py)."""

import json

from redis_gitops.synth.alerts import markdown_table
from redis_gitops.synth.app import render_manifests
from redis_gitops.synth.naming import Names
from redis_gitops.synth.spec import ClusterSpec

from conftest import ROOT


def containers(objects, spec, group="containers"):
    return {c["name"]: c for c in objects[("StatefulSet", spec.name)]["spec"]["template"]["spec"].get(group, [])}


def env(c):
    return {e["name"]: e.get("value") for e in c.get("env", [])}


def with_exporter(spec, **changes):
    data = spec.model_dump(by_alias=True)
    data["monitoring"]["exporter"].update(changes)
    synced, _ = render_manifests(ClusterSpec.model_validate(data))
    return {(o["kind"], o["metadata"]["name"]): o for o in synced}


def test_the_redis_exporter_reads_the_celery_queues_as_its_own_user(objects, spec):
    exporter = env(containers(objects, spec)["exporter"])
    assert exporter["REDIS_USER"] == "exporter"
    assert exporter["REDIS_EXPORTER_CHECK_SINGLE_KEYS"] == "db0=default,db0=unacked"
    acl = objects[("ConfigMap", "redis-config")]["data"]["exporter.acl"]
    assert acl.startswith("user exporter reset on %R~default %R~unacked resetchannels -@all +info ")
    assert "config" not in acl and "slowlog|get" not in acl and "+@" not in acl


def test_extra_args_reach_the_redis_exporter_only(spec):
    objects = with_exporter(spec, extraArgs=["--include-system-metrics"])
    assert containers(objects, spec)["exporter"]["args"] == ["--include-system-metrics"]
    assert "args" not in containers(objects, spec)["sentinel-exporter"]


def test_without_an_exporter_user_the_exporter_uses_redis_password_and_no_acl_is_rendered(spec):
    objects = with_exporter(spec, username=None)
    assert "REDIS_USER" not in env(containers(objects, spec)["exporter"])
    assert "exporter.acl" not in objects[("ConfigMap", "redis-config")]["data"]
    targets = env(containers(objects, spec, "initContainers")["exporter-auth"])["EXPORTER_TARGETS"].split()
    assert targets == ["redis://127.0.0.1:6379=redis-password", "redis://127.0.0.1:26379=sentinel-password"]


def test_ports_of_one_pod_must_differ(spec):
    import pytest
    from pydantic import ValidationError

    data = spec.model_dump(by_alias=True)
    data["monitoring"]["exporter"]["sentinelPort"] = data["monitoring"]["exporter"]["port"]
    with pytest.raises(ValidationError, match="monitoring.exporter.sentinelPort 9121 is monitoring.exporter.port too"):
        ClusterSpec.model_validate(data)


def test_the_prometheus_rule_is_labelled_for_the_operator_and_carries_runbooks(objects, spec):
    rule = objects[("PrometheusRule", spec.name)]
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    alerts = [r for g in rule["spec"]["groups"] for r in g["rules"]]
    assert len(alerts) == 15
    for a in alerts:
        assert a["annotations"]["summary"] and a["annotations"]["runbook"] and a["labels"]["severity"]
    lag = next(a for a in alerts if a["alert"] == "RedisReplicationLagHigh")
    assert lag["expr"].endswith(f"> {spec.redis.min_replicas_max_lag_seconds}")  # the spec's number, not a copy


def test_the_dashboard_is_a_config_map_the_grafana_sidecar_loads(objects, spec):
    cm = objects[("ConfigMap", f"{spec.name}-dashboard")]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    [text] = cm["data"].values()
    board = json.loads(text)
    variables = {v["name"] for v in board["templating"]["list"]}
    assert {"namespace", "instance"} <= variables
    for panel in board["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert 'namespace="$namespace"' in target["expr"] and 'instance=~"$instance"' in target["expr"]


def test_the_readme_lists_every_alert_as_rendered(spec):
    assert markdown_table(Names(spec)) in (ROOT / "docs/operate/monitoring.md").read_text()
