"""Code that runs against a live cluster: the local cluster, the Sentinel-aware client, the smoke checks."""
