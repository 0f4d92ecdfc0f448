"""A kombu Sentinel transport whose consumers and publishers survive a master change.

With kombu 5.7 and redis-py 8, a busy Celery worker (acks late, Airflow's default) never recovers from a
master change (UPSTREAM.md beside this package has the reproduction and the upstream issue text):
- planned hand-over: restoring unacked messages runs a WATCH/MULTI transaction that redis-py retries without
  limit; every retry reconnects with the plain `_connect()` to the stored address, the demoted master,
  bypassing `SentinelManagedConnection.connect()`, the only path that asks Sentinel (redis/redis-py#3874;
  sentinel_failover.py, shared with the smoke Job's client, follows the master for every connection);
- once that is fixed, the worker still stalls: the acknowledgements of the tasks it was running fail with
  READONLY on the demoted master, kombu keeps their tags in its prefetch window, and with Airflow's
  prefetch (worker_concurrency x 1) a full window means the worker never asks for another task;
- the worker's blocked BRPOP gets "-UNBLOCKED" when its master is demoted, a ResponseError that ends the
  worker (kombu recovers only from connection errors);
- master crash: closing the channel twice reaches `_connparams` after the transport let go of its client,
  and the AttributeError that follows is not one kombu treats as a connection error, so the worker exits;
- a message BRPOP took off its queue just before the master changed is recorded in `unacked` by a second
  command; when that one fails (the master demoted, or paused then demoted, in between) kombu drops the
  message: taken from its queue, in no hash, never run;
- right after a failover the new master refuses writes with NOREPLICAS until a replica links to it; kombu
  takes that for a fatal error (a publish Airflow marks FAILED, a lost record, a worker's BRPOP).
The connections come from sentinel_failover.py; the classes below change kombu's steps; everything else is
kombu's own transport.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager

import redis
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from redis._defaults import DEFAULT_RETRY_BASE, DEFAULT_RETRY_CAP, DEFAULT_RETRY_COUNT
from redis.backoff import ConstantBackoff, ExponentialWithJitterBackoff
from redis.retry import Retry

from redis_gitops_airflow.sentinel_failover import (
    FailoverConnection,
    FailoverSSLConnection,
    NoReplicasError,
    answering_sentinel_first,
)

# How long an acknowledgement keeps trying to reach the new master: a hand-over pauses writes about 1.2 s, a
# crash takes down-after (5 s rendered) plus about 1.5 s to fail over (README, "Proven under faults"). An ack
# given up on leaves its task in `unacked`, to run again after visibility_timeout.
ACK_RETRY_SECONDS = 15.0
ACK_RETRY_INTERVAL = 0.1
RETRIED = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

logger = logging.getLogger(__name__)

ALIAS = "sentinel"
TRANSPORT = f"{__name__}:SentinelTransport"


class SentinelConnection(FailoverConnection):
    """Every reconnect through Sentinel, READONLY/UNBLOCKED/NOREPLICAS retried (sentinel_failover.py)."""


class SentinelSSLConnection(FailoverSSLConnection):
    pass


def _retrying(action) -> None:
    deadline = time.monotonic() + ACK_RETRY_SECONDS
    while True:
        try:
            return action()
        except RETRIED:
            if time.monotonic() > deadline:
                raise
            time.sleep(ACK_RETRY_INTERVAL)


class QoS(kombu_redis.QoS):
    """Records and acknowledgements retried across a master change, also when the task's channel was closed
    meanwhile (the `unacked` hash is shared, so any connection to the master may write it); a message is
    delivered even if its record fails, and the prefetch slot freed even if its ack fails (the task then stays
    in `unacked` and runs again after visibility_timeout)."""

    @contextmanager
    def pipe_or_acquire(self, pipe=None, client=None):
        if pipe is not None or client is not None or not self.channel._closing_or_closed():
            with super().pipe_or_acquire(pipe, client) as p:
                yield p
            return
        if self.channel.last_pool is None:
            raise redis.exceptions.ConnectionError("the channel is closed and never had a pool")
        yield redis.Redis(connection_pool=self.channel.last_pool).pipeline()

    def append(self, message, delivery_tag):
        """BRPOP has already taken the message off its queue: its record must reach whichever server is master
        by now. One that cannot be written within the retries is delivered all the same: it runs, unrecorded
        (a crash before its ack would lose it), rather than never."""
        try:
            _retrying(lambda: kombu_redis.QoS.append(self, message, delivery_tag))
        except RETRIED as err:
            logger.warning("message %s runs without its record in unacked: %s", delivery_tag, err)
            virtual.QoS.append(self, message, delivery_tag)

    def _forget(self, delivery_tag) -> None:
        _retrying(lambda: self._remove_from_indices(delivery_tag).execute())

    def ack(self, delivery_tag):
        try:
            self._forget(delivery_tag)
        finally:
            virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        try:
            if requeue:
                _retrying(lambda: self.restore_by_tag(delivery_tag, leftmost=True))
            else:
                self._forget(delivery_tag)
        finally:
            virtual.QoS.ack(self, delivery_tag)


# redis-py's own retries for Sentinel connections, less the retries of a timeout: a refused or reset connection
# is tried again as before (a Sentinel restarting), a Sentinel that does not answer within socket_timeout is not.
SENTINEL_RETRY = Retry(
    ExponentialWithJitterBackoff(base=DEFAULT_RETRY_BASE, cap=DEFAULT_RETRY_CAP),
    DEFAULT_RETRY_COUNT,
    supported_errors=(redis.exceptions.ConnectionError,),
)


# NOREPLICAS is retried by redis-py inside the command, paced, for up to 3 s: left to kombu, a publish is
# retried in a tight loop that runs out within milliseconds, and a retry of the declaration that precedes a
# publish replaces the channel under the publish, which then fails on the closed one (kombu 5.7).
NO_REPLICAS_RETRY = Retry(ConstantBackoff(0.1), 30, supported_errors=(NoReplicasError,))


class SentinelChannel(kombu_redis.SentinelChannel):
    QoS = QoS
    connection_class = SentinelConnection
    connection_class_ssl = SentinelSSLConnection

    last_pool = None  # the master pool this channel last had: acks of its tasks outlive the channel

    def _get_pool(self, asynchronous=False):
        pool = super()._get_pool(asynchronous)
        if not asynchronous:
            self.last_pool = pool
        return pool

    def _sentinel_managed_pool(self, asynchronous=False):
        """A Sentinel that does not answer costs one socket_timeout (sentinel_kwargs), then the next one is asked,
        instead of redis-py's three retries with backoff (measured: 10.3 s on one silent Sentinel, longer than
        Airflow's 1 s publish budget)."""
        kwargs = getattr(self, "sentinel_kwargs", None)
        if kwargs and "retry" not in kwargs:
            self.sentinel_kwargs = {**kwargs, "retry": SENTINEL_RETRY}
        pool = super()._sentinel_managed_pool(asynchronous)
        # A new pool starts with the Sentinel that answered last, not again with the first of the URL.
        answering_sentinel_first(pool.sentinel_manager, pool.service_name)
        return pool

    def _connection_gone(self) -> bool:
        return self.connection is None or self.connection.client is None

    def _closing_or_closed(self) -> bool:
        return self.closed or self._connection_gone()

    def _connparams(self, asynchronous=False):
        """A channel whose connection is gone says so with a connection error, which kombu recovers from."""
        if self._connection_gone():
            raise redis.exceptions.ConnectionError("the broker connection is already closed")
        return {**super()._connparams(asynchronous), "retry": NO_REPLICAS_RETRY}


class SentinelTransport(kombu_redis.SentinelTransport):
    Channel = SentinelChannel
    # Declared, so kombu's `ensure` (publish retries) keeps retrying a connection error after a successful
    # reconnect; without them it gives up at the second READONLY of a hand-over.
    recoverable_connection_errors = kombu_redis.get_redis_error_classes().connection_errors
    recoverable_channel_errors = ()


def install() -> None:
    """Make `sentinel://` URLs use this transport everywhere in the process. Setting `broker_transport` is
    not enough: on failover `Connection.switch()` rebuilds the transport from the URL's scheme."""
    from kombu import transport

    transport.TRANSPORT_ALIASES[ALIAS] = TRANSPORT
    transport._transport_cache.pop(ALIAS, None)
