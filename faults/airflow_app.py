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

from airflow.configuration import conf
from airflow.utils.providers_configuration_loader import providers_configuration_loaded
from celery import Celery


@providers_configuration_loaded
def _airflow_celery_app() -> Celery:
    if conf.has_option("celery", "celery_config_options"):
        config = conf.getimport("celery", "celery_config_options")
    else:
        from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG as config
    return Celery(conf.get("celery", "CELERY_APP_NAME"), config_source=config)


app = _airflow_celery_app()

PROBE_TASK = "redis_gitops_probe"


@app.task(name=PROBE_TASK, ignore_result=True)
def probe(n: int) -> None:
    """Work for a while (so the worker holds unacked tasks when the master changes), then record `n`."""
    time.sleep(float(os.environ.get("PROBE_TASK_SECONDS", "0.15")))
    with open(os.environ["PROBE_RECORD"], "a") as f:
        f.write(f"{n} {time.time():.3f} {os.getppid()}\n")
