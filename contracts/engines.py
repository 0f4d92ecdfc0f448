"""The RDB format each engine version writes: a server reads its own format and older ones, never newer
(Redis 7.0 refuses 7.2's RDB 11; Valkey 8 refuses Redis 7.4+'s RDB 12, valkey#845)."""

from __future__ import annotations

# (engine, major, minor) -> RDB format version; a missing entry is not known here.
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
}


def rdb_format(engine: str, version: tuple[int, ...] | None) -> int | None:
    return RDB_FORMAT.get((engine, version[0], version[1])) if version else None
