"""A real Celery worker and publisher configured by Airflow's own provider from the generated AIRFLOW__
variables, run against the local cluster through a planned hand-over or a master crash.

The variables are the ones `redis-gitops airflow-config` and the Helm values carry (synth/airflow_config.py),
with the local cluster's password files standing in for the mounted Secrets, so the `_CMD` options run too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from redis_gitops.contracts.events import script_events
from redis_gitops.devcluster.local_cluster import LocalCluster
from redis_gitops.faults.airflow_publish import parse_task_id
from redis_gitops.synth.airflow_config import cfg_sections, environment

ROOT = Path(__file__).resolve().parents[1]


def airflow_env(
    cluster: LocalCluster,
    home: Path,
    record: Path,
    fixed_transport: bool = True,
    concurrency: int = 2,
    task_seconds: float = 0.15,
    secrets_dir: Path | None = None,
) -> dict[str, str]:
    """Airflow's configuration for the local cluster, from the generator; Airflow's defaults otherwise
    (acks late, prefork, prefetch 1). `fixed_transport=False` leaves out our celery_config_options.
    `secrets_dir`: Airflow's own mounted password files (default: the local Secret store)."""
    s = cluster.state
    secrets_dir = str(secrets_dir or Path(s.password_file).parent)
    env = environment(
        cfg_sections(cluster.spec, [f"{h}:{p}" for h, p in s.sentinel_addresses], secrets_dir, s.tls_ca_file)
    )
    env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(concurrency)
    if not fixed_transport:
        env.pop("AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS")
    return {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONPATH": str(ROOT),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "PROBE_RECORD": str(record),
        "PROBE_RECEIVED": str(record.with_name("received")),
        "PROBE_TASK_SECONDS": str(task_seconds),
        **env,
    }


class Worker:
    """`celery worker` as Airflow's `airflow celery worker` starts it (fair scheduling, the default queue)."""

    def __init__(self, env: dict[str, str], log: Path, queue: str = "default", prefix: tuple[str, ...] = ()):
        """`prefix`: what the command runs under (`ip netns exec <ns>` for a worker in a network namespace)."""
        self.env, self.log_path, self.queue, self.prefix = env, log, queue, prefix
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    *self.prefix,
                    sys.executable,
                    "-m",
                    "celery",
                    "--app",
                    "redis_gitops.faults.airflow_app",
                    "worker",
                    "-O",
                    "fair",
                    "--queues",
                    self.queue,
                    "--concurrency",
                    self.env["AIRFLOW__CELERY__WORKER_CONCURRENCY"],
                    "--pool",
                    "prefork",
                    "--loglevel",
                    "INFO",
                    "--hostname",
                    f"probe-{os.getpid()}@%h",
                ],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, grace: float = 15.0) -> bool:
        """Warm shutdown (SIGTERM); True when the worker obeyed within `grace`. Its whole process group is
        killed afterwards either way, so no process is left behind."""
        if self.proc is None:
            return True
        obeyed = True
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                obeyed = False
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait(10)
        return obeyed


def receptions(record: Path) -> list[tuple[str, float]]:
    """(task id, time) of every probe message the worker's main process took in (airflow_app's signal)."""
    path = record.with_name("received")
    if not path.exists():
        return []
    return [(i, float(t)) for i, t in (line.split() for line in path.read_text().splitlines())]


def executions(record: Path) -> list[tuple[int, float]]:
    if not record.exists():
        return []
    out = []
    for line in record.read_text().splitlines():
        n, t, _ = line.split()
        out.append((int(n), float(t)))
    return out


@dataclass
class WorkerRun:
    fault: str
    published: int
    publish_errors: list[str]
    publish_timeouts: int
    executed: int
    missing: list[int]
    duplicates: int
    worker_survived: bool  # the same worker process ran through the fault and still runs
    worker_obeyed_sigterm: bool
    done_after_last_publish_s: float | None  # when the last task ran, after the last publish
    fault_at_s: float = 0.0
    errors_in_worker_log: list[str] = field(default_factory=list)
    first_publish_error_trace: str = ""
    # Entries left in kombu's `unacked` hash once every task ran: acks that never reached the master; each
    # such task runs again after visibility_timeout (a late duplicate).
    left_unacked: int = 0
    # For each task never run: its publish attempts [attempt, started, ended, outcome] and receptions [task id,
    # time], times relative to the fault's start, so a loss can be placed against the hand-over.
    missing_detail: dict[int, dict] = field(default_factory=dict)
    # Where the never-run tasks' messages are, if anywhere: "<node>:<key>" -> task ids found there.
    missing_found: dict[str, list[str]] = field(default_factory=dict)
    fault_window_s: tuple[float, float] | None = None
    fault_events: list[tuple[float, str]] = field(default_factory=list)  # the hand-over's, from the fault's start


def _fault(cluster: LocalCluster, fault, window: list[float] | None = None, events: list | None = None) -> None:
    if window is not None:
        window.append(time.time())
    try:
        _inject(cluster, fault, events if events is not None else [])
    finally:
        if window is not None:
            window.append(time.time())


def _inject(cluster: LocalCluster, fault: str | Callable[[LocalCluster], object], events: list) -> None:
    if callable(fault):  # a change applied to the running cluster (`local apply`)
        fault(cluster)
        return
    master = cluster.master()
    if fault == "handover":  # the preStop hand-over alone: the demoted master stays up as a replica
        result = cluster.run_prestop(master)
        events.extend(script_events(result.stderr))
        if result.returncode != 0:
            raise RuntimeError(f"the hand-over failed: {result.stderr[-1000:]}")
    elif fault == "rolling":  # a rolling update of the master's pod: hand-over, stop, start again
        cluster.stop_node(master, graceful=True)
        cluster.start_node(master)
    elif fault == "crash":  # the master's Redis is SIGKILLed; the kubelet restarts the container later
        cluster.stop_node(master, graceful=False, sentinel=False)
        time.sleep(8)
        cluster.start_process(master, "redis")
    else:
        raise ValueError(fault)


def publish(env: dict[str, str], count: int, rate: float = 50.0, queue: str = "default") -> dict:
    """Publish `count` probe tasks as Airflow's scheduler would; the publisher's summary."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "redis_gitops.faults.airflow_publish",
            "--count",
            str(count),
            "--rate",
            str(rate),
            "--queue",
            queue,
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=count / rate + 120,
    )
    lines = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    if not lines or "published" not in lines[-1]:
        raise RuntimeError(f"the publisher failed: {out.stderr[-2000:]}")
    return lines[-1]


def run(
    cluster: LocalCluster,
    fault: str | Callable[[LocalCluster], object],
    count: int = 300,
    rate: float = 10.0,
    fault_after: float = 8.0,
    fixed_transport: bool = True,
    drain_timeout: float = 60.0,
    keep: Path | None = None,
    secrets_dir: Path | None = None,
) -> WorkerRun:
    """Start a worker, publish `count` tasks at `rate`/s, inject `fault` after `fault_after` s, and wait for
    every published task to run (at most `drain_timeout` s after the last publish)."""
    with tempfile.TemporaryDirectory(prefix="airflow-worker-") as tmp:
        tmp_path = Path(tmp)
        record = tmp_path / "executed"
        env = airflow_env(cluster, tmp_path / "home", record, fixed_transport, secrets_dir=secrets_dir)
        worker = Worker(env, tmp_path / "worker.log")
        worker.start()
        try:
            _wait_ready(worker)
            pid = worker.proc.pid
            window: list[float] = []
            events: list = []
            injector = threading.Timer(fault_after, _fault, args=(cluster, fault, window, events))
            injector.start()
            try:
                result = publish(env, count, rate)
            finally:
                injector.join()
            published = set(result["published"])
            deadline = time.time() + drain_timeout
            while time.time() < deadline and not published <= {n for n, _ in executions(record)}:
                time.sleep(0.2)
            left_unacked = _settled_unacked(cluster)
            found = _find_messages(cluster, published - {n for n, _ in executions(record)})
            runs = executions(record)
            taken = receptions(record)
            ran = [n for n, _ in runs]
            last_run = max((t for _, t in runs), default=None)
            survived = worker.alive and worker.proc.pid == pid
        finally:
            obeyed = worker.stop()
        log = worker.log()
        missing = sorted(published - set(ran))
        if keep is not None:  # the worker's log and records, for reading a run afterwards
            shutil.copytree(tmp_path, keep, ignore=shutil.ignore_patterns("home"), dirs_exist_ok=True)
            (keep / "publisher.json").write_text(json.dumps(result) + "\n")
        t0 = window[0] if window else 0.0
        return WorkerRun(
            fault=fault if isinstance(fault, str) else getattr(fault, "__name__", "change"),
            published=len(published),
            publish_errors=result["errors"],
            publish_timeouts=result["timeouts"],
            executed=len(set(ran) & published),
            missing=missing,
            duplicates=len(ran) - len(set(ran)),
            worker_survived=survived,
            worker_obeyed_sigterm=obeyed,
            done_after_last_publish_s=round(last_run - result["finished"], 2) if last_run else None,
            fault_at_s=fault_after,
            errors_in_worker_log=worker_errors(log),
            first_publish_error_trace=result.get("first_trace", ""),
            left_unacked=left_unacked,
            missing_detail={n: _account(n, result.get("attempts", []), taken, t0) for n in missing},
            missing_found=found,
            fault_events=[(round(e.time.timestamp() - t0, 3), e.name) for e in events],
            fault_window_s=(0.0, round(window[1] - t0, 3)) if len(window) == 2 else None,
        )


def _account(n: int, attempts: list, taken: list[tuple[str, float]], t0: float) -> dict:
    return {
        "attempts": [[a, round(s - t0, 3), round(e - t0, 3), out] for m, a, s, e, out in attempts if m == n],
        "received": [[i, round(t - t0, 3)] for i, t in taken if parse_task_id(i)[0] == n],
    }


def _find_messages(cluster: LocalCluster, missing: set[int]) -> dict[str, list[str]]:
    """Search every key of every node for the messages of tasks that never ran (lists and hashes)."""
    out: dict[str, list[str]] = {}
    if not missing:
        return out
    for node in range(len(cluster.state.nodes)):
        try:
            r = cluster.redis(node)
            for key in r.scan_iter(count=1000):
                kind = r.type(key)
                values = r.lrange(key, 0, -1) if kind == "list" else r.hvals(key) if kind == "hash" else []
                for value in values:
                    for task in re.findall(r"probe-\d+-\d+-[0-9a-f]+", value):
                        if parse_task_id(task)[0] in missing:
                            out.setdefault(f"{node}:{key}", []).append(task)
        except Exception as err:  # noqa: BLE001 - a diagnosis: say what failed, keep the rest
            out[f"{node}:error"] = [repr(err)]
    return out


def _settled_unacked(cluster: LocalCluster, timeout: float = 5.0) -> int:
    """HLEN unacked on the master, given a few seconds to reach 0 (the last acks are in flight)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            n = cluster.redis(cluster.master()).hlen("unacked")
        except Exception:  # noqa: BLE001 - mid-failover: ask again
            n = -1
        if n == 0 or time.monotonic() > deadline:
            return n
        time.sleep(0.2)


def worker_errors(log: str) -> list[str]:
    """The last line of every traceback, and every ACL refusal, in the worker's log."""
    lines, out = log.splitlines(), []
    for i, line in enumerate(lines):
        if "NOPERM" in line:
            out.append(line.strip())
        elif line.startswith("Traceback"):
            j = i + 1
            while j < len(lines) and (lines[j].startswith((" ", "\t")) or not lines[j].strip()):
                j += 1
            if j < len(lines):
                out.append(lines[j].strip())
    return out


def _wait_ready(worker: Worker, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker.alive:
            raise RuntimeError(f"the worker exited at start:\n{worker.log()[-3000:]}")
        if " ready." in worker.log():
            return
        time.sleep(0.2)
    raise TimeoutError(f"the worker was not ready within {timeout:.0f}s:\n{worker.log()[-3000:]}")


def main() -> None:
    """`python -m faults.airflow_worker [--runs 3] [--tasks 300] [--stock] [--engines redis valkey]`: the
    Done-when figures of the Airflow worker (README, "Airflow's workers through faults"), into
    build/faults/airflow.json, on each engine (--spec's own as rendered in --dist; the other: --spec on that
    engine's official image at the version the table runs). --stock runs kombu's own transport instead of
    redis_gitops_airflow's (the reproduction in airflow_broker/UPSTREAM.md)."""
    import argparse

    from redis_gitops.devcluster.variants import render_on
    from redis_gitops.synth.spec_loader import load_spec

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--faults", nargs="*", default=["handover", "crash"], choices=["handover", "rolling", "crash"])
    parser.add_argument("--rate", type=float, default=10.0, help="tasks published per second")
    parser.add_argument("--fault-after", type=float, default=8.0, help="seconds after the worker is ready")
    parser.add_argument("--stock", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep each run's worker log and records in KEEP/<fault>-<n>")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "faults" / "airflow.json")
    parser.add_argument("--subnet", type=int, default=83)
    parser.add_argument("--spec", type=Path, default=ROOT / "cluster_spec.yaml")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="the rendering of --spec")
    parser.add_argument("--engines", nargs="+", choices=["redis", "valkey"], default=["redis", "valkey"])
    args = parser.parse_args()
    # Stopped with SIGTERM (a timeout, a CI cancel): unwind, so the cluster's processes are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = []
    for engine in args.engines:
        with tempfile.TemporaryDirectory(prefix=f"airflow-faults-{engine}-") as tmp:
            spec, dist = load_spec(args.spec), args.dist
            if spec.redis.engine != engine:  # --spec on the other engine the table runs
                spec, dist = render_on(args.spec, engine, Path(tmp) / "rendering")
            with LocalCluster(spec, dist, Path(tmp) / "local", subnet=args.subnet) as cluster:
                results += _runs(cluster, engine, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"transport": "kombu" if args.stock else "redis_gitops_airflow", "tasks": args.tasks, "runs": results},
            indent=2,
        )
        + "\n"
    )
    print(f"report: {args.out}")


def _runs(cluster: LocalCluster, engine: str, args) -> list[dict]:
    from dataclasses import asdict

    results = []
    for fault in args.faults:
        for i in range(args.runs):
            cluster.wait_until_healthy(120)
            r = run(
                cluster,
                fault,
                count=args.tasks,
                rate=args.rate,
                fault_after=args.fault_after,
                fixed_transport=not args.stock,
                keep=args.keep / f"{engine}-{fault}-{i + 1}" if args.keep else None,
            )
            results.append({**asdict(r), "engine": engine})
            print(
                f"{engine} {fault} #{i + 1}: published {r.published}, publish errors {len(r.publish_errors)} "
                f"(timeouts re-sent {r.publish_timeouts}), ran {r.executed}, missing {len(r.missing)}, "
                f"duplicates {r.duplicates}, left unacked {r.left_unacked}, same worker {r.worker_survived}, done "
                f"{r.done_after_last_publish_s} s after the last publish",
                flush=True,
            )
            for n, detail in r.missing_detail.items():
                print(f"  never ran: {n} {json.dumps(detail)} (fault from 0 to {r.fault_window_s})", flush=True)
            if r.missing:
                print(f"  found: {json.dumps(r.missing_found)}; hand-over: {r.fault_events}", flush=True)
    return results


if __name__ == "__main__":
    main()
