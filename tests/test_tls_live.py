"""TLS end to end on the local cluster, started from a rendering of the spec with `tls.enabled` and certificates
the test makes (openssl): Redis and Sentinel answer TLS only, replication and Sentinel's links run over it, the
probes, the smoke checks, the failover check, backup and restore, the real exporters and a real Celery worker
configured as Airflow's provider configures it all work over TLS, and a client that does not trust the CA is
refused."""

import subprocess

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from redis_gitops.devcluster.certs import make_certificates
from redis_gitops.devcluster.local_cluster import LocalCluster, broker_settings, expectations
from redis_gitops.devcluster.monitoring import LocalMonitoring
from redis_gitops.faults.airflow_worker import run as run_worker
from redis_gitops.runtime.cli import run_failover, run_health
from redis_gitops.runtime.client import tls_kwargs
from redis_gitops.synth.alerts import rule_groups
from redis_gitops.synth.naming import Names

SUBNET = 89


@pytest.fixture(scope="module")
def tls_dist(tls_files, tmp_path_factory):
    dist = tmp_path_factory.mktemp("tls-dist")
    for rel, text in tls_files.items():
        (dist / rel).parent.mkdir(parents=True, exist_ok=True)
        (dist / rel).write_text(text)
    return dist


@pytest.fixture(scope="module")
def cluster(tls_spec, tls_dist, tmp_path_factory):
    with LocalCluster(tls_spec, tls_dist, tmp_path_factory.mktemp("tls-cluster"), subnet=SUBNET) as c:
        yield c


def client(host, port, password, **tls):
    """No retry: a refusal is the answer, not a reason to try again."""
    return redis.Redis(
        host, port, password=password, socket_timeout=2, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0), **tls
    )


def test_redis_and_sentinel_answer_tls_only_and_only_to_clients_that_trust_the_ca(cluster, tmp_path):
    s = cluster.state
    stranger = make_certificates(tmp_path / "other-ca", [cluster.hosts[0]]) / "ca.crt"
    for node in s.nodes:
        for port, password in ((s.redis_port, s.redis_password), (s.sentinel_port, s.sentinel_password)):
            with pytest.raises(redis.ConnectionError):
                client(node.host, port, password).ping()
            assert client(node.host, port, password, **tls_kwargs(s.tls_ca_file)).ping()
            with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
                client(node.host, port, password, **tls_kwargs(str(stranger))).ping()
    # Replicas linked through the TLS port: there is no other.
    master = cluster.master()
    assert cluster.redis(master).info("replication")["connected_slaves"] == 2
    for i in range(3):
        assert cluster.probe(i, "redis-ready").returncode == 0
        assert cluster.probe(i, "sentinel-ready").returncode == 0
    cli = subprocess.run(
        ["redis-cli", "-h", cluster.hosts[0], "-p", str(s.redis_port), "PING"],
        capture_output=True,
        text=True,
        timeout=10,
        env={"REDISCLI_AUTH": s.redis_password},
    )
    assert "PONG" not in cli.stdout


def test_the_smoke_checks_and_the_failover_check_pass_over_tls(cluster):
    results = run_health(broker_settings(cluster.state), expectations(cluster.state), celery=True)
    assert [r.name for r in results if not r.ok] == [], [r.detail for r in results if not r.ok]
    failover = run_failover(
        broker_settings(cluster.state), expectations(cluster.state), 5.0, cluster.spec.redis.handover_timeout_seconds
    )
    assert failover.ok, failover.detail
    assert failover.metrics["lost_writes"] == 0 and failover.metrics["acknowledged_writes"] > 0
    print(failover.detail)
    cluster.wait_until_healthy(30)


def test_a_celery_worker_configured_as_airflow_runs_tasks_over_tls_through_a_hand_over(cluster):
    result = run_worker(cluster, "handover", count=40, fault_after=2.0)
    print(f"TLS hand-over: {result}")
    assert result.publish_errors == [] and result.missing == [], result
    assert result.published >= 35 and result.worker_survived and result.left_unacked == 0
    cluster.wait_until_healthy(60)


def test_backup_and_restore_run_over_tls(cluster, tmp_path):
    master = cluster.redis(cluster.master())
    master.mset({f"tls-backup:{i}": str(i) for i in range(100)})
    master.wait(2, 5000)
    backup = cluster.run_backup(tmp_path / "backups", retention=2)
    assert backup.returncode == 0, backup.stderr
    snapshot = tmp_path / "backups" / backup.stdout.strip().rsplit("/", 1)[1]
    master.set("tls-backup:after", "x")
    restore = cluster.run_restore(snapshot, "tls-1", timeout=60)
    assert restore.returncode == 0, restore.stderr
    cluster.wait_until_healthy(60)
    for i in range(3):
        r = cluster.redis(i)
        assert r.exists("tls-backup:after") == 0 and r.get("tls-backup:99") == "99", i


def test_the_exporters_scrape_redis_and_sentinel_over_tls(cluster, tls_objects, tls_spec):
    """Debian's redis_exporter with the rendered environment (rediss://, the CA), verifying the certificate."""
    monitoring = LocalMonitoring(
        cluster,
        tls_objects[("StatefulSet", "redis")],
        tls_objects[("ServiceMonitor", "redis")],
        rule_groups(Names(tls_spec)),
    )
    try:
        monitoring.start_exporters()
        scraped = monitoring.scrape()
    finally:
        monitoring.stop()
    assert len(scraped) == 6
    for labels, text in scraped:
        assert "\nredis_up 1" in "\n" + text, (labels["pod"], labels["container"], text[-500:])
    sentinel_metrics = [text for labels, text in scraped if labels["container"] == "sentinel-exporter"]
    assert all("redis_sentinel_masters 1" in text for text in sentinel_metrics)
