"""The client side of the redis-gitops broker: installed into the Airflow image, and into the smoke image for
`sentinel_failover` (the smoke Job's pool uses the same connections as Airflow's transport).

- `sentinel_failover`: Sentinel-managed redis-py connections that follow a master change (redis/redis-py#3874
  and its neighbours), for every client of the broker.

- `transport`: a kombu Sentinel transport whose busy workers survive a master change (kombu 5.7 + redis-py 8
  hang on a planned hand-over and die on a master crash; see UPSTREAM.md beside this package), and whose
  publishes and task records count only once a replica holds them (`confirm_replicas`: no task lost when a
  cut-off master rejoins as a replica).
- `celery_config`: Airflow's own Celery configuration with that transport selected; name it in
  `[celery] celery_config_options`.
- `broker_url`: prints the broker URL or `sentinel_kwargs` from mounted password files, for Airflow's `_CMD`
  options, so no password sits in an environment variable or in git.
"""
