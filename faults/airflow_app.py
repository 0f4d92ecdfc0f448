"""A Celery app configured exactly as Airflow's provider configures its own (`get_celery_configuration()`:
`[celery] celery_config_options` when set, else the provider's DEFAULT_CELERY_CONFIG, built from AIRFLOW__
variables after the providers' configuration is loaded so `_CMD` options work), plus one probe task that
records each execution.

The provider's own module (`celery_executor_utils`) cannot be imported with Celery 5.7.0: it imports
`retry` from `celery.backends.database`, which Celery 5.7 removed; its three configuration lines are
repeated here. Run as `celery --app faults.airflow_app worker ...`; imported by `faults.airflow_publish`."""

from __future__ import annotations

import os
import time
import uuid

from airflow.configuration import conf
from airflow.utils.providers_configuration_loader import providers_configuration_loaded
from celery import Celery
from celery.signals import task_received


@providers_configuration_loaded
def _airflow_celery_app() -> Celery:
    if conf.has_option("celery", "celery_config_options"):
        config = conf.getimport("celery", "celery_config_options")
    else:
        from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG as config
    return Celery(conf.get("celery", "CELERY_APP_NAME"), config_source=config)


app = _airflow_celery_app()

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


def task_id(n: int, attempt: int) -> str:
    """Probe `n`, publish attempt `attempt`: a re-sent publish and a redelivery tell apart in the records."""
    return f"probe-{n}-{attempt}-{uuid.uuid4().hex[:12]}"


def parse_task_id(task_id: str) -> tuple[int, int]:
    _, n, attempt, _ = task_id.split("-")
    return int(n), int(attempt)
