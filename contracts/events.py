"""The pod scripts' structured lines (`<time> event=NAME key=value ...`, lib.sh's `event`): one parser for every
program that reads what a hand-over did (the failover check, the tests), never the lines written for people."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

# The hand-over's events (prestop-redis.sh), in the order they happen.
WRITES_PAUSED = "writes-paused"
WRITES_RESUMED = "writes-resumed"  # why=...: the pause ended without a failover (the hand-over tries again)
FAILOVER_ASKED = "failover-asked"  # sentinel=HOST offset=N
HANDED_OVER = "handed-over"  # new=HOST: demoted and unpaused
SENTINELS_AGREE = "sentinels-agree"  # master=HOST


@dataclass(frozen=True)
class ScriptEvent:
    time: datetime
    name: str
    fields: dict[str, str] = field(default_factory=dict)


def script_events(log: str) -> list[ScriptEvent]:
    """Every event line of a script's stderr, in order; other lines are ignored."""
    out = []
    for line in log.splitlines():
        stamp, _, rest = line.partition(" ")
        if not rest.startswith("event="):
            continue
        name, *pairs = rest.split()
        when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        out.append(ScriptEvent(when, name.removeprefix("event="), dict(p.partition("=")[::2] for p in pairs)))
    return out


def first(events: list[ScriptEvent], name: str) -> ScriptEvent | None:
    return next((e for e in events if e.name == name), None)


def pauses(events: list[ScriptEvent]) -> list[float]:
    """How long each pause of writes lasted, in seconds: from writes-paused to the event that ended it (writes
    resumed, or handed over)."""
    out, start = [], None
    for e in events:
        if e.name == WRITES_PAUSED:
            start = e.time
        elif start is not None and e.name in (WRITES_RESUMED, HANDED_OVER):
            out.append((e.time - start).total_seconds())
            start = None
    return out
