"""Publish probe tasks at a steady rate the way Airflow's scheduler does (`send_workload_to_executor`): each
`apply_async` under Airflow's `[celery] operation_timeout`; its own timeout is retried up to
`[celery] task_publish_max_retries` times, any other exception is a publish error (Airflow marks the task
FAILED). Prints one JSON line: what was published, the errors, the timeouts retried."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback
import uuid


def task_id(n: int, attempt: int) -> str:
    """Probe `n`, publish attempt `attempt`: a re-sent publish and a redelivery tell apart in the records."""
    return f"probe-{n}-{attempt}-{uuid.uuid4().hex[:12]}"


def parse_task_id(task_id: str) -> tuple[int, int]:
    _, n, attempt, _ = task_id.split("-")
    return int(n), int(attempt)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--queue", default="default")
    parser.add_argument("--first", type=int, default=0, help="The first probe's number (publishers side by side).")
    args = parser.parse_args(argv)

    from airflow.configuration import conf
    from airflow.exceptions import AirflowTaskTimeout
    from airflow.utils.timeout import timeout

    from redis_gitops.faults.airflow_app import probe

    operation_timeout = conf.getfloat("celery", "operation_timeout")

    retries = conf.getint("celery", "task_publish_max_retries", fallback=3)
    published, errors, timeouts, latencies, first_trace = [], [], 0, [], ""
    attempts = []  # [n, attempt, started, ended, outcome]: where each publish sat against the fault
    t0 = time.monotonic()
    print(json.dumps({"started": time.time()}), flush=True)
    for n in range(args.first, args.first + args.count):
        time.sleep(max(0.0, t0 + (n - args.first) / args.rate - time.monotonic()))
        for attempt in range(retries + 1):
            start, started = time.monotonic(), time.time()
            try:
                with timeout(seconds=operation_timeout):
                    probe.apply_async(args=[n], queue=args.queue, task_id=task_id(n, attempt))
                published.append(n)
                latencies.append(time.monotonic() - start)
                attempts.append([n, attempt, started, time.time(), "ok"])
                break
            except AirflowTaskTimeout:
                timeouts += 1
                attempts.append([n, attempt, started, time.time(), "timeout"])
                if attempt == retries:
                    errors.append(f"{n}: timed out {retries + 1} times")
            except Exception as err:  # noqa: BLE001 - Airflow fails the task on any of them
                attempts.append([n, attempt, started, time.time(), "error"])
                errors.append(f"{n}: {type(err).__name__}: {err}")
                first_trace = first_trace or traceback.format_exc()
                break
    print(
        json.dumps(
            {
                "published": published,
                "errors": errors,
                "timeouts": timeouts,
                "finished": time.time(),
                "max_latency": max(latencies, default=0.0),
                "median_latency": statistics.median(latencies) if latencies else 0.0,
                "p99_latency": statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else 0.0,
                "elapsed": time.monotonic() - t0,
                "first_trace": first_trace,
                "attempts": attempts,
            }
        ),
        flush=True,
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
