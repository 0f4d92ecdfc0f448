"""Continuous writes through the project's pool client, each confirmed with WAIT 1, every call timed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis

from redis_gitops.devcluster.local_cluster import LocalCluster, broker_settings
from redis_gitops.runtime.client import RedisPool

# Below the pool's socket timeout (0.5 s), or a WAIT that times out would look like a lost connection.
WAIT_TIMEOUT_MS = 300


@dataclass
class Sample:
    start: float
    latency: float
    ok: bool
    confirmed: bool = False  # WAIT 1 said a replica holds it
    error: str = ""


@dataclass
class LoadLog:
    samples: list[Sample] = field(default_factory=list)
    acknowledged: list[int] = field(default_factory=list)
    confirmed: list[int] = field(default_factory=list)
    started: float = 0.0
    stopped: float = 0.0

    def errors(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.samples:
            if not s.ok:
                out[s.error] = out.get(s.error, 0) + 1
        return out

    def longest_gap(self, since: float = 0.0, until: float | None = None) -> tuple[float, float]:
        """(seconds, start) of the longest time without an acknowledged write between since and until."""
        until = self.stopped if until is None else until
        acks = [s.start + s.latency for s in self.samples if s.ok and since <= s.start + s.latency <= until]
        times = [max(since, self.started), *acks, until]
        gaps = [(b - a, a) for a, b in zip(times, times[1:], strict=False)]
        return max(gaps, default=(0.0, since))


class Load(threading.Thread):
    """RPUSH n then WAIT 1 on the same connection, in a loop, until stopped; a failed value is never re-sent."""

    def __init__(self, pool: RedisPool, key: str, pause: float = 0.002):
        super().__init__(daemon=True)
        self.pool, self.key, self.pause = pool, key, pause
        self.log = LoadLog()
        self._stop_event = threading.Event()

    def run(self) -> None:
        self.log.started = time.monotonic()
        n = 0
        with self.pool.get_connection() as client:
            while not self._stop_event.is_set():
                n += 1
                start = time.monotonic()
                try:
                    pipe = client.pipeline(transaction=False)
                    pipe.rpush(self.key, n)
                    pipe.execute_command("WAIT", 1, WAIT_TIMEOUT_MS)
                    _, replicas = pipe.execute()
                    sample = Sample(start, time.monotonic() - start, True, int(replicas) >= 1)
                    self.log.acknowledged.append(n)
                    if sample.confirmed:
                        self.log.confirmed.append(n)
                except (redis.RedisError, OSError) as err:
                    sample = Sample(
                        start, time.monotonic() - start, False, error=f"{type(err).__name__}: {str(err)[:50]}"
                    )
                    time.sleep(0.01)
                self.log.samples.append(sample)
                time.sleep(self.pause)
        self.log.stopped = time.monotonic()

    def stop(self) -> LoadLog:
        self._stop_event.set()
        self.join(timeout=60)
        return self.log


@dataclass
class Written:
    """What a writer did while a change or fault ran: its log, and the acknowledged writes the master lacks."""

    log: LoadLog = field(default_factory=LoadLog)
    lost: list[int] = field(default_factory=list)


@contextmanager
def confirmed_writes(cluster: LocalCluster) -> Iterator[Written]:
    """A Load on a local cluster while the body runs; once it ended and the cluster is
    healthy again, what was lost."""
    written = Written()
    pool = RedisPool(broker_settings(cluster.state))
    writer = Load(pool, key := f"confirmed:{time.time_ns()}")
    writer.start()
    try:
        yield written
    finally:
        written.log = writer.stop()
        pool.close()
    cluster.wait_until_healthy(60)
    stored = {int(v) for v in cluster.redis(cluster.master()).lrange(key, 0, -1)}
    written.lost = [n for n in written.log.acknowledged if n not in stored]


def main() -> None:
    """`python -m faults.load`: a Load for --seconds in this process (the fault harness runs it inside a
    network namespace), its log written as JSON to --out."""
    import argparse
    import json
    from dataclasses import asdict
    from pathlib import Path

    from redis_gitops.runtime.client import BrokerSettings, parse_addresses

    p = argparse.ArgumentParser()
    for flag in ("--key", "--out", "--sentinels", "--master-name", "--password-file", "--sentinel-password-file"):
        p.add_argument(flag, required=True)
    p.add_argument("--seconds", type=float, required=True)
    a = p.parse_args()
    settings = BrokerSettings(
        sentinels=parse_addresses(a.sentinels, "--sentinels"),
        master_name=a.master_name,
        password=Path(a.password_file).read_text(),
        sentinel_password=Path(a.sentinel_password_file).read_text(),
    )
    pool = RedisPool(settings)
    load = Load(pool, a.key)
    load.start()
    time.sleep(a.seconds)
    log = load.stop()
    pool.close()
    tmp = Path(a.out + ".tmp")
    tmp.write_text(json.dumps(asdict(log)))
    tmp.rename(a.out)


if __name__ == "__main__":
    main()
