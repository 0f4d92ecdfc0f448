"""The Sentinel-aware client: redis-py's `redis.sentinel.Sentinel` does discovery and failover, with the
connections that follow a master change from redis_gitops_airflow.sentinel_failover (the same code as Airflow's
transport); this module only configures it once (from the environment the smoke Job gets, or explicit
arguments) and bounds retries.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError

from redis_gitops.contracts.broker_url import tls_kwargs
from redis_gitops.contracts.client_acl import SMOKE_HEALTH_KEY_PREFIX
from redis_gitops.contracts.defaults import DEFAULT_MASTER_NAME
from redis_gitops_airflow.sentinel_failover import (
    FailoverBackoff,
    FailoverConnection,
    FailoverSentinel,
    FailoverSSLConnection,
)

# Retry across a failover: measured write outages are ~1.3 s for a hand-over and ~6.5 s for a crash. Backoff
# starts small (a hand-over ends within a second of the pause) and stays short (a 1 s cap added 0.3-1 s after
# the new master was named, measured; 0.1 s adds at most that), and the budget (~11 s of sleeps) outlasts a crash.
DEFAULT_RETRIES = 110
DEFAULT_BACKOFF_BASE = 0.025
DEFAULT_BACKOFF_CAP = 0.1
# Per command and per connect: a dead or unreachable server costs at most this per attempt.
DEFAULT_SOCKET_TIMEOUT_SECONDS = 0.5


Address = tuple[str, int]


def address_text(a: Address) -> str:
    return f"{a[0]}:{a[1]}"


def direct_client(
    address: Address, password: str | None, timeout: float, tls_ca_file: str | None = None, username: str | None = None
) -> redis.Redis:
    """One server, no Sentinel and no retry: checks and measurements report what they see, retrying hides it."""
    return redis.Redis(
        *address,
        username=username,
        password=password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
        retry=Retry(NoBackoff(), 0),
        **tls_kwargs(tls_ca_file),
    )


def parse_addresses(raw: str, what: str) -> tuple[tuple[str, int], ...]:
    """'h1:6379,h2:6379' (commas or spaces) -> ((h1, 6379), (h2, 6379))."""
    out = []
    for part in raw.replace(",", " ").split():
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"{what}: {part!r} is not host:port")
        out.append((host, int(port)))
    if not out:
        raise ValueError(f"{what} is empty: give 'host:port,host:port,...'")
    return tuple(out)


def read_password_file(path: str | os.PathLike) -> str:
    """A password file's content as the pod scripts' `$(cat file)` reads it: trailing newlines dropped."""
    return Path(path).read_text().rstrip("\n")


def _password(env: Mapping[str, str], name: str) -> str | None:
    path = env.get(f"{name}_FILE")
    if not path:
        return env.get(name)
    try:
        return read_password_file(path)
    except OSError as err:
        raise ValueError(f"{name}_FILE={path}: cannot read it ({err.strerror}): is the Secret mounted?") from None


@dataclass(frozen=True)
class BrokerSettings:
    sentinels: tuple[tuple[str, int], ...]
    master_name: str
    password: str | None
    sentinel_password: str | None
    db: int = 0
    socket_timeout: float = DEFAULT_SOCKET_TIMEOUT_SECONDS
    retries: int = DEFAULT_RETRIES
    tls_ca_file: str | None = None  # set: every connection, to Redis and to Sentinel, is TLS verified against it
    # The smoke Job's own ACL user (on Redis and on the Sentinels); None: the admin (default) user.
    username: str | None = None
    sentinel_username: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> BrokerSettings:
        """REDIS_SENTINELS ('h1:26379,h2:26379'), REDIS_MASTER_NAME, REDIS_PASSWORD_FILE and
        REDIS_SENTINEL_PASSWORD_FILE (the smoke Job mounts its Secrets as files), or by hand REDIS_PASSWORD and
        REDIS_SENTINEL_PASSWORD; optional REDIS_USERNAME and REDIS_SENTINEL_USERNAME (an ACL user), REDIS_DB,
        REDIS_SOCKET_TIMEOUT and REDIS_TLS_CA_FILE (contracts/pod_env.SMOKE_ENV)."""
        try:
            raw = env["REDIS_SENTINELS"]
        except KeyError:
            raise ValueError("REDIS_SENTINELS is not set: give 'host:port,host:port,...' of the Sentinels") from None
        return cls(
            sentinels=parse_addresses(raw, "REDIS_SENTINELS"),
            master_name=env.get("REDIS_MASTER_NAME", DEFAULT_MASTER_NAME),
            password=_password(env, "REDIS_PASSWORD"),
            sentinel_password=_password(env, "REDIS_SENTINEL_PASSWORD"),
            db=int(env.get("REDIS_DB", "0")),
            socket_timeout=float(env.get("REDIS_SOCKET_TIMEOUT", DEFAULT_SOCKET_TIMEOUT_SECONDS)),
            tls_ca_file=env.get("REDIS_TLS_CA_FILE") or None,
            username=env.get("REDIS_USERNAME") or None,
            sentinel_username=env.get("REDIS_SENTINEL_USERNAME") or None,
        )


@dataclass(frozen=True)
class PoolHealth:
    ok: bool
    master: tuple[str, int] | None
    replicas: tuple[tuple[str, int], ...]
    round_trip_ms: float | None
    error: str | None = None


class RedisPool:
    """Connections to the current master (and replicas) through Sentinel, with bounded retries."""

    def __init__(self, settings: BrokerSettings):
        self.settings = settings
        tls = tls_kwargs(settings.tls_ca_file)
        # The master and replica pools take TLS from their connection class, not from `ssl`.
        server_tls = {k: v for k, v in tls.items() if k != "ssl"}
        connection_class = FailoverSSLConnection if tls else FailoverConnection
        self.sentinel = FailoverSentinel(
            list(settings.sentinels),
            # Sentinel's own password must go through sentinel_kwargs, or discovery fails with "No master found".
            # No retry and a short connect timeout there: redis-py's default retries with backoff cost 0.7-4.6 s
            # per lookup on each dead Sentinel (measured), when the next Sentinel would answer at once.
            sentinel_kwargs={
                "username": settings.sentinel_username,
                "password": settings.sentinel_password,
                "socket_timeout": settings.socket_timeout,
                "socket_connect_timeout": settings.socket_timeout,
                "retry": Retry(NoBackoff(), 0),
                **tls,
            },
            username=settings.username,
            password=settings.password,
            db=settings.db,
            socket_timeout=settings.socket_timeout,
            socket_connect_timeout=settings.socket_timeout,
            **server_tls,
        )
        retry = Retry(FailoverBackoff(cap=DEFAULT_BACKOFF_CAP, base=DEFAULT_BACKOFF_BASE), settings.retries)
        self._master = self.sentinel.master_for(
            settings.master_name, retry=retry, decode_responses=True, connection_class=connection_class
        )
        self._replica = self.sentinel.slave_for(
            settings.master_name, retry=retry, decode_responses=True, connection_class=connection_class
        )

    @contextmanager
    def get_connection(self, read_only: bool = False) -> Iterator[redis.Redis]:
        """The master, or with read_only=True a replica (redis-py falls back to the master when none is up)."""
        yield self._replica if read_only else self._master

    def master_address(self) -> tuple[str, int]:
        return self.sentinel.discover_master(self.settings.master_name)

    def health_check(self) -> PoolHealth:
        try:
            master = self.master_address()
            replicas = tuple(self.sentinel.discover_slaves(self.settings.master_name))
            key = f"{SMOKE_HEALTH_KEY_PREFIX}{uuid.uuid4().hex}"
            start = time.perf_counter()
            with self.get_connection() as r:
                r.set(key, "1", ex=60)
                value = r.get(key)
                r.delete(key)
            elapsed = (time.perf_counter() - start) * 1000
            return PoolHealth(
                value == "1", master, replicas, elapsed, None if value == "1" else "wrote 1, read back " + repr(value)
            )
        except (redis.RedisError, MasterNotFoundError, OSError) as err:
            return PoolHealth(False, None, (), None, f"{type(err).__name__}: {err}")

    def close(self) -> None:
        for client in (self._master, self._replica):
            client.close()
