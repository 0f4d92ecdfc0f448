"""`python -m faults [--runs N] [--only NAME ...] [--network] [--out build/faults]`: every scenario, N runs
each (or the scenario's own minimum); with --network (root) also those that need network namespaces."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from redis_gitops.devcluster.local_cluster import LocalCluster
from redis_gitops.devcluster.netns import NetnsCluster
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
    args = parser.parse_args()
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    spec = load_spec(ROOT / "cluster_spec.yaml")
    wanted = args.only or list(SCENARIOS) + (list(network.SCENARIOS) if args.network else [])
    runs: list[Run] = []
    loopback = [name for name in wanted if name in SCENARIOS]
    if loopback:
        with (
            tempfile.TemporaryDirectory(prefix="faults-") as tmp,
            LocalCluster(spec, ROOT / "dist", Path(tmp), subnet=args.subnet) as cluster,
        ):
            for name in loopback:
                for i in range(max(args.runs, SCENARIOS[name].min_runs)):
                    runs.append(_said(name, i, run(cluster, SCENARIOS[name], f"faults:{name}:{i}")))
    netns = [name for name in wanted if name in network.SCENARIOS]
    if netns:
        with (
            tempfile.TemporaryDirectory(prefix="faults-netns-") as tmp,
            NetnsCluster(spec, ROOT / "dist", Path(tmp), tag=f"rgf{os.getpid() % 1000}", octet=78) as cluster,
        ):
            for name in netns:
                for i in range(max(args.runs, network.SCENARIOS[name].min_runs)):
                    runs.append(_said(name, i, network.run(cluster, network.SCENARIOS[name], Path(tmp))))
    path = report.write(runs, args.out)
    print(report.table(runs))
    print(f"report: {path}; timelines: {args.out}/*.png")


def _said(name: str, i: int, r: Run) -> Run:
    print(
        f"{name} #{i + 1}: unavailable {r.unavailable_s:.2f} s, new master after {r.new_master_after_s} s, "
        f"Sentinels agree after {r.sentinels_agree_after_s} s, lost {r.lost}/{r.acknowledged} (WAIT 1: "
        f"{r.lost_confirmed}/{r.confirmed}), healthy {r.healthy_after}"
        + (f", per pod {r.per_pod_unavailable_s}" if r.per_pod_unavailable_s else "")
        + (f", cut-off side {r.cut_off_side}" if r.cut_off_side else ""),
        flush=True,
    )
    return r


if __name__ == "__main__":
    main()
