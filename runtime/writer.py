"""Client load during a failover: a writer that records every acknowledged write (to prove none is lost)
and a reader, both going through whatever client they are given."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis


@dataclass
class WriteLog:
    acknowledged: list[int] = field(default_factory=list)
    ack_times: list[float] = field(default_factory=list)
    error_times: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    started: float = 0.0
    stopped: float = 0.0

    @property
    def outage_seconds(self) -> float:
        """From the first failed call to the last one: how long a client without retries saw errors."""
        return self.error_times[-1] - self.error_times[0] if self.error_times else 0.0

    @property
    def longest_gap_seconds(self) -> float:
        """The longest time without an acknowledged call: the outage a client with retries feels as latency."""
        times = [self.started, *self.ack_times, self.stopped]
        return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)

    def record_error(self, err: Exception) -> None:
        self.error_times.append(time.monotonic())
        name = f"{type(err).__name__}: {str(err)[:60]}"
        self.errors[name] = self.errors.get(name, 0) + 1


class _Loop(threading.Thread):
    def __init__(self, call: Callable[[int], object], pause: float):
        super().__init__(daemon=True)
        self.call, self.pause = call, pause
        self.log = WriteLog()
        self._stop_event = threading.Event()

    def run(self) -> None:
        self.log.started = time.monotonic()
        n = 0
        while not self._stop_event.is_set():
            n += 1
            try:
                self.call(n)
                self.log.acknowledged.append(n)
                self.log.ack_times.append(time.monotonic())
            except (redis.RedisError, OSError) as err:
                self.log.record_error(err)
                time.sleep(0.01)
            time.sleep(self.pause)
        self.log.stopped = time.monotonic()

    def stop(self) -> WriteLog:
        self._stop_event.set()
        self.join(timeout=30)
        return self.log


class Writer(_Loop):
    """RPUSHes increasing integers onto `key` through `client` until stopped; never re-sends a failed value."""

    def __init__(self, client: redis.Redis, key: str, pause: float = 0.001):
        super().__init__(lambda n: client.rpush(key, n), pause)


class Reader(_Loop):
    """Reads `key`'s length through `client` until stopped (a replica client shows reads surviving a failover)."""

    def __init__(self, client: redis.Redis, key: str, pause: float = 0.005):
        super().__init__(lambda n: client.llen(key), pause)


def lost_writes(log: WriteLog, stored: list[str]) -> list[int]:
    present = {int(x) for x in stored}
    return [n for n in log.acknowledged if n not in present]
