"""Figures of the failover check and of the pool, on a local cluster rendered from dist/.

1. The failover check N times (BENCH_FAILOVERS, default 5): median/min/max of the time until every Sentinel
   gives clients the new master, of the write outage a pool writer saw, of the write pause, and the lost
   acknowledged writes (must be 0).
2. Throughput of SET+GET through the pool (Sentinel discovery, retries, our connection class) against a bare
   redis-py client on the same master, alternating rounds (BENCH_ROUNDS, default 7). Goal: overhead < 5%.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import redis

from redis_gitops.devcluster.local_cluster import LocalCluster, broker_settings
from redis_gitops.runtime.client import RedisPool
from redis_gitops.runtime.failover import FailoverCheck
from redis_gitops.synth.spec_loader import load_spec

ROOT = Path(__file__).resolve().parents[1]

FAILOVERS = int(os.environ.get("BENCH_FAILOVERS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
OPS = int(os.environ.get("BENCH_OPS", "5000"))


def spread(name: str, values: list[float], unit: str = "s") -> None:
    print(
        f"  {name:<34} median {statistics.median(values):8.2f} {unit}   min {min(values):8.2f}   max {max(values):8.2f}"
    )


def ops_per_second(client: redis.Redis) -> float:
    start = time.perf_counter()
    for i in range(OPS // 2):
        client.set("bench:key", i)
        client.get("bench:key")
    return OPS / (time.perf_counter() - start)


def main() -> None:
    spec = load_spec(ROOT / "cluster_spec.yaml")
    with tempfile.TemporaryDirectory() as tmp, LocalCluster(spec, ROOT / "dist", Path(tmp), subnet=91) as cluster:
        s = cluster.state
        reports = []
        for _ in range(FAILOVERS):
            reports.append(FailoverCheck(broker_settings(s), tuple(s.sentinel_addresses), s.master_name).run())
            cluster.wait_until_healthy(60)
        print(f"failover check, {FAILOVERS} runs (Redis {cluster.redis(0).info('server')['redis_version']}):")
        spread("Sentinels agree (client view)", [r.agreement_ms / 1000 for r in reports])
        spread("write outage (pool writer)", [r.write_outage_ms / 1000 for r in reports])
        spread("writes paused on old master", [r.paused_ms / 1000 for r in reports])
        spread("old master replicating again", [r.rejoin_ms / 1000 for r in reports])
        print(
            f"  acknowledged writes lost: {sum(r.lost_writes for r in reports)} of "
            f"{sum(r.acknowledged_writes for r in reports)}; writer errors: "
            f"{sum(sum(r.writer_errors.values()) for r in reports)}; full resyncs: "
            f"{sum(r.full_resyncs or 0 for r in reports)}; checks passed: {sum(r.ok for r in reports)}/{FAILOVERS}"
        )

        pool = RedisPool(broker_settings(s))
        host, port = pool.master_address()
        bare = redis.Redis(host, port, password=s.redis_password, decode_responses=True)
        with pool.get_connection() as pooled:
            ops_per_second(pooled), ops_per_second(bare)  # warm up both
            pool_rates, bare_rates = [], []
            for _ in range(ROUNDS):
                pool_rates.append(ops_per_second(pooled))
                bare_rates.append(ops_per_second(bare))
        pool.close()
        bare.close()
        p, b = statistics.median(pool_rates), statistics.median(bare_rates)
        print(f"throughput, SET+GET, {OPS} ops x {ROUNDS} rounds, one connection each:")
        spread("pool (Sentinel, retries)", pool_rates, "ops/s")
        spread("bare redis-py client", bare_rates, "ops/s")
        print(f"  pool overhead: {(b - p) / b * 100:+.1f}% (goal: under 5%)")


if __name__ == "__main__":
    main()
