"""Health checks of a live cluster, each with pass/fail, a detail a person can act on, and its duration."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

import redis

from redis_gitops.contracts.defaults import DEFAULT_MASTER_NAME
from redis_gitops.runtime.client import RedisPool, direct_client, parse_addresses
from redis_gitops.runtime.client import address_text as _addr

MAX_REPLICA_LAG_SECONDS = 5


@dataclass(frozen=True)
class Expectations:
    """What the spec says the cluster should look like."""

    redis: tuple[tuple[str, int], ...]
    sentinels: tuple[tuple[str, int], ...]
    master_name: str
    maxmemory_policy: str = "noeviction"
    max_replica_lag_seconds: int = MAX_REPLICA_LAG_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Expectations:
        """REDIS_NODES and REDIS_SENTINELS ('host:port,...'), REDIS_MASTER_NAME, REDIS_MAXMEMORY_POLICY: what the
        smoke Job's manifest sets from the spec."""
        if "REDIS_NODES" not in env:
            raise ValueError("REDIS_NODES is not set: give 'host:port,host:port,...' of every Redis")
        return cls(
            redis=parse_addresses(env["REDIS_NODES"], "REDIS_NODES"),
            sentinels=parse_addresses(env.get("REDIS_SENTINELS", ""), "REDIS_SENTINELS"),
            master_name=env.get("REDIS_MASTER_NAME", DEFAULT_MASTER_NAME),
            maxmemory_policy=env.get("REDIS_MAXMEMORY_POLICY", "noeviction"),
        )


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    duration_ms: float
    metrics: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


class CheckFailed(Exception):
    pass


class HealthChecks:
    def __init__(self, pool: RedisPool, expect: Expectations, celery: bool = False):
        self.pool, self.expect, self.celery = pool, expect, celery
        s = pool.settings
        self._redis = {
            a: direct_client(a, s.password, s.socket_timeout, s.tls_ca_file, s.username) for a in expect.redis
        }
        self._sentinels = {
            a: direct_client(a, s.sentinel_password, s.socket_timeout, s.tls_ca_file, s.sentinel_username)
            for a in expect.sentinels
        }

    # -- the checks -----------------------------------------------------------------------------------
    def redis_reachable(self) -> str:
        bad = [f"{_addr(a)} ({type(e).__name__}: {e})" for a, e in self._errors(self._redis)]
        if bad:
            raise CheckFailed("Redis not reachable with auth: " + "; ".join(bad))
        return f"{len(self._redis)} Redis answer PING with auth"

    def sentinels_reachable(self) -> str:
        bad = [f"{_addr(a)} ({type(e).__name__}: {e})" for a, e in self._errors(self._sentinels)]
        if bad:
            raise CheckFailed("Sentinel not reachable with auth: " + "; ".join(bad))
        return f"{len(self._sentinels)} Sentinels answer PING with auth"

    def one_master_named_by_every_sentinel(self) -> str:
        masters = [a for a, c in self._redis.items() if self._info(c).get("role") == "master"]
        if len(masters) != 1:
            raise CheckFailed(f"expected exactly one master, found {len(masters)}: {', '.join(map(_addr, masters))}")
        named = {}
        for a, c in self._sentinels.items():
            try:
                m = c.sentinel_get_master_addr_by_name(self.expect.master_name)
                named[_addr(a)] = _addr((m[0], int(m[1]))) if m else "none"
            except redis.RedisError as err:
                named[_addr(a)] = f"error ({err})"
        wrong = {s: m for s, m in named.items() if m != _addr(masters[0])}
        if wrong:
            raise CheckFailed(
                f"master is {_addr(masters[0])} but Sentinels disagree: "
                + ", ".join(f"{s} names {m}" for s, m in wrong.items())
            )
        return f"master {_addr(masters[0])}, named by all {len(named)} Sentinels"

    def replicas_linked(self) -> str:
        replicas = {a: i for a, c in self._redis.items() if (i := self._info(c)).get("role") == "slave"}
        expected = len(self.expect.redis) - 1
        problems = [
            f"{_addr(a)} link {i.get('master_link_status')}"
            for a, i in replicas.items()
            if i.get("master_link_status") != "up"
        ]
        master = next((c for c in self._redis.values() if self._info(c).get("role") == "master"), None)
        lags = []
        if master is not None:
            info = master.info("replication")
            for key, value in info.items():
                if key.startswith("slave") and isinstance(value, dict):
                    lags.append(int(value.get("lag", 0)))
                    if int(value.get("lag", 0)) > self.expect.max_replica_lag_seconds:
                        problems.append(f"{value.get('ip')} lags {value.get('lag')} s")
        if len(replicas) != expected:
            problems.append(f"{len(replicas)} replicas, expected {expected}")
        if problems:
            raise CheckFailed("; ".join(problems))
        return f"{len(replicas)} replicas linked, max lag {max(lags, default=0)} s"

    def ckquorum(self) -> str:
        problems = []
        for a, c in self._sentinels.items():
            try:
                reply = c.execute_command("SENTINEL", "CKQUORUM", self.expect.master_name)
                if not str(reply).startswith("OK"):
                    problems.append(f"{_addr(a)}: {reply}")
            except redis.RedisError as err:
                problems.append(f"{_addr(a)}: {err}")
        if problems:
            raise CheckFailed("SENTINEL CKQUORUM failed: " + "; ".join(problems))
        return f"CKQUORUM OK on {len(self._sentinels)} Sentinels"

    def sentinels_see_the_whole_cluster(self) -> str:
        n = len(self.expect.redis)
        problems = []
        for a, c in self._sentinels.items():
            m = c.sentinel_master(self.expect.master_name)
            if int(m["num-slaves"]) != n - 1 or int(m["num-other-sentinels"]) != len(self._sentinels) - 1:
                problems.append(
                    f"{_addr(a)} sees {m['num-slaves']} replicas and {m['num-other-sentinels']} other "
                    f"Sentinels (expected {n - 1} and {len(self._sentinels) - 1})"
                )
        if problems:
            raise CheckFailed("; ".join(problems))
        return f"every Sentinel sees {n - 1} replicas and {len(self._sentinels) - 1} other Sentinels"

    def persistence_on(self) -> str:
        problems = []
        for a, c in self._redis.items():
            p = c.info("persistence")
            if int(p.get("aof_enabled", 0)) != 1:
                problems.append(f"{_addr(a)} AOF disabled")
            if p.get("rdb_last_bgsave_status") != "ok":
                problems.append(f"{_addr(a)} last RDB save {p.get('rdb_last_bgsave_status')}")
            if p.get("aof_last_write_status", "ok") != "ok":
                problems.append(f"{_addr(a)} last AOF write {p.get('aof_last_write_status')}")
        if problems:
            raise CheckFailed("; ".join(problems))
        return "AOF enabled and last RDB save ok on every Redis"

    def maxmemory_policy(self) -> str:
        # From INFO, not CONFIG GET: the smoke Job's user may not read the configuration (it holds passwords).
        wrong = {
            _addr(a): p
            for a, c in self._redis.items()
            if (p := c.info("memory")["maxmemory_policy"]) != self.expect.maxmemory_policy
        }
        if wrong:
            raise CheckFailed(
                f"maxmemory-policy should be {self.expect.maxmemory_policy}: "
                + ", ".join(f"{a} has {p}" for a, p in wrong.items())
            )
        return f"maxmemory-policy {self.expect.maxmemory_policy} everywhere"

    def round_trip_through_pool(self) -> str:
        health = self.pool.health_check()
        if not health.ok:
            raise CheckFailed(f"write/read through Sentinel failed: {health.error}")
        return f"write/read via master {_addr(health.master)} in {health.round_trip_ms:.1f} ms"

    def celery_round_trip(self) -> str:
        from redis_gitops.runtime.celery_check import RoundTripFailed, celery_round_trip

        try:
            return celery_round_trip(self.pool.settings)
        except RoundTripFailed as err:
            raise CheckFailed(str(err)) from None
        except Exception as err:  # noqa: BLE001 - kombu's errors (OperationalError, Empty) are the finding
            raise CheckFailed(f"{type(err).__name__}: {err}") from None

    # -- running --------------------------------------------------------------------------------------
    def all(self) -> list[Callable[[], str]]:
        return [
            self.redis_reachable,
            self.sentinels_reachable,
            self.one_master_named_by_every_sentinel,
            self.replicas_linked,
            self.ckquorum,
            self.sentinels_see_the_whole_cluster,
            self.persistence_on,
            self.maxmemory_policy,
            self.round_trip_through_pool,
            *([self.celery_round_trip] if self.celery else []),
        ]

    def run(self) -> list[CheckResult]:
        results = []
        for check in self.all():
            start = time.perf_counter()
            try:
                ok, detail = True, check()
            except CheckFailed as err:
                ok, detail = False, str(err)
            except (redis.RedisError, OSError, KeyError, ValueError) as err:
                ok, detail = False, f"{type(err).__name__}: {err}"
            detail = detail if len(detail) <= 400 else detail[:400] + "..."
            results.append(CheckResult(check.__name__, ok, detail, round((time.perf_counter() - start) * 1000, 1)))
        return results

    def close(self) -> None:
        for c in (*self._redis.values(), *self._sentinels.values()):
            c.close()

    @staticmethod
    def _errors(clients: dict) -> list[tuple[tuple[str, int], Exception]]:
        out = []
        for a, c in clients.items():
            try:
                c.ping()
            except (redis.RedisError, OSError) as err:
                out.append((a, err))
        return out

    @staticmethod
    def _info(client: redis.Redis) -> dict:
        try:
            return client.info("replication")
        except (redis.RedisError, OSError):
            return {}
