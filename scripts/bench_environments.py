"""Wall time of rendering and gating 20 environments (`synth` then `check`, each a fresh process as `make synth`
runs them), with an empty render cache (a fresh CI runner) and with the cache `synth` leaves for `check`.

Goal (issue 26): 20 environments rendered and gated in under 3 s on the 2-core machine; one environment takes
about 1 s. `check` with an empty cache is what CI pays (it renders and gates in one process). Prints the
median and the spread of N runs.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
ENVIRONMENTS = int(os.environ.get("BENCH_ENVIRONMENTS", "20"))


def timed(repo: Path, args: list[str], cache: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "redis_gitops.synth", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "REDIS_GITOPS_CACHE": str(cache)},
    )
    return time.perf_counter() - start


def repository(folder: Path, count: int) -> Path:
    """The repository's spec as the base and `count` environments, each in its namespace with its memory."""
    shutil.copy(ROOT / "cluster_spec.yaml", folder / "cluster_spec.yaml")
    (folder / "environments").mkdir()
    for i in range(count):
        memory = f"{1 + i % 4}Gi"
        (folder / "environments" / f"env-{i:02d}.yaml").write_text(
            f"namespace: airflow-{i:02d}\n"
            f"redis:\n  resources:\n    requests: {{cpu: 250m, memory: {memory}}}\n"
            f"    limits: {{cpu: '1', memory: {memory}}}\n"
        )
    return folder


def planned(repo: Path, cache: Path) -> float:
    """The pull request's plan: the rendering committed, one environment's memory changed and rendered."""
    git = ["git", "-C", str(repo), "-c", "user.email=bench@example.com", "-c", "user.name=bench"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "rendered"], check=True)
    changed = repo / "environments" / "env-01.yaml"
    changed.write_text(changed.read_text().replace("memory: 2Gi", "memory: 3Gi"))
    timed(repo, ["synth"], cache)
    return timed(repo, ["plan", "--base", "HEAD", "--format", "markdown", "--output", str(repo / "plan.md")], cache)


def report(name: str, samples: list[float]) -> None:
    print(
        f"{name:<40} median {statistics.median(samples):.3f} s   min {min(samples):.3f} s   "
        f"max {max(samples):.3f} s   ({len(samples)} runs)"
    )


def main() -> None:
    cold_synth, cold_total, warm_check, cold_check, one, plan = [], [], [], [], [], []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as tmp:
            repo = repository(Path(tmp), ENVIRONMENTS)
            cache = Path(tmp) / "cache"
            synth = timed(repo, ["synth"], cache)
            check = timed(repo, ["check"], cache)
            cold_synth.append(synth)
            cold_total.append(synth + check)
            warm_check.append(check)
            cold_check.append(timed(repo, ["check"], Path(tmp) / "empty"))  # CI: a fresh runner, committed dist/
            one.append(timed(repo, ["synth", "--env", "env-00", "--out", str(Path(tmp) / "one")], Path(tmp) / "c1"))
            plan.append(planned(repo, cache))
    report(f"synth, {ENVIRONMENTS} environments (empty cache)", cold_synth)
    report("check after it (cached renders)", warm_check)
    report("make synth: synth + check", cold_total)
    report("check, empty cache (renders and gates)", cold_check)
    report("synth --env (one environment)", one)
    report("plan --base HEAD (1 of 20 changed)", plan)


if __name__ == "__main__":
    main()
