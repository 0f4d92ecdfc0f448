"""A writer that records every acknowledged write, to measure a failover's outage and lost writes."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import redis


@dataclass
class WriteLog:
    acknowledged: list[int] = field(default_factory=list)
    error_times: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    started: float = 0.0
    stopped: float = 0.0

    @property
    def outage_seconds(self) -> float:
        """From the first failed write to the last one: how long writers saw the broker as unavailable."""
        return self.error_times[-1] - self.error_times[0] if self.error_times else 0.0


class Writer(threading.Thread):
    """RPUSHes increasing integers onto `key` through `client` until stopped; never retries a failed value."""

    def __init__(self, client: redis.Redis, key: str, pause: float = 0.001):
        super().__init__(daemon=True)
        self.client, self.key, self.pause = client, key, pause
        self.log = WriteLog()
        self._stop_event = threading.Event()

    def run(self) -> None:
        self.log.started = time.monotonic()
        n = 0
        while not self._stop_event.is_set():
            n += 1
            try:
                self.client.rpush(self.key, n)
                self.log.acknowledged.append(n)
            except (redis.RedisError, OSError) as err:
                self.log.error_times.append(time.monotonic())
                name = f"{type(err).__name__}: {str(err)[:60]}"
                self.log.errors[name] = self.log.errors.get(name, 0) + 1
                time.sleep(0.01)
            time.sleep(self.pause)
        self.log.stopped = time.monotonic()

    def stop(self) -> WriteLog:
        self._stop_event.set()
        self.join(timeout=10)
        return self.log


def lost_writes(log: WriteLog, stored: list[str]) -> list[int]:
    present = {int(x) for x in stored}
    return [n for n in log.acknowledged if n not in present]
