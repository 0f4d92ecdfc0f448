"""The failover check hands mastership over safely on a real cluster, with a writer and a reader going
through the pool, and reports what clients saw."""

import json
import subprocess
import sys

import pytest

from redis_gitops.devcluster.local_cluster import LocalCluster, broker_settings
from redis_gitops.runtime.failover import FailoverCheck

from conftest import ROOT


@pytest.fixture(scope="module")
def cluster(spec, tmp_path_factory):
    with LocalCluster(spec, ROOT / "dist", tmp_path_factory.mktemp("failover-cluster"), subnet=51) as c:
        yield c


def failover(cluster, **kw):
    s = cluster.state
    return FailoverCheck(broker_settings(s), tuple(s.sentinel_addresses), s.master_name, **kw).run()


def test_hand_over_loses_no_acknowledged_write_and_the_old_master_follows(cluster):
    old = cluster.roles().index("master")
    report = failover(cluster)
    assert report.ok, report.problems
    assert report.acknowledged_writes > 200 and report.lost_writes == 0
    assert report.writer_errors == {} and report.reader_errors == {} and report.reads > 100
    new = cluster.roles().index("master")
    assert new != old and report.new_master == f"{cluster.state.nodes[new].host}:6379"
    assert cluster.roles()[old] == "slave"
    assert cluster.redis(old).info("replication")["master_host"] == cluster.state.nodes[new].host
    assert report.agreement_ms <= report.rejoin_ms
    # The paused master's PINGs are held back, so both replicas resume partially (no full resync).
    assert report.full_resyncs == 0
    print(f"failover: {report.summary()}")
    cluster.wait_until_healthy(30)


def test_a_write_outage_over_budget_fails_the_check(cluster):
    report = failover(cluster, max_write_outage_seconds=0.05)
    assert not report.ok and report.lost_writes == 0
    assert any("exceeds the 0.05 s budget" in p for p in report.problems), report.problems
    cluster.wait_until_healthy(30)


def test_smoke_with_failover_reports_its_times_as_json(cluster):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "redis_gitops.synth",
            "smoke",
            "--local",
            "--dir",
            cluster.state.base_dir,
            "--failover",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(run.stdout)
    assert run.returncode == 0, run.stdout
    [check] = [c for c in report["checks"] if c["name"] == "failover"]
    assert check["ok"] and check["metrics"]["lost_writes"] == 0
    assert {"agreement_ms", "write_outage_ms", "rejoin_ms", "paused_ms"} <= set(check["metrics"])
    cluster.wait_until_healthy(30)


def test_no_failover_is_attempted_on_an_unhealthy_cluster(cluster):
    replica = cluster.roles().index("slave")
    cluster.stop_process(replica, "redis")
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "redis_gitops.synth",
                "smoke",
                "--local",
                "--dir",
                cluster.state.base_dir,
                "--failover",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 1
        assert "FAIL  failover" in run.stdout and "not attempted: the cluster is not healthy" in run.stdout
        assert cluster.roles().count("master") == 1
    finally:
        cluster.start_process(replica, "redis")
        cluster.wait_until_healthy(30)


@pytest.mark.faults  # make test's time budget (about 15 min): make faults runs it
def test_a_hand_over_sentinel_cannot_do_fails_the_check_and_leaves_the_master_as_it_was(cluster):
    """The check runs the preStop script: with no replica Sentinel may promote (it would answer -NOGOODSLAVE)
    the check fails at its deadline, with writes never paused and every setting as it was."""
    from test_handover_contract import no_replica_promotable

    with no_replica_promotable(cluster) as old:
        report = failover(cluster, timeout=3)
    assert not report.ok and any("no replica it may promote" in p for p in report.problems), report.problems
    assert report.lost_writes == 0
    assert cluster.roles().index("master") == old
    assert cluster.redis(old).config_get("repl-ping-replica-period") == {"repl-ping-replica-period": "10"}
    assert cluster.redis(old).set("after-refused-check", "1")
