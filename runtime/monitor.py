"""A snapshot of what every Redis and every Sentinel reports, for `monitor export` (JSON) and `monitor
dashboard` (a live table). Read-only: it never changes the cluster."""

from __future__ import annotations

import time

import redis

from redis_gitops.runtime.client import BrokerSettings, address_text, direct_client
from redis_gitops.runtime.health import Expectations


def _redis_node(address: tuple[str, int], settings: BrokerSettings) -> dict:
    node: dict = {"address": address_text(address)}
    client = direct_client(address, settings.password, settings.socket_timeout, settings.tls_ca_file, settings.username)
    try:
        info = client.info()
    except (redis.RedisError, OSError) as err:
        return {**node, "reachable": False, "error": f"{type(err).__name__}: {err}"}
    finally:
        client.close()
    node.update(
        reachable=True,
        role=info["role"],
        offset=info.get("master_repl_offset"),
        used_memory_bytes=info["used_memory"],
        maxmemory_bytes=info["maxmemory"],
        connected_clients=info["connected_clients"],
        ops_per_sec=info["instantaneous_ops_per_sec"],
        aof_enabled=bool(info["aof_enabled"]),
        last_rdb_save=info["rdb_last_bgsave_status"],
    )
    if info["role"] == "slave":
        node.update(
            master=f"{info['master_host']}:{info['master_port']}",
            link=info["master_link_status"],
            offset=info.get("slave_repl_offset"),
        )
    else:
        node["replicas"] = {
            f"{v['ip']}:{v['port']}": {
                "state": v["state"],
                "lag_seconds": int(v["lag"]),
                "lag_bytes": info["master_repl_offset"] - int(v["offset"]),
            }
            for k, v in info.items()
            if k.startswith("slave") and isinstance(v, dict)
        }
    return node


def _sentinel_node(address: tuple[str, int], settings: BrokerSettings, master_name: str) -> dict:
    node: dict = {"address": address_text(address)}
    client = direct_client(
        address, settings.sentinel_password, settings.socket_timeout, settings.tls_ca_file, settings.sentinel_username
    )
    try:
        m = client.sentinel_master(master_name)
    except (redis.RedisError, OSError) as err:
        return {**node, "reachable": False, "error": f"{type(err).__name__}: {err}"}
    finally:
        client.close()
    flags = m["flags"] if isinstance(m["flags"], (set, list)) else str(m["flags"]).split(",")
    return {
        **node,
        "reachable": True,
        "master": f"{m['ip']}:{m['port']}",
        "flags": sorted(flags),
        "replicas": int(m["num-slaves"]),
        "other_sentinels": int(m["num-other-sentinels"]),
        "quorum": int(m["quorum"]),
    }


def snapshot(settings: BrokerSettings, expect: Expectations) -> dict:
    redis_nodes = [_redis_node(a, settings) for a in expect.redis]
    masters = {n["address"]: n.get("replicas", {}) for n in redis_nodes if n.get("role") == "master"}
    for node in redis_nodes:  # a replica's lag as its master sees it
        for replicas in masters.values():
            if node["address"] in replicas:
                node.update(
                    lag_seconds=replicas[node["address"]]["lag_seconds"],
                    lag_bytes=replicas[node["address"]]["lag_bytes"],
                )
    return {
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "master_name": expect.master_name,
        "redis": redis_nodes,
        "sentinels": [_sentinel_node(a, settings, expect.master_name) for a in expect.sentinels],
    }


def _mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 1048576:.1f}Mi"


def role_name(role: str) -> str:
    """The word people use: Redis's INFO still says `slave`."""
    return "replica" if role == "slave" else role


def render(snap: dict) -> str:
    """The dashboard's text: one line per Redis, one per Sentinel."""
    lines = [
        f"redis-gitops monitor  {snap['master_name']}  {snap['taken_at']}",
        "",
        f"{'REDIS':<28}{'ROLE':<9}{'LINK':<7}{'LAG':>10}{'MEMORY':>18}{'CLIENTS':>9}{'OPS/S':>8}  NOTES",
    ]
    for n in snap["redis"]:
        if not n["reachable"]:
            lines.append(f"{n['address']:<28}{'DOWN':<9}{'':<7}{'':>10}{'':>18}{'':>9}{'':>8}  {n['error'][:60]}")
            continue
        lag = f"{n['lag_seconds']}s/{n['lag_bytes']}B" if "lag_seconds" in n else "-"
        memory = f"{_mib(n['used_memory_bytes'])}/{_mib(n['maxmemory_bytes'])}"
        notes = [] if n["aof_enabled"] else ["AOF OFF"]
        if n["last_rdb_save"] != "ok":
            notes.append(f"RDB {n['last_rdb_save']}")
        if n["role"] == "slave":
            notes.append(f"follows {n['master']}")
        role = role_name(n["role"])
        lines.append(
            f"{n['address']:<28}{role:<9}{n.get('link', '-'):<7}{lag:>10}{memory:>18}"
            f"{n['connected_clients']:>9}{n['ops_per_sec']:>8}  {' '.join(notes)}"
        )
    lines += ["", f"{'SENTINEL':<28}{'NAMES MASTER':<28}{'REPLICAS':>9}{'PEERS':>7}{'QUORUM':>8}  FLAGS"]
    for s in snap["sentinels"]:
        if not s["reachable"]:
            lines.append(f"{s['address']:<28}{'DOWN':<28}{'':>9}{'':>7}{'':>8}  {s['error'][:60]}")
            continue
        lines.append(
            f"{s['address']:<28}{s['master']:<28}{s['replicas']:>9}{s['other_sentinels']:>7}"
            f"{s['quorum']:>8}  {','.join(s['flags'])}"
        )
    named = {s["master"] for s in snap["sentinels"] if s["reachable"]}
    lines += [
        "",
        "Sentinels agree on " + named.pop()
        if len(named) == 1
        else f"Sentinels DISAGREE: {', '.join(sorted(named)) or 'none reachable'}",
    ]
    return "\n".join(lines) + "\n"
