"""A real Celery worker, configured exactly as Airflow's provider configures it from the generated AIRFLOW__
variables (the `_CMD` options reading password files, Airflow's ACL user, acks late, prefork, concurrency 2),
keeps consuming through a planned hand-over and a master crash, and Airflow's publish path sees no error.
`make faults` runs 300 tasks, 3 times each (faults/airflow_worker.py); here one shorter run of each (the crash
one under `make faults` only, for make test's time)."""

import configparser
import json
import subprocess
import sys
import time
from urllib.parse import unquote

import pytest
import redis
import redis.sentinel
from kombu.utils.url import url_to_parts

from redis_gitops.devcluster.local_cluster import LocalCluster
from redis_gitops.faults.airflow_worker import run

from conftest import ROOT

TASKS = 80  # at 10/s, the fault after 3 s (make faults: 300, after 8 s)
FAULT_AFTER = 3.0


@pytest.fixture(scope="module")
def cluster(spec, tmp_path_factory):
    with LocalCluster(spec, ROOT / "dist", tmp_path_factory.mktemp("airflow-cluster"), subnet=81) as c:
        yield c


def as_airflow(cluster, ordinal):
    s = cluster.state
    return redis.Redis(
        cluster.address(ordinal),
        s.redis_port,
        username=s.airflow_username,
        password=s.airflow_password,
        decode_responses=True,
        socket_timeout=2,
    )


def test_airflow_user_has_the_queues_and_nothing_dangerous(cluster):
    r = as_airflow(cluster, cluster.master())
    assert r.lpush("default", "x") == 1 and r.rpop("default") == "x"
    assert r.hset("unacked", "tag", "x") == 1 and r.hdel("unacked", "tag") == 1
    for command in (
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("CONFIG", "GET", "maxmemory"),
        ("KEYS", "*"),
        ("SHUTDOWN",),
        ("REPLICAOF", "NO", "ONE"),
        ("MONITOR",),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            r.execute_command(*command)
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.set("not-a-queue", "x")  # keys outside Celery's are out of reach


def assert_kept_consuming(result, cluster):
    assert not any("NOPERM" in e for e in result.errors_in_worker_log)
    assert result.published >= TASKS - 5
    assert result.missing == [], f"published but never run: {result.missing}"
    assert result.worker_survived, "the worker process exited or was replaced"
    assert result.worker_obeyed_sigterm
    assert result.done_after_last_publish_s is not None and result.done_after_last_publish_s <= 30
    assert result.left_unacked == 0, "acks that never reached the master: those tasks would run again later"
    assert as_airflow(cluster, cluster.master()).llen("default") == 0, "a task was queued again after it ran"


def refusals(cluster, username) -> list[dict]:
    """What the servers refused `username` (ACL LOG on every Redis and Sentinel)."""
    out = []
    for o in range(len(cluster.state.nodes)):
        for server in (cluster.redis(o), cluster.sentinel(o)):
            out += [e for e in server.acl_log() if e.get("username") == username]
    return out


def test_busy_worker_keeps_consuming_through_a_hand_over_with_no_publish_error(cluster):
    for o in range(len(cluster.state.nodes)):
        cluster.redis(o).acl_log_reset()
        cluster.sentinel(o).acl_log_reset()
    result = run(cluster, "handover", count=TASKS, fault_after=FAULT_AFTER)
    print(f"hand-over: {result}")
    assert result.publish_errors == []
    assert_kept_consuming(result, cluster)
    # Least privilege took nothing Celery needs: no command, key or channel refused, on Redis or a Sentinel.
    assert refusals(cluster, cluster.state.airflow_username) == []
    cluster.wait_until_healthy(60)


@pytest.mark.faults  # make faults: here, and 3 runs of 300 tasks in faults.airflow_worker
def test_busy_worker_keeps_consuming_through_a_master_crash(cluster):
    result = run(cluster, "crash", count=TASKS, fault_after=FAULT_AFTER)
    print(f"crash: {result}")
    assert result.publish_errors == []  # Airflow's 1 s timeout ends each attempt; timed-out ones are re-sent
    assert_kept_consuming(result, cluster)
    assert refusals(cluster, cluster.state.airflow_username) == []
    cluster.wait_until_healthy(90)


def test_the_keda_trigger_list_rises_while_tasks_wait_and_falls_when_a_worker_drains_it(
    cluster, spec, objects, tmp_path
):
    """KEDA's read, done with the rendered trigger: its Sentinels (pod names mapped to the local pods), master
    name, list and database, and the TriggerAuthentication's user (KEDA's own, on the Sentinels too)."""
    from redis_gitops.faults.airflow_worker import Worker, airflow_env, publish
    from redis_gitops.synth.naming import Names

    meta = objects[("ScaledObject", "redis-airflow-workers")]["spec"]["triggers"][0]["metadata"]
    local = dict(zip(Names(spec).pod_fqdns, (n.host for n in cluster.state.nodes), strict=True))
    sentinels = [(local[a.rsplit(":", 1)[0]], int(a.rsplit(":", 1)[1])) for a in meta["addresses"].split(",")]
    s = cluster.state

    def list_length() -> int:
        sentinel = redis.sentinel.Sentinel(
            sentinels, sentinel_kwargs={"username": s.keda_username, "password": s.keda_password}, socket_timeout=2
        )
        master = sentinel.master_for(
            meta["sentinelMaster"],
            username=s.keda_username,
            password=s.keda_password,
            db=int(meta["databaseIndex"]),
            socket_timeout=2,
        )
        return master.llen(meta["listName"])

    env = airflow_env(cluster, tmp_path / "home", tmp_path / "executed", task_seconds=0.05)
    assert list_length() == 0
    assert publish(env, 40)["errors"] == []
    assert list_length() == 40  # waiting tasks: KEDA would ask for ceil(40 / listLength) workers
    worker = Worker(env, tmp_path / "worker.log")
    worker.start()
    try:
        lengths = [list_length()]
        for _ in range(300):
            if lengths[-1] == 0:
                break
            time.sleep(0.1)
            lengths.append(list_length())
    finally:
        worker.stop()
    print(f"LLEN {meta['listName']} while the worker drained it: {lengths[::5]}")
    assert lengths[-1] == 0 and lengths == sorted(lengths, reverse=True)


def test_airflow_config_for_the_local_cluster_is_usable_as_is(cluster):
    """`airflow-config --local --dir` is filled in for the local cluster (addresses and passwords), in the form
    Airflow reads, and its URL and sentinel_kwargs reach the master as Airflow's user."""
    out = subprocess.run(
        [sys.executable, "-m", "redis_gitops.synth", "airflow-config", "--local", "--dir", str(cluster.base)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read_string(out.stdout)
    parts = cfg["celery"]["broker_url"].split(";")
    assert len(parts) == 3 and all(p.startswith("sentinel://airflow:") and p.endswith("/0") for p in parts)
    url = url_to_parts(parts[0])
    kwargs = json.loads(cfg["celery_broker_transport_options"]["sentinel_kwargs"])
    assert kwargs["username"] == url.username  # Airflow's own user on the Sentinels, not the Sentinel password
    sentinel = redis.Redis(
        url.hostname, url.port, username=kwargs["username"], password=kwargs["password"], decode_responses=True
    )
    master = sentinel.sentinel_get_master_addr_by_name(cfg["celery_broker_transport_options"]["master_name"])
    r = redis.Redis(master[0], int(master[1]), username=url.username, password=unquote(url.password))
    key = f"default-probe-{time.time_ns()}"  # a queue name Airflow's user may use, not a real queue
    assert r.lpush(key, "probe") == 1 and r.delete(key) == 1


def test_remote_control_works_as_airflows_user(cluster, tmp_path):
    """`celery inspect ping`, as the official chart's worker liveness probe runs it: pidbox broadcast and the reply
    queue, with Airflow's credentials and nothing refused."""
    from redis_gitops.faults.airflow_worker import Worker, _wait_ready, airflow_env

    for o in range(len(cluster.state.nodes)):
        cluster.redis(o).acl_log_reset()
    env = airflow_env(cluster, tmp_path / "home", tmp_path / "executed")
    worker = Worker(env, tmp_path / "worker.log")
    worker.start()
    try:
        _wait_ready(worker)
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "celery",
                "--app",
                "redis_gitops.faults.airflow_app",
                "inspect",
                "ping",
                "--timeout",
                "5",
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        worker.stop()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "pong" in out.stdout
    assert refusals(cluster, cluster.state.airflow_username) == []


def test_a_sentinel_that_never_answers_does_not_hold_up_a_publish(cluster, tmp_path):
    """A Sentinel that accepts connections and never replies (a frozen pod, a black-holed address), listed first:
    Airflow's publishes still go through within its 1 s operation_timeout instead of timing out every attempt."""
    import socket

    from redis_gitops.faults.airflow_worker import airflow_env, publish

    silent = socket.socket()
    silent.bind(("127.0.81.99", cluster.state.sentinel_port))
    silent.listen(64)  # the kernel completes the handshakes; nobody ever reads or answers
    try:
        env = airflow_env(cluster, tmp_path / "home", tmp_path / "executed")
        key = "AIRFLOW__CELERY__BROKER_URL_CMD"
        env[key] = env[key].replace("--sentinels ", f"--sentinels 127.0.81.99:{cluster.state.sentinel_port},", 1)
        started = time.monotonic()
        result = publish(env, 10)
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    print(f"10 publishes with a silent first Sentinel: {elapsed:.1f} s, {result['timeouts']} timed out and re-sent")
    assert result["errors"] == []
    assert len(result["published"]) == 10
    cluster.redis(cluster.master()).delete("default")
