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
  takes that for a fatal error (a publish Airflow marks FAILED, a lost record, a worker's BRPOP);
- a master cut off from its replicas acknowledges writes until `min-replicas-max-lag`, and they vanish when it
  rejoins as a replica: a publish answered "ok" whose task never runs. With `confirm_replicas` set, a publish
  and a delivered message's record count as written only once that many replicas hold them (`WAIT` in the same
  round trip); an unconfirmed write is retried through Sentinel like a lost connection.
The connections come from sentinel_failover.py; the classes below change kombu's steps; everything else is
kombu's own transport.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import contextmanager

import redis
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.json import dumps
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
_warned: list = []  # the broker refused WAIT: said once per process

ALIAS = "sentinel"
TRANSPORT = f"{__name__}:SentinelTransport"


class UnconfirmedWrite(redis.ConnectionError):
    """Fewer replicas than required acknowledged a write within the bound: the master may be cut off from them,
    and the write would vanish with it. A connection error, so kombu's `ensure` retries the publish through
    Sentinel; the retry duplicates the message if the first copy was only slow to replicate (Airflow's own
    state check absorbs a duplicate: docs/operate/airflow.md)."""


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
    def pipe_or_acquire(self, pipe=None, client=None, transaction=True):
        if pipe is not None:
            yield pipe
        elif client is not None or not self.channel._closing_or_closed():
            with self.channel.conn_or_acquire(client) as c:
                yield c.pipeline(transaction=transaction)
        elif self.channel.last_pool is None:
            raise redis.exceptions.ConnectionError("the channel is closed and never had a pool")
        else:
            yield redis.Redis(connection_pool=self.channel.last_pool).pipeline(transaction=transaction)

    def append(self, message, delivery_tag):
        """BRPOP has already taken the message off its queue: its record must reach whichever server is master
        by now, and be confirmed like a publish (a lost record loses the task if the worker stops before its
        ack: a warm shutdown restores only what `unacked` holds). One that cannot be written within the retries
        is delivered all the same: it runs, unrecorded, rather than never."""
        try:
            _retrying(lambda: self._record(message, delivery_tag))
        except RETRIED as err:
            logger.warning("message %s runs without its record in unacked: %s", delivery_tag, err)
        virtual.QoS.append(self, message, delivery_tag)

    def _record(self, message, delivery_tag) -> None:
        """kombu's record (the index first: an index entry without its message is dropped by the next restore,
        a message without its index entry would never be restored), in one round trip with the confirmation."""
        delivery = message.delivery_info
        payload = dumps([message._raw, delivery["exchange"], delivery["routing_key"]])

        def commands(pipe):
            pipe.zadd(self.unacked_index_key, {delivery_tag: time.time()})
            pipe.hset(self.unacked_key, delivery_tag, payload)

        with self.pipe_or_acquire(transaction=False) as pipe:
            self.channel.confirmed_write(pipe, commands)

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

    # Transport options (`[celery_broker_transport_options]`, rendered from the spec by redis-gitops): how many
    # replicas must hold a publish or a record before it counts (0: no confirmation, kombu's behaviour), and how
    # long the master may wait for them, in seconds.
    confirm_replicas = 0
    confirm_timeout = 0.25
    from_transport_options = kombu_redis.SentinelChannel.from_transport_options + (
        "confirm_replicas",
        "confirm_timeout",
    )

    def confirmed_write(self, pipe, commands: Callable) -> list:
        """Run `commands(pipe)` and, with confirmation on, WAIT in the same round trip; raise UnconfirmedWrite
        when fewer replicas than required hold the writes. A WAIT the server refuses (an ACL from before WAIT
        was granted: Airflow upgraded before the broker) leaves the writes unconfirmed, as kombu's, with a
        warning (once per process), rather than failing every publish; the next write tries again."""
        commands(pipe)
        replicas = int(self.confirm_replicas)
        if replicas <= 0:
            return pipe.execute()
        pipe.wait(replicas, max(1, round(float(self.confirm_timeout) * 1000)))
        *replies, held = pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        if isinstance(held, redis.exceptions.NoPermissionError):
            if not _warned:
                logger.warning("writes are not confirmed: the broker refuses WAIT to this user (%s)", held)
                _warned.append(held)
        elif isinstance(held, Exception):
            raise held
        elif held < replicas:
            pipe.connection_pool.disconnect(inuse_connections=False)  # the next attempt asks Sentinel again
            raise UnconfirmedWrite(f"{held} of {replicas} replicas confirmed the write within {self.confirm_timeout} s")
        return replies

    def _put(self, queue, message, **kwargs):
        """kombu's publish, confirmed (see confirmed_write). kombu's publish batches, which neither Celery nor
        Airflow uses, keep kombu's unconfirmed path."""
        if kwargs.get("_publish_batch") is not None or int(self.confirm_replicas) <= 0:
            return super()._put(queue, message, **kwargs)
        queue_key = self._q_for_pri(queue, self._get_message_priority(message, reverse=False))
        expires = self._expires.get(queue) if self._expires else None

        def commands(pipe):
            pipe.lpush(queue_key, dumps(message))
            for step in self.priority_steps if expires else ():
                pipe.pexpire(self._q_for_pri(queue, step), expires)

        with self.conn_or_acquire() as client, client.pipeline(transaction=False) as pipe:
            self.confirmed_write(pipe, commands)

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
