"""Code that runs against a live cluster from the smoke image: the Sentinel-aware client, the health and
failover checks, the monitor. It imports only contracts/, redis-py and typer."""
