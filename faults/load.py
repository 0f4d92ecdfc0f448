"""Continuous writes through the project's pool client, each confirmed with WAIT 1, every call timed."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import redis

from runtime.client import RedisPool

WAIT_TIMEOUT_MS = 1000


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
        gaps = [(b - a, a) for a, b in zip(times, times[1:])]
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
                    sample = Sample(start, time.monotonic() - start, False, error=f"{type(err).__name__}: "
                                                                                  f"{str(err)[:50]}")
                    time.sleep(0.01)
                self.log.samples.append(sample)
                time.sleep(self.pause)
        self.log.stopped = time.monotonic()

    def stop(self) -> LoadLog:
        self._stop_event.set()
        self.join(timeout=60)
        return self.log
