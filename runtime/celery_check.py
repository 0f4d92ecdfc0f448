"""A Celery-level round trip: kombu publishes to a probe queue through Sentinel and consumes it back, the path
Airflow's scheduler and workers take (a `sentinel://` URL per Sentinel, `master_name`, `sentinel_kwargs`)."""

from __future__ import annotations

import ssl
import time
import uuid

from redis_gitops.contracts.broker_url import sentinel_broker_url, tls_kwargs
from redis_gitops.contracts.client_acl import SMOKE_PROBE_QUEUE as PROBE_QUEUE
from redis_gitops.runtime.client import BrokerSettings


class RoundTripFailed(Exception):
    pass


def celery_round_trip(settings: BrokerSettings, timeout: float = 10.0) -> str:
    from kombu import Connection

    options = {"master_name": settings.master_name, "socket_timeout": max(settings.socket_timeout, 2.0)}
    sentinel_kwargs = {
        **({"password": settings.sentinel_password} if settings.sentinel_password else {}),
        **({"username": settings.sentinel_username} if settings.sentinel_username else {}),
        **tls_kwargs(settings.tls_ca_file),
    }
    if sentinel_kwargs:
        options["sentinel_kwargs"] = sentinel_kwargs
    # With TLS, what Airflow's provider builds from `[celery] ssl_*` (kombu's broker_use_ssl).
    use_ssl = (
        {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": settings.tls_ca_file} if settings.tls_ca_file else False
    )
    token = uuid.uuid4().hex
    start = time.perf_counter()
    url = sentinel_broker_url(
        [f"{h}:{p}" for h, p in settings.sentinels], settings.db, settings.password, settings.username or ""
    )
    with Connection(url, transport_options=options, connect_timeout=5, ssl=use_ssl) as conn:
        queue = conn.SimpleQueue(PROBE_QUEUE)
        try:
            queue.put({"probe": token}, retry=True, retry_policy={"max_retries": 3})
            message = queue.get(block=True, timeout=timeout)
            message.ack()
        finally:
            queue.close()
    if message.payload != {"probe": token}:
        raise RoundTripFailed(
            f"consumed {message.payload!r} from {PROBE_QUEUE}, not the probe just published "
            "(another consumer on the probe queue?)"
        )
    return (
        f"kombu published to {PROBE_QUEUE} and consumed it back via Sentinel in "
        f"{(time.perf_counter() - start) * 1000:.1f} ms"
    )
