"""Airflow's publishes through a network partition (issue 27's measurement): the master's pod cut off from the
others, Airflow's scheduler publishing on each side of the cut (one in the clients' namespace, one beside the
master, as a scheduler or triggerer pod can be), a Celery worker configured by Airflow's provider in the
clients' namespace. Counts the tasks published with "ok" and never run, duplicates and publish errors, with
kombu's own transport or ours. The pods run in network namespaces (devcluster/netns.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from redis_gitops.devcluster.netns import NetnsCluster
from redis_gitops.faults.airflow_worker import ROOT, Worker, _wait_ready, airflow_env, executions
from redis_gitops.faults.network import CUT_SECONDS, LEAD_SECONDS

RATE = 10.0  # tasks/s on each side, as the producer
SIDES = {"outside": 0, "inside": 100_000}  # each publisher's first probe number
SETTLE_SECONDS = 60  # after the cut heals: every published task that will ever run has run


def _publisher(cluster: NetnsCluster, ns: str, env: dict[str, str], count: int, first: int) -> subprocess.Popen:
    argv = [sys.executable, "-m", "redis_gitops.faults.airflow_publish", "--count", str(count)]
    argv += ["--rate", str(RATE), "--first", str(first)]
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, *argv], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _summary(proc: subprocess.Popen, timeout: float) -> dict:
    out, err = proc.communicate(timeout=timeout)
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    if not lines or "published" not in lines[-1]:
        raise RuntimeError(f"a publisher failed: {err[-2000:]}")
    return lines[-1]


def run(cluster: NetnsCluster, workdir: Path, fixed_transport: bool = True) -> dict:
    """One partition: figures per side (published ok, never run, duplicates, publish errors). `fixed_transport`:
    the publishers' transport (ours, or kombu's own)."""
    cluster.wait_until_healthy(60)
    record = workdir / "record"
    # The publishers use the transport under test; the worker always ours: kombu's own stalls after any master
    # change (transport.py), which would count as "never run" what was published well.
    env = airflow_env(cluster, workdir / "airflow", record, fixed_transport)
    worker_env = airflow_env(cluster, workdir / "airflow", record, fixed_transport=True)
    worker = Worker(worker_env, workdir / "worker.log", prefix=("ip", "netns", "exec", cluster.client_ns))
    worker.start()
    try:
        _wait_ready(worker)
        old = cluster.master()
        count = int((LEAD_SECONDS + CUT_SECONDS + 5) * RATE)
        namespaces = {"outside": cluster.client_ns, "inside": cluster.namespace(old)}
        publishers = {side: _publisher(cluster, ns, env, count, SIDES[side]) for side, ns in namespaces.items()}
        time.sleep(LEAD_SECONDS)
        cluster.network.cut(cluster.namespace(old))
        time.sleep(CUT_SECONDS)
        cluster.network.heal(cluster.namespace(old))
        summaries = {side: _summary(proc, count / RATE + 120) for side, proc in publishers.items()}
        published = {side: set(s["published"]) for side, s in summaries.items()}
        wanted = set().union(*published.values())
        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline and not wanted <= {n for n, _ in executions(record)}:
            time.sleep(1)
        cluster.wait_until_healthy(60)
    finally:
        worker.stop()
    ran = Counter(n for n, _ in executions(record))
    return {
        "transport": "redis_gitops_airflow" if fixed_transport else "kombu",
        "sides": {
            side: {
                "published_ok": len(published[side]),
                "never_run": sorted(n for n in published[side] if n not in ran),
                "ran_twice_or_more": sum(1 for n in published[side] if ran[n] > 1),
                "publish_errors": len(summaries[side]["errors"]),
                "first_publish_errors": summaries[side]["errors"][:3],
                "publish_timeouts": summaries[side]["timeouts"],
            }
            for side in SIDES
        },
        "old_master_rejoined_as_replica": cluster.roles()[old] == "slave",
    }


def main() -> None:
    """`python -m redis_gitops.faults.airflow_partition [--runs 3]`: the partition with kombu's transport and
    ours, alternating, each on its own cluster start, into build/faults/airflow-partition.json (the docs' fault
    results page reads it)."""
    import argparse

    from redis_gitops.synth.spec_loader import load_spec

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "faults" / "airflow-partition.json")
    parser.add_argument("--octet", type=int, default=79)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    spec, runs = load_spec(ROOT / "cluster_spec.yaml"), []
    for i in range(args.runs):
        for fixed in (False, True):
            with tempfile.TemporaryDirectory(prefix="airflow-partition-") as tmp:
                tag = f"pp{os.getpid() % 10000}"
                with NetnsCluster(spec, ROOT / "dist", Path(tmp) / "cluster", tag=tag, octet=args.octet) as cluster:
                    figures = run(cluster, Path(tmp), fixed)
            runs.append(figures)
            sides = "; ".join(
                f"{side}: {f['published_ok']} ok, {len(f['never_run'])} never run, {f['ran_twice_or_more']} twice, "
                f"{f['publish_errors']} errors, {f['publish_timeouts']} timeouts"
                for side, f in figures["sides"].items()
            )
            print(f"#{i + 1} {figures['transport']}: {sides}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cut_seconds": CUT_SECONDS, "rate": RATE, "runs": runs}, indent=2) + "\n")
    print(f"report: {args.out}")


if __name__ == "__main__":
    main()
