"""Sentinel-managed connections that follow a master change: the one workaround of redis/redis-py#3874 and its
neighbours, for every client of the broker (the Airflow transport beside this file, and the smoke Job's pool,
`redis_gitops.runtime.client`, whose image installs this package too).

With redis-py 8.1 a Sentinel-managed connection asks Sentinel for the master only in `connect()`; a retried
command reconnects with the plain `connect_check_health()` straight to the address it last had, the demoted
master, until the retries run out (measured: 8.5 s without an acknowledged write instead of ~1.3 s). Here:
- every reconnect asks Sentinel, and after a READONLY it waits (bounded) for a Sentinel that names another
  master instead of reconnecting to the demoted one while the first Sentinel asked still names it;
- the Sentinel running a failover is skipped until it names the promoted replica (its SENTINEL MASTER keeps the
  old master until the failover ends, 1-6 s after the promotion, measured), then believed at once;
- READONLY and "-UNBLOCKED" (a blocked BRPOP on a master being demoted) from the master, and NOREPLICAS (no
  replica linked yet, just after a failover) are connection errors: retried, never fatal.
"""

from __future__ import annotations

import threading
import time

import redis
from redis.backoff import ExponentialBackoff
from redis.connection import Connection, SSLConnection
from redis.exceptions import ReadOnlyError
from redis.sentinel import MasterNotFoundError, Sentinel, SentinelManagedConnection

Address = tuple[str, int]

# After a READONLY from the master, how long a reconnect waits for a Sentinel to name another master, and how
# long the demoted address is passed over while some Sentinel still names another.
DEMOTED_WAIT_SECONDS = 5.0
DEMOTED_POLL_SECONDS = 0.05

# Process-wide, by service and Sentinel set, not per pool: kombu replaces its channel, and with it the pool and
# the Sentinel client, on every reconnect, and a fresh one would ask the stale Sentinel again.
_demoted: dict[tuple, tuple[Address, float]] = {}
_answered: dict[tuple, Address] = {}
# Set in the thread that runs a command's retries when a master answers READONLY for the first time.
_moved = threading.local()


class NoReplicasError(redis.ConnectionError):
    """NOREPLICAS: the master has no replica in sync (min-replicas-to-write). Retried like a lost connection.

    It happens right after a failover (until Sentinel links a replica to the new master, up to ~11 s measured),
    while both replicas restart, and on an old master cut off from its replicas, where asking Sentinel again
    finds the new master."""


def _sentinel_address(client: redis.Redis) -> Address:
    kwargs = client.connection_pool.connection_kwargs
    return kwargs["host"], int(kwargs["port"])


def _key(manager: Sentinel, service: str) -> tuple:
    return service, tuple(sorted(_sentinel_address(s) for s in manager.sentinels))


def mark_demoted(manager: Sentinel, service: str, address: Address) -> bool:
    """`address` answered READONLY: a replica now, whatever a slow Sentinel says. True the first time."""
    key = _key(manager, service)
    first = demoted(manager, service) != address
    _demoted[key] = (address, time.monotonic() + DEMOTED_WAIT_SECONDS)
    return first


def demoted(manager: Sentinel, service: str) -> Address | None:
    key = _key(manager, service)
    entry = _demoted.get(key)
    if entry is None or time.monotonic() > entry[1]:
        _demoted.pop(key, None)
        return None
    return entry[0]


def answering_sentinel_first(manager: Sentinel, service: str) -> None:
    """A new Sentinel client (kombu makes one per channel) starts with the Sentinel that answered last."""
    first = _answered.get(_key(manager, service))
    if first is not None:
        manager.sentinels.sort(key=lambda client: _sentinel_address(client) != first)


def discover_master(manager: Sentinel, service: str) -> Address:
    """The master's address from the first Sentinel that gives a believable one (see the module's text); the
    demoted address only when no Sentinel names another."""
    errors, fallback, avoid = [], None, demoted(manager, service)
    for number, sentinel in enumerate(manager.sentinels):
        try:
            state = sentinel.sentinel_masters().get(service)
            if not state:
                continue
            address = (state["ip"], int(state["port"]))
            if "failover_in_progress" in state["flags"]:
                named = sentinel.sentinel_get_master_addr_by_name(service)
                if not named:
                    continue
                host = named[0].decode() if isinstance(named[0], bytes) else named[0]  # raw reply: bytes
                if (host, int(named[1])) == address:
                    continue  # not promoted yet: its answer would be the old master
                address = (host, int(named[1]))
            elif not manager.check_master_state(state, service):
                continue
        except (redis.ConnectionError, redis.TimeoutError) as err:
            where = sentinel.connection_pool.connection_kwargs
            errors.append(f"{where.get('host')}:{where.get('port')}: {err}")
            continue
        if address == avoid:
            fallback = fallback or address
            continue
        manager.sentinels[0], manager.sentinels[number] = sentinel, manager.sentinels[0]  # ask it first next time
        _answered[_key(manager, service)] = _sentinel_address(sentinel)
        return address
    if fallback:
        return fallback
    detail = f": {'; '.join(errors)}" if errors else ""
    raise MasterNotFoundError(f"No master found for {service!r}{detail}")


class FailoverSentinel(Sentinel):
    """redis-py's Sentinel client with `discover_master` above (RedisPool's; kombu makes plain ones, whose
    connections below use it all the same)."""

    def discover_master(self, service_name: str) -> Address:
        return discover_master(self, service_name)


class FailoverBackoff(ExponentialBackoff):
    """Exponential backoff, except right after a master answered READONLY for the first time: the master has
    moved and a Sentinel names the new one, so the retry goes at once (measured: the capped backoff added
    0.1 s to half the hand-overs). A second READONLY from the same server backs off as usual."""

    def reset(self) -> None:
        _moved.now = False  # a READONLY seen by an earlier call (not retried) must not shorten this call's waits
        super().reset()

    def compute(self, failures: int) -> float:
        if getattr(_moved, "now", False):
            _moved.now = False
            return 0.0
        return super().compute(failures)


class FailoverConnection(SentinelManagedConnection):
    """A Sentinel-managed connection that asks Sentinel on every reconnect (see the module's text)."""

    _resolving = False

    def read_response(self, *args, **kwargs):
        try:
            # redis-py's own READONLY handling (in the parent) is redone here, so the demoted address is noted.
            return Connection.read_response(self, *args, **kwargs)
        except ReadOnlyError as err:
            if not self.connection_pool.is_master:
                raise
            self._demote()
            raise redis.ConnectionError(f"{self.host}:{self.port} is a replica now (READONLY)") from err
        except redis.ResponseError as err:
            message = str(err)
            if message.startswith("UNBLOCKED") and self.connection_pool.is_master:
                # Redis answers every client blocked on a master it demotes with "-UNBLOCKED ... (master ->
                # replica?)"; kombu lets a ResponseError from BRPOP end the worker.
                self._demote()
                raise redis.ConnectionError(f"the master was demoted: {message}") from err
            if message.startswith("NOREPLICAS"):
                self.disconnect()  # the next attempt asks Sentinel again: the master may have moved
                raise NoReplicasError(message) from err
            raise

    def _demote(self) -> None:
        pool = self.connection_pool
        _moved.now = mark_demoted(pool.sentinel_manager, pool.service_name, (self.host, int(self.port)))
        self.disconnect()  # the next attempt asks Sentinel again

    def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True):
        if self._sock or self._resolving:
            return super().connect_check_health(check_health, retry_socket_connect)
        self._resolving = True
        try:
            self._connect_retry()  # resolves the address through Sentinel, then connects (back through here)
        finally:
            self._resolving = False

    def _connect_retry(self):
        if self._sock:
            return
        pool = self.connection_pool
        if not pool.is_master:
            return super()._connect_retry()
        manager, service = pool.sentinel_manager, pool.service_name
        deadline = time.monotonic() + DEMOTED_WAIT_SECONDS
        while (address := discover_master(manager, service)) == demoted(manager, service):
            if time.monotonic() > deadline:
                break  # no Sentinel named another master in time: it may be master again
            time.sleep(DEMOTED_POLL_SECONDS)
        self._note_master(address)
        self.connect_to(address)

    def _note_master(self, address: Address) -> None:
        """What redis-py's own lookup does with its answer (SentinelConnectionPoolProxy.get_master_address):
        idle connections to another address are closed, so they reconnect to this one."""
        proxy = self.connection_pool
        if proxy.master_address != address:
            proxy.master_address = address
            pool = proxy.connection_pool_ref()
            if pool is not None:
                pool.disconnect(inuse_connections=False)


class FailoverSSLConnection(FailoverConnection, SSLConnection):
    """The same, over TLS (as redis-py's SentinelManagedSSLConnection pairs its Sentinel connection with TLS)."""
