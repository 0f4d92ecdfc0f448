"""A real Celery worker, configured exactly as Airflow's provider configures it from the generated AIRFLOW__
variables (the `_CMD` options reading password files, Airflow's ACL user, acks late, prefork, concurrency 2),
keeps consuming through a planned hand-over and a master crash, and Airflow's publish path sees no error.
`make faults` runs 300 tasks, 3 times each (faults/airflow_worker.py); here one shorter run of each (the crash
one under `make faults` only, for make test's time)."""

import configparser
import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
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


@pytest.fixture
def airflow_transport(monkeypatch):
    """`sentinel://` means redis_gitops_airflow's transport, as in a process that imported its celery_config
    (kombu rebuilds the transport from the URL's scheme on every failover), for this test only."""
    from kombu import transport as kombu_transport

    from redis_gitops_airflow import transport

    monkeypatch.setitem(kombu_transport.TRANSPORT_ALIASES, transport.ALIAS, transport.TRANSPORT)
    kombu_transport._transport_cache.pop(transport.ALIAS, None)
    yield
    kombu_transport._transport_cache.pop(transport.ALIAS, None)


def airflow_broker(cluster, **options):
    """A kombu connection with Airflow's URL, Sentinel and transport options as rendered (`options` over them)."""
    from kombu import Connection

    from redis_gitops.synth.airflow_config import cfg_sections_with_passwords

    s = cluster.state
    sentinels = [f"{h}:{p}" for h, p in s.sentinel_addresses]
    sections = cfg_sections_with_passwords(cluster.spec, sentinels, s.airflow_password)
    rendered = sections["celery_broker_transport_options"]
    transport_options = {
        "master_name": rendered["master_name"],
        "sentinel_kwargs": json.loads(rendered["sentinel_kwargs"]),
        "confirm_replicas": int(rendered["confirm_replicas"]),
        "confirm_timeout": float(rendered["confirm_timeout"]),
        **options,
    }
    return Connection(sections["celery"]["broker_url"], transport_options=transport_options)


@contextmanager
def replicas_frozen(cluster, seconds: float):
    """Every replica's Redis stopped (SIGSTOP) for `seconds`, well inside down-after and min-replicas-max-lag: the
    master still counts them and accepts writes, but no replica acknowledges one."""
    pids = [n.redis_pid for n in cluster.state.nodes if n.ordinal != cluster.master()]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    thaw = threading.Timer(seconds, lambda: [os.kill(pid, signal.SIGCONT) for pid in pids])
    thaw.start()
    try:
        yield
    finally:
        thaw.join()


PROBE_QUEUE = "default"  # a queue Airflow's user may use; the tests leave it empty


def consume_as_celery(cluster, queue, wanted: int, timeout: float = 30.0) -> list[int]:
    """Consume like a Celery worker (acks late, prefetch 1; on a connection error, a new connection) until
    `wanted` distinct messages ran; the `n` of every delivery, in order."""

    got: list[int] = []

    def run_task(body, message):
        got.append(body["n"])
        message.ack()

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(set(got)) < wanted:
        with airflow_broker(cluster) as conn:
            try:
                with conn.Consumer(queue, callbacks=[run_task], prefetch_count=1):
                    while time.monotonic() < deadline and len(set(got)) < wanted:
                        try:
                            conn.drain_events(timeout=1)
                        except TimeoutError:
                            pass
            except conn.connection_errors:
                time.sleep(0.1)
    return got


def test_a_task_taken_off_its_queue_just_before_a_hand_over_still_runs(cluster, airflow_transport, monkeypatch):
    """BRPOP hands the worker a task on the old master; the hand-over demotes that master before kombu's second
    command records the task in `unacked`. kombu 5.7 then drops the task: off its queue, in no hash, never run
    (CI saw it once: 1 task of 40 in a TLS hand-over). The record must reach the new master and the task run."""
    from kombu import Exchange, Queue

    from redis_gitops_airflow import transport

    record = transport.QoS.append
    handed_over = []

    def hand_over_first(qos, message, delivery_tag):
        if message.payload["n"] == 1 and not handed_over:
            result = cluster.run_prestop(cluster.master())
            handed_over.append(result.returncode)
        return record(qos, message, delivery_tag)

    monkeypatch.setattr(transport.QoS, "append", hand_over_first)
    old_master = cluster.master()
    queue = Queue(PROBE_QUEUE, Exchange(PROBE_QUEUE, type="direct"), PROBE_QUEUE)
    with airflow_broker(cluster) as conn, conn.Producer() as producer:
        for n in range(3):
            producer.publish({"n": n}, exchange=queue.exchange, routing_key=PROBE_QUEUE, declare=[queue])
    got = consume_as_celery(cluster, queue, wanted=3)
    assert handed_over == [0] and cluster.master() != old_master
    assert sorted(got) == [0, 1, 2], f"ran {got}: task 1 was taken off the queue and lost"
    master = as_airflow(cluster, cluster.master())
    assert master.llen(PROBE_QUEUE) == 0 and master.hlen("unacked") == 0
    cluster.wait_until_healthy(60)


def test_a_publish_refused_for_want_of_a_replica_is_retried_not_failed(cluster, airflow_transport):
    """Right after a failover the new master answers NOREPLICAS until a replica links to it (seen: 1 publish in
    31 TLS hand-overs, a task Airflow would mark FAILED). The publish is retried like a lost connection."""
    from kombu import Exchange, Queue

    admin = cluster.redis(cluster.master())
    rendered = cluster.spec.redis.min_replicas_to_write
    admin.config_set("min-replicas-to-write", len(cluster.state.nodes))  # more than there are: all refused
    restore = threading.Timer(1.0, admin.config_set, args=("min-replicas-to-write", rendered))
    restore.start()
    try:
        queue = Queue(PROBE_QUEUE, Exchange(PROBE_QUEUE, type="direct"), PROBE_QUEUE)
        started = time.monotonic()
        with airflow_broker(cluster) as conn, conn.Producer() as producer:
            producer.publish(
                {"n": 0},
                exchange=queue.exchange,
                routing_key=PROBE_QUEUE,
                declare=[queue],
                retry=True,
                retry_policy={"max_retries": 30, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.2},
            )
        waited = time.monotonic() - started
    finally:
        restore.join()
        admin.config_set("min-replicas-to-write", rendered)
    assert waited >= 0.9, "published while every write was refused?"
    assert consume_as_celery(cluster, queue, wanted=1) == [0]


PUBLISH_RETRIES = {"max_retries": 60, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.25}


def publish_while_replicas_frozen(cluster, seconds: float, **options) -> tuple[float, int]:
    """One publish as Airflow sends it (kombu's retries on a connection error) while no replica acknowledges: how
    long it took and how many copies of it the queue then holds."""
    from kombu import Exchange, Queue

    queue = Queue(PROBE_QUEUE, Exchange(PROBE_QUEUE, type="direct"), PROBE_QUEUE)
    master = as_airflow(cluster, cluster.master())
    with airflow_broker(cluster, **options) as conn, conn.Producer() as producer:
        producer.publish({"n": -1}, exchange=queue.exchange, routing_key=PROBE_QUEUE, declare=[queue])
        master.delete(PROBE_QUEUE)  # the declaration is done: the timed publish is the only write
        with replicas_frozen(cluster, seconds):
            started = time.monotonic()
            producer.publish(
                {"n": 0}, exchange=queue.exchange, routing_key=PROBE_QUEUE, retry=True, retry_policy=PUBLISH_RETRIES
            )
            waited = time.monotonic() - started
    copies = master.llen(PROBE_QUEUE)
    master.delete(PROBE_QUEUE)
    return waited, copies


def test_a_publish_no_replica_confirms_is_retried_until_one_does(cluster, airflow_transport):
    """The master of a cut-off pod acknowledges writes its replicas never get (issue 27): a publish counts only
    once a replica holds it. Each unconfirmed attempt stays in the master's queue: a duplicate on a master that
    keeps its data, nothing on one that rejoins as a replica (Airflow's state check absorbs the duplicate)."""
    waited, copies = publish_while_replicas_frozen(cluster, 1.0, confirm_replicas=0)
    assert waited < 0.5 and copies == 1, "unconfirmed (kombu's own): the master's 'ok' is enough"
    waited, copies = publish_while_replicas_frozen(cluster, 1.0)
    print(f"confirmed publish: {waited:.2f} s, {copies} copies")
    assert waited >= 0.9, "a publish counted as done while no replica held it"
    assert copies >= 2  # the unconfirmed attempts: duplicates here, where the master keeps its data
    cluster.wait_until_healthy(30)


def test_a_broker_that_refuses_wait_gets_unconfirmed_publishes_not_errors(cluster, airflow_transport):
    """Airflow deployed with confirmations before the broker's pods grant its user WAIT: publishes go on as
    before (unconfirmed), none fails."""
    admin, user = cluster.redis(cluster.master()), cluster.state.airflow_username
    admin.execute_command("ACL", "SETUSER", user, "-wait")
    try:
        waited, copies = publish_while_replicas_frozen(cluster, 1.0)
    finally:
        admin.execute_command("ACL", "SETUSER", user, "+wait")
    assert waited < 0.5 and copies == 1


def test_a_delivered_tasks_record_is_confirmed_before_it_runs(cluster, airflow_transport):
    """BRPOP takes the task off its queue; its record in `unacked` is what a warm shutdown restores and what a
    redelivery after visibility_timeout reads: a record only the master holds would be lost with it. The task
    runs once the record is confirmed, once (the retried record is the same hash entry)."""
    from kombu import Exchange, Queue

    queue = Queue(PROBE_QUEUE, Exchange(PROBE_QUEUE, type="direct"), PROBE_QUEUE)
    with airflow_broker(cluster) as conn, conn.Producer() as producer:
        producer.publish({"n": 0}, exchange=queue.exchange, routing_key=PROBE_QUEUE, declare=[queue])
    with replicas_frozen(cluster, 1.0):
        started = time.monotonic()
        got = consume_as_celery(cluster, queue, wanted=1)
        waited = time.monotonic() - started
    assert got == [0] and waited >= 0.9, f"ran {got} after {waited:.2f} s"
    master = as_airflow(cluster, cluster.master())
    assert master.llen(PROBE_QUEUE) == 0 and master.hlen("unacked") == 0
    cluster.wait_until_healthy(30)


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
