"""Airflow's own Celery configuration, with the Sentinel transport that survives master changes.

Name it in Airflow's configuration: `[celery] celery_config_options =
redis_gitops_airflow.celery_config.CELERY_CONFIG` (env: `AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS`). Airflow's
scheduler (which publishes) and its workers (which consume) both import it.
"""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

from redis_gitops_airflow.transport import install

install()

# Celery's default publish retry (3 retries, 0.4 s in all) gives up inside a hand-over (about 1.2 s of paused
# writes) or a failover (about 6 s); Airflow marks the task FAILED on such an error. Retrying for ~15 s means
# Airflow's own `[celery] operation_timeout` (1 s) always ends the attempt first, and Airflow re-sends a
# timed-out task at its next heartbeat (up to `[celery] task_publish_max_retries`) instead of failing it.
PUBLISH_RETRY_POLICY = {"max_retries": 60, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.25}

CELERY_CONFIG = {**DEFAULT_CELERY_CONFIG, "task_publish_retry": True, "task_publish_retry_policy": PUBLISH_RETRY_POLICY}
