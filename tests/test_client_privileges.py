"""Hostile clients on the local cluster, each with exactly the credentials the generated configuration gives it
(Airflow, KEDA, the exporter): what each may run equals its documented list, judged by the servers' own command
tables (every command and subcommand, through ACL DRYRUN), Sentinel administration is refused, and a forged
Sentinel hello can neither be sent nor survive: a forged master that cannot be reached is failed over to the
broker's own pods, and a restart forgets the phantoms."""

import time

import pytest
import redis

from redis_gitops.contracts.client_acl import (
    EXPORTER_SENTINEL_COMMANDS,
    SENTINEL_MONITOR_COMMANDS,
    SENTINEL_MONITOR_USER,
    SMOKE_CELERY_COMMANDS,
    SMOKE_COMMANDS,
    SMOKE_SENTINEL_COMMANDS,
)
from redis_gitops.devcluster.local_cluster import LocalCluster, broker_settings, expectations
from redis_gitops.runtime.cli import run_health
from redis_gitops.synth.redis_config import (
    EXPORTER_COMMANDS,
    KEDA_COMMANDS,
    SENTINEL_DISCOVERY_COMMANDS,
    airflow_commands,
    library_name,
)

from conftest import ROOT


@pytest.fixture(scope="module")
def cluster(spec, tmp_path_factory):
    with LocalCluster(spec, ROOT / "dist", tmp_path_factory.mktemp("privileges"), subnet=91) as c:
        yield c


def command_table(admin: redis.Redis) -> dict[str, int]:
    """Every command and subcommand the server knows (`name` or `name|sub`) and its arity, from COMMAND."""
    table = {}
    connection = admin.connection_pool.get_connection()
    try:  # the raw reply: redis-py's own parsing of COMMAND drops the subcommands
        connection.send_command("COMMAND")
        entries = connection.read_response()
    finally:
        admin.connection_pool.release(connection)
    for entry in entries:
        subcommands = (entry[9] if len(entry) > 9 else None) or []
        if not subcommands:  # a container command (CLIENT, SENTINEL, ...) is granted by its subcommands
            table[entry[0]] = entry[1]
        for sub in subcommands:
            table[sub[0]] = sub[1]
    return table


def allowed_commands(admin: redis.Redis, user: str) -> set[str]:
    """The commands `user` may run, whatever the keys and channels: ACL DRYRUN of each with placeholder
    arguments; a refusal that names a key or channel still means the command itself is granted."""
    allowed = set()
    for name, arity in command_table(admin).items():
        words = name.split("|")
        needed = (arity if arity > 0 else -arity) - len(words)
        reply = admin.execute_command("ACL", "DRYRUN", user, *words, *(["x"] * max(needed, 0)))
        if reply == "OK" or "access the" in str(reply):
            allowed.add(name)
    return allowed


def always_allowed(admin: redis.Redis) -> set[str]:
    """What the server lets any authenticated user run (a user granted nothing): QUIT and RESET on Redis 7.0."""
    admin.execute_command("ACL", "SETUSER", "probe-nothing", "reset", "on", "nopass", "-@all")
    try:
        return allowed_commands(admin, "probe-nothing")
    finally:
        admin.execute_command("ACL", "DELUSER", "probe-nothing")


def as_user(cluster, ordinal, port, username, password) -> redis.Redis:
    return redis.Redis(
        cluster.address(ordinal), port, username=username, password=password, decode_responses=True, socket_timeout=3
    )


def test_airflow_may_run_exactly_what_celery_sends(cluster, spec):
    admin = cluster.redis(cluster.master())
    assert allowed_commands(admin, spec.airflow.username) == set(airflow_commands(spec)) | always_allowed(admin)


def test_keda_may_only_read_queue_lengths(cluster, spec):
    admin = cluster.redis(cluster.master())
    assert allowed_commands(admin, spec.airflow.keda.username) == set(KEDA_COMMANDS + library_name(spec)) | (
        always_allowed(admin)
    )
    keda = as_user(
        cluster, cluster.master(), cluster.state.redis_port, spec.airflow.keda.username, cluster.state.keda_password
    )
    assert keda.llen("default") == 0
    with pytest.raises(redis.exceptions.NoPermissionError):
        keda.lpush("default", "forged task")


def test_the_exporter_may_only_read_what_it_measures(cluster, spec):
    admin = cluster.redis(cluster.master())
    granted = {w.lstrip("+") for w in EXPORTER_COMMANDS.split() if w.startswith("+")}
    assert allowed_commands(admin, spec.monitoring.exporter.username) == granted | always_allowed(admin)


@pytest.mark.parametrize("client", ["airflow", "keda"])
def test_a_client_may_only_discover_through_the_sentinels(cluster, spec, client):
    s = cluster.state
    username, password = (
        (spec.airflow.username, s.airflow_password)
        if client == "airflow"
        else (spec.airflow.keda.username, s.keda_password)
    )
    admin = cluster.sentinel(0)
    assert allowed_commands(admin, username) == set(SENTINEL_DISCOVERY_COMMANDS + library_name(spec)) | (
        always_allowed(admin)
    )
    sentinel = as_user(cluster, 0, s.sentinel_port, username, password)
    assert sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.master_name)[0] == cluster.address(
        cluster.master()
    )
    for command in (
        ("SENTINEL", "SET", s.master_name, "quorum", "1"),
        ("SENTINEL", "REMOVE", s.master_name),
        ("SENTINEL", "RESET", "*"),
        ("SENTINEL", "FAILOVER", s.master_name),
        ("SENTINEL", "CONFIG", "GET", "*"),
        ("SENTINEL", "DEBUG"),
        ("ACL", "LIST"),
        ("ACL", "SETUSER", username, "+@all"),
        ("SHUTDOWN",),
        ("PUBLISH", "__sentinel__:hello", "x"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            sentinel.execute_command(*command)


def test_the_exporter_may_only_read_the_sentinels_state(cluster, spec):
    admin = cluster.sentinel(0)
    assert allowed_commands(admin, spec.monitoring.exporter.username) == set(
        EXPORTER_SENTINEL_COMMANDS
    ) | always_allowed(admin)


def test_the_sentinels_reach_redis_as_their_own_user(cluster, spec):
    """Every Sentinel link to every Redis logs in as the Sentinels' user, which may run exactly its documented list,
    on no key and only the hello channel; no Sentinel's config holds Redis's admin password; a hand-over through
    the Sentinels is refused nothing."""
    admin = cluster.redis(cluster.master())
    assert allowed_commands(admin, SENTINEL_MONITOR_USER) == set(SENTINEL_MONITOR_COMMANDS) | always_allowed(admin)
    for denied in (("GET", "unacked"), ("PUBLISH", "/0.celery.pidbox", "x"), ("SUBSCRIBE", "/0.celeryev/x")):
        assert "no permissions" in admin.execute_command("ACL", "DRYRUN", SENTINEL_MONITOR_USER, *denied)
    n = len(cluster.state.nodes)
    for node in cluster.state.nodes:
        links = [c for c in cluster.redis(node.ordinal).client_list() if c["name"].startswith("sentinel-")]
        assert len(links) == 2 * n, links  # each Sentinel's command and pub/sub links
        assert {c["user"] for c in links} == {SENTINEL_MONITOR_USER}
        state = (cluster.base / f"pod-{node.ordinal}" / "data" / "sentinel" / "sentinel.conf").read_text()
        assert cluster.state.redis_password not in state and cluster.state.sentinel_password in state
    old = cluster.master()
    cluster.sentinel(0).execute_command("SENTINEL", "FAILOVER", cluster.state.master_name)
    cluster._wait(
        lambda: cluster.roles()[old] == "slave" and cluster.roles().count("master") == 1,
        30,
        "the hand-over did not finish",
    )
    cluster.wait_until_healthy(60)
    refused = [
        e
        for node in cluster.state.nodes
        for e in cluster.redis(node.ordinal).acl_log()
        if e["username"] == SENTINEL_MONITOR_USER
    ]
    assert refused == []


def test_the_smoke_job_passes_every_check_as_its_own_user(cluster, spec):
    """Every check of the smoke Job, the Celery round trip among them, passes with exactly its user's grants (no
    refusal in any ACL LOG), and that user can neither administer nor touch Airflow's queues."""
    s = cluster.state
    admin, sentinel_admin = cluster.redis(cluster.master()), cluster.sentinel(0)
    smoke = set(SMOKE_COMMANDS + SMOKE_CELERY_COMMANDS + library_name(spec))
    assert allowed_commands(admin, spec.smoke.username) == smoke | always_allowed(admin)
    smoke_sentinel = set(SMOKE_SENTINEL_COMMANDS + library_name(spec))
    assert allowed_commands(sentinel_admin, spec.smoke.username) == smoke_sentinel | always_allowed(sentinel_admin)
    settings = broker_settings(
        s,
        username=spec.smoke.username,
        password=s.smoke_password,
        sentinel_username=spec.smoke.username,
        sentinel_password=s.smoke_password,
    )
    results = run_health(settings, expectations(s), celery=True)
    assert [(r.name, r.ok) for r in results if not r.ok] == [], [r.detail for r in results if not r.ok]
    assert "celery_round_trip" in [r.name for r in results]
    refused = [
        e
        for n in s.nodes
        for c in (cluster.redis(n.ordinal), cluster.sentinel(n.ordinal))
        for e in c.acl_log()
        if e["username"] == spec.smoke.username
    ]
    assert refused == []
    smoke = as_user(cluster, cluster.master(), s.redis_port, spec.smoke.username, s.smoke_password)
    for command in (
        ("CONFIG", "GET", "requirepass"),
        ("LPUSH", "default", "forged task"),
        ("FLUSHALL",),
        ("PUBLISH", "__sentinel__:hello", "x"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            smoke.execute_command(*command)
    on_sentinel = as_user(cluster, 0, s.sentinel_port, spec.smoke.username, s.smoke_password)
    with pytest.raises(redis.exceptions.NoPermissionError):
        on_sentinel.execute_command("SENTINEL", "FAILOVER", s.master_name)


def forged_hello(cluster, attacker: str, epoch: int) -> str:
    s = cluster.state
    return f"{attacker},{s.sentinel_port},{'f' * 40},{epoch},{s.master_name},{attacker},{s.redis_port},{epoch}"


def sentinel_views(cluster) -> list[tuple[str | None, int]]:
    """(master, number of other Sentinels) as each Sentinel sees it."""
    out = []
    for o in range(len(cluster.state.nodes)):
        sentinel = cluster.sentinel(o)
        master = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", cluster.state.master_name)
        out.append(
            (
                master[0] if master else None,
                len(sentinel.execute_command("SENTINEL", "SENTINELS", cluster.state.master_name)),
            )
        )
    return out


def test_airflow_cannot_forge_a_sentinel_hello(cluster, spec):
    cluster.wait_until_healthy(60)
    before = sentinel_views(cluster)
    airflow = as_user(
        cluster, cluster.master(), cluster.state.redis_port, spec.airflow.username, cluster.state.airflow_password
    )
    for ordinal in range(len(cluster.state.nodes)):
        airflow = as_user(
            cluster, ordinal, cluster.state.redis_port, spec.airflow.username, cluster.state.airflow_password
        )
        with pytest.raises(redis.exceptions.NoPermissionError):
            airflow.publish("__sentinel__:hello", forged_hello(cluster, "127.0.91.99", 1000))
    time.sleep(3)  # the report measured the takeover within 3 s
    assert sentinel_views(cluster) == before


def test_a_phantom_sentinel_does_not_survive_a_restart(cluster):
    """An announced peer that is not one of the broker's pods (here sent with the admin password, which no client
    holds) is forgotten when its Sentinel restarts, instead of being carried forward in the saved state."""
    cluster.wait_until_healthy(60)
    master = cluster.master()
    epoch = int(cluster.sentinel(0).sentinel_master(cluster.state.master_name)["config-epoch"])
    s = cluster.state
    hello = (
        f"127.0.91.99,{s.sentinel_port},{'e' * 40},{epoch},{s.master_name},{cluster.address(master)},"
        f"{s.redis_port},{epoch}"
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sentinel_views(cluster)[0][1] < 3:
        cluster.redis(master).publish("__sentinel__:hello", hello)
        time.sleep(0.5)
    assert sentinel_views(cluster)[0][1] == 3, "the phantom was not even seen: the test proves nothing"
    cluster.sentinel(0).execute_command("SENTINEL", "FLUSHCONFIG")  # the phantom is in its saved state now
    cluster.stop_process(0, "sentinel")
    cluster.start_process(0, "sentinel")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            views = sentinel_views(cluster)
            if views[0][0] is not None:
                break
        except redis.RedisError:
            pass
        time.sleep(0.5)
    hosts = {p["ip"] for p in cluster.sentinel(0).sentinel_sentinels(cluster.state.master_name)}
    assert "127.0.91.99" not in hosts
    for o in range(len(s.nodes)):  # leave the cluster clean for the next module
        cluster.sentinel(o).execute_command("SENTINEL", "RESET", s.master_name)
    cluster.wait_until_healthy(60)


def test_sentinels_that_followed_a_forged_master_come_back_on_their_own(cluster):
    """A forged hello accepted before this release (sent here with the admin password, which no client holds)
    names a master outside the broker with a far higher epoch. The egress policies make such an address
    unreachable, so the Sentinels judge it down and fail over to one of the broker's own pods, the only replicas
    they know; restarting each Sentinel, as the upgrade's roll does, forgets the phantom peer. No SENTINEL RESET."""
    cluster.wait_until_healthy(60)
    s = cluster.state
    epoch = int(cluster.sentinel(0).sentinel_master(s.master_name)["config-epoch"]) + 1000
    attacker = cluster.address(0).rsplit(".", 1)[0] + ".98"
    hello = f"{attacker},{s.sentinel_port},{'d' * 40},{epoch},{s.master_name},{attacker},{s.redis_port},{epoch}"
    for ordinal in range(len(s.nodes)):
        cluster.redis(ordinal).publish("__sentinel__:hello", hello)
    assert attacker in cluster.sentinel_masters(), "the forged hello was not accepted: the test proves nothing"

    pods = {n.host for n in s.nodes}
    # Usually one failover, about 7 s. The phantom peer raises the majority a leader needs to all three real
    # Sentinels, so a split first election happens (seen once in 6 runs): the next comes 2 x failover-timeout later.
    sentinel = cluster.spec.sentinel
    wait_s = (2 * sentinel.failover_timeout_milliseconds + sentinel.down_after_milliseconds) / 1000 + 15
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and not set(cluster.sentinel_masters()) <= pods:
        time.sleep(0.5)
    assert set(cluster.sentinel_masters()) <= pods
    for ordinal in range(len(s.nodes)):
        cluster.stop_process(ordinal, "sentinel")
        cluster.start_process(ordinal, "sentinel")
    cluster.wait_until_healthy(60)
    for ordinal in range(len(s.nodes)):
        peers = {p["ip"] for p in cluster.sentinel(ordinal).sentinel_sentinels(s.master_name)}
        assert attacker not in peers
