"""The Sentinel-aware client: redis-py's `redis.sentinel.Sentinel` does discovery and failover; this module
only configures it once (from the environment the smoke Job gets, or explicit arguments) and bounds retries.
"""
from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import redis
from redis.backoff import ExponentialBackoff
from redis.sentinel import MasterNotFoundError, Sentinel
from redis.retry import Retry


# Retry across a failover: measured write outages are ~1.3 s for a hand-over and ~6 s for a crash.
DEFAULT_RETRIES = 10
DEFAULT_BACKOFF_CAP = 1.0


@dataclass(frozen=True)
class BrokerSettings:
    sentinels: tuple[tuple[str, int], ...]
    master_name: str
    password: str | None
    sentinel_password: str | None
    db: int = 0
    socket_timeout: float = 0.5
    retries: int = DEFAULT_RETRIES

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> BrokerSettings:
        """REDIS_SENTINELS ('h1:26379,h2:26379'), REDIS_MASTER_NAME, REDIS_PASSWORD, REDIS_SENTINEL_PASSWORD,
        optional REDIS_DB and REDIS_SOCKET_TIMEOUT: what the smoke Job's manifest sets from Secrets."""
        try:
            raw = env["REDIS_SENTINELS"]
        except KeyError:
            raise ValueError("REDIS_SENTINELS is not set: give 'host:port,host:port,...' of the Sentinels") from None
        sentinels = []
        for part in filter(None, (p.strip() for p in raw.split(","))):
            host, _, port = part.rpartition(":")
            sentinels.append((host, int(port)))
        return cls(
            sentinels=tuple(sentinels), master_name=env.get("REDIS_MASTER_NAME", "mymaster"),
            password=env.get("REDIS_PASSWORD"), sentinel_password=env.get("REDIS_SENTINEL_PASSWORD"),
            db=int(env.get("REDIS_DB", "0")), socket_timeout=float(env.get("REDIS_SOCKET_TIMEOUT", "0.5")),
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
        self.sentinel = Sentinel(
            list(settings.sentinels),
            # Sentinel's own password must go through sentinel_kwargs, or discovery fails with "No master found".
            sentinel_kwargs={"password": settings.sentinel_password, "socket_timeout": settings.socket_timeout},
            password=settings.password, db=settings.db, socket_timeout=settings.socket_timeout,
            socket_connect_timeout=settings.socket_timeout,
        )
        retry = Retry(ExponentialBackoff(cap=DEFAULT_BACKOFF_CAP, base=0.05), settings.retries)
        self._master = self.sentinel.master_for(settings.master_name, retry=retry, decode_responses=True)
        self._replica = self.sentinel.slave_for(settings.master_name, retry=retry, decode_responses=True)

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
            key = f"redis-gitops:health:{uuid.uuid4().hex}"
            start = time.perf_counter()
            with self.get_connection() as r:
                r.set(key, "1", ex=60)
                value = r.get(key)
                r.delete(key)
            elapsed = (time.perf_counter() - start) * 1000
            return PoolHealth(value == "1", master, replicas, elapsed,
                              None if value == "1" else "wrote 1, read back " + repr(value))
        except (redis.RedisError, MasterNotFoundError, OSError) as err:
            return PoolHealth(False, None, (), None, f"{type(err).__name__}: {err}")

    def close(self) -> None:
        for client in (self._master, self._replica):
            client.close()


def get_redis_pool(settings: BrokerSettings | None = None, **overrides) -> RedisPool:
    """A pool configured from the environment, or from `settings`, with any field overridden by keyword."""
    base = settings or BrokerSettings.from_env()
    if overrides:
        base = BrokerSettings(**{**base.__dict__, **overrides})
    return RedisPool(base)
