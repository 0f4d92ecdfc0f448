"""`python -m faults [--runs N] [--only NAME ...] [--network] [--engines redis valkey] [--out build/faults]`:
every scenario, N runs each (or the scenario's own minimum), on each engine the tested-versions table runs (the
repository's spec as it is, and the same spec on the other engine's official image at the version the table
runs); with --network (root) also those that need network namespaces."""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
from pathlib import Path

from redis_gitops.devcluster.local_cluster import LocalCluster
from redis_gitops.devcluster.netns import NetnsCluster
from redis_gitops.devcluster.variants import render_on
from redis_gitops.faults import network, report
from redis_gitops.faults.scenarios import SCENARIOS, Run, run
from redis_gitops.synth.spec_loader import load_spec

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=sorted(report.SCENARIOS), default=None)
    parser.add_argument("--network", action="store_true", help="also the network scenarios (needs root)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "faults")
    parser.add_argument("--subnet", type=int, default=81)
    parser.add_argument("--engines", nargs="+", choices=["redis", "valkey"], default=["redis", "valkey"])
    args = parser.parse_args()
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    wanted = args.only or list(SCENARIOS) + (list(network.SCENARIOS) if args.network else [])
    runs: list[Run] = []
    for i, engine in enumerate(args.engines):
        with tempfile.TemporaryDirectory(prefix=f"faults-{engine}-") as tmp:
            spec, dist = load_spec(ROOT / "cluster_spec.yaml"), ROOT / "dist"
            if spec.redis.engine != engine:  # the repository's spec on the other engine the table runs
                spec, dist = render_on(ROOT / "cluster_spec.yaml", engine, Path(tmp) / "rendering")
            runs += _on(engine, spec, dist, wanted, args, Path(tmp), args.subnet + 2 * i, 78 + i)
    path = report.write(runs, args.out)
    print(report.table(runs))
    print(f"report: {path}; timelines: {args.out}/*.png")


def _on(engine, spec, dist, wanted, args, tmp: Path, subnet: int, octet: int) -> list[Run]:
    """Every wanted scenario on one engine's cluster."""
    runs: list[Run] = []
    loopback = [name for name in wanted if name in SCENARIOS]
    if loopback:
        with LocalCluster(spec, dist, tmp / "local", subnet=subnet) as cluster:
            for name in loopback:
                for i in range(max(args.runs, SCENARIOS[name].min_runs)):
                    key = f"faults:{name}:{i}"
                    runs.append(_said(name, i, dataclasses.replace(run(cluster, SCENARIOS[name], key), engine=engine)))
    netns = [name for name in wanted if name in network.SCENARIOS]
    if netns:
        with NetnsCluster(spec, dist, tmp / "netns", tag=f"rgf{os.getpid() % 1000}", octet=octet) as cluster:
            for name in netns:
                for i in range(max(args.runs, network.SCENARIOS[name].min_runs)):
                    measured = network.run(cluster, network.SCENARIOS[name], tmp)
                    runs.append(_said(name, i, dataclasses.replace(measured, engine=engine)))
    return runs


def _said(name: str, i: int, r: Run) -> Run:
    print(
        f"{r.engine} {name} #{i + 1}: unavailable {r.unavailable_s:.2f} s, new master after {r.new_master_after_s} s, "
        f"Sentinels agree after {r.sentinels_agree_after_s} s, lost {r.lost}/{r.acknowledged} (WAIT 1: "
        f"{r.lost_confirmed}/{r.confirmed}), healthy {r.healthy_after}"
        + (f", per pod {r.per_pod_unavailable_s}" if r.per_pod_unavailable_s else "")
        + (f", cut-off side {r.cut_off_side}" if r.cut_off_side else ""),
        flush=True,
    )
    return r


if __name__ == "__main__":
    main()
