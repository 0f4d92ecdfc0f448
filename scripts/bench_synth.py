"""Wall time of `redis-gitops synth`, `check` (drift + schemas + policies), `policy` and `plan` (two renders:
the default spec and one with a grown volume) on the default spec, as users run them.

Each run is a fresh process (it pays the ~0.3 s jsii/Node start-up), so the figures are what `make check`
costs. Goal: check under 2 s on the 2-core CI machine. Prints the median and the spread of N runs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "7"))


def timed(args: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "redis_gitops.synth", *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", **(env or {})},
    )
    return time.perf_counter() - start


def report(name: str, samples: list[float]) -> None:
    print(
        f"{name:<22} median {statistics.median(samples):.3f} s   min {min(samples):.3f} s   "
        f"max {max(samples):.3f} s   ({len(samples)} runs)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dist"
        report("synth (fresh dir)", [timed(["synth", "--out", str(out / str(i))]) for i in range(RUNS)])
        report("synth (no change)", [timed(["synth", "--out", str(ROOT / "dist")]) for _ in range(RUNS)])
        report("check (default dist)", [timed(["check"]) for _ in range(RUNS)])
        report("policy (default dist)", [timed(["policy"]) for _ in range(RUNS)])
        grown = Path(tmp) / "grown.yaml"
        grown.write_text((ROOT / "cluster_spec.yaml").read_text().replace("size: 10Gi ", "size: 20Gi ", 1))
        plan = ["plan", "--base-spec", "cluster_spec.yaml", "--spec", str(grown), "--format", "json"]
        # A cache of its own per run: both specs rendered, in one process (one Node.js start).
        report("plan (2 renders)", [timed(plan, {"REDIS_GITOPS_CACHE": f"{tmp}/cache{i}"}) for i in range(RUNS)])
        report("plan (cached)", [timed(plan, {"REDIS_GITOPS_CACHE": f"{tmp}/cache0"}) for _ in range(RUNS)])


if __name__ == "__main__":
    main()
