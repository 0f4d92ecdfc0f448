"""Code that runs against a live cluster: the local cluster, the Sentinel-aware client, the smoke checks."""

# The failover check's write-outage budget; the spec's smoke.maxWriteOutageSeconds defaults to it too.
DEFAULT_MAX_WRITE_OUTAGE_SECONDS = 5.0
