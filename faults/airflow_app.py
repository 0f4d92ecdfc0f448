"""Airflow's own Celery app, as its executor module builds it (the provider's `celery_executor_utils.app`, from
`[celery] celery_config_options` and the AIRFLOW__ variables, `_CMD` options included), plus one probe task that
records each execution, and a signal that records each reception.

Run as `celery --app redis_gitops.faults.airflow_app worker ...`; imported by `faults.airflow_publish`."""

from __future__ import annotations

import os
import time

from airflow.providers.celery.executors.celery_executor_utils import app
from celery.signals import task_received

PROBE_TASK = "redis_gitops_probe"


@task_received.connect
def _record_reception(request, **_) -> None:
    """In the worker's main process, once kombu has recorded the message in `unacked`: which publish of which
    probe reached this worker (the task id carries both), so a task that never ran can be placed."""
    path = os.environ.get("PROBE_RECEIVED")
    if path and request.name == PROBE_TASK:
        with open(path, "a") as f:
            f.write(f"{request.id} {time.time():.3f}\n")


@app.task(name=PROBE_TASK, ignore_result=True)
def probe(n: int) -> None:
    """Work for a while (so the worker holds unacked tasks when the master changes), then record `n`."""
    time.sleep(float(os.environ.get("PROBE_TASK_SECONDS", "0.15")))
    with open(os.environ["PROBE_RECORD"], "a") as f:
        f.write(f"{n} {time.time():.3f} {os.getppid()}\n")
