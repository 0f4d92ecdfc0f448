"""`python -m faults [--runs N] [--only NAME ...] [--out build/faults]`: every scenario, N runs each (or the
scenario's own minimum)."""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from faults import report
from faults.scenarios import SCENARIOS, run
from runtime.local_cluster import LocalCluster
from synth.spec_loader import load_spec

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "faults")
    parser.add_argument("--subnet", type=int, default=81)
    args = parser.parse_args()
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    spec = load_spec(ROOT / "cluster_spec.yaml")
    runs = []
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp, \
            LocalCluster(spec, ROOT / "dist", Path(tmp), subnet=args.subnet) as cluster:
        for name in args.only or SCENARIOS:
            for i in range(max(args.runs, SCENARIOS[name].min_runs)):
                r = run(cluster, SCENARIOS[name], f"faults:{name}:{i}")
                print(f"{name} #{i + 1}: unavailable {r.unavailable_s:.2f} s, new master after "
                      f"{r.new_master_after_s} s, Sentinels agree after {r.sentinels_agree_after_s} s, lost "
                      f"{r.lost}/{r.acknowledged} (WAIT 1: {r.lost_confirmed}/{r.confirmed}), healthy {r.healthy_after}"
                      + (f", per pod {r.per_pod_unavailable_s}" if r.per_pod_unavailable_s else ""), flush=True)
                runs.append(r)
    path = report.write(runs, args.out)
    print(report.table(runs))
    print(f"report: {path}; timelines: {args.out}/*.png")


if __name__ == "__main__":
    main()
