"""Production runs the image the spec names; the tests run the versions the tested-versions table runs (Debian's
Redis 7.0.15, the wheel's Valkey 8.1.8). Every directive we render and every command the pod scripts send must
exist in each server the tests run, or the proof would be of something else: fail loudly, naming it."""

import re

import pytest

from redis_gitops.contracts import pod_scripts
from redis_gitops.synth.redis_config import redis_conf

from redis_process import unix_socket_redis

# What start-redis.sh appends to the rendered redis.conf.
ADDED_AT_START = ("dir", "requirepass", "masterauth", "replica-announce-ip", "replicaof", "bind")


@pytest.fixture(scope="module", params=["redis", "valkey"])
def server(request, tmp_path_factory):
    with unix_socket_redis(tmp_path_factory.mktemp("skew"), engine=request.param) as client:
        yield client


def test_every_rendered_directive_is_known_to_the_redis_the_tests_run(server, spec):
    directives = {
        line.split()[0] for line in redis_conf(spec).splitlines() if line.strip() and not line.startswith("#")
    } | set(ADDED_AT_START)
    unknown = sorted(d for d in directives if not server.config_get(d))
    info = server.info("server")
    version = f"valkey {info['valkey_version']}" if "valkey_version" in info else f"redis {info['redis_version']}"
    assert not unknown, f"{version} does not know {unknown}: the tests would not prove them"


def _command_info(server, command: str):
    """COMMAND INFO's raw reply (redis-py's parser trips on the nil an unknown command gets)."""
    conn = server.connection_pool.get_connection()
    try:
        conn.send_command("COMMAND", "INFO", command)
        return conn.read_response()
    finally:
        server.connection_pool.release(conn)


def test_every_command_the_pod_scripts_send_is_known_to_the_redis_the_tests_run(server):
    text = "".join(pod_scripts.text(n) for n in pod_scripts.NAMES)
    commands = set(re.findall(r'redis_cli "\$[A-Za-z_{}]+" ([A-Z]+)', text))
    assert {"CLIENT", "CONFIG", "INFO", "REPLICAOF", "PING"} <= commands
    assert _command_info(server, "NOSUCHCOMMAND") == [None]  # it can say no
    unknown = sorted(c for c in commands if _command_info(server, c) == [None])
    assert not unknown, f"{server.info('server').get('server_name', 'redis')} does not know {unknown}"
