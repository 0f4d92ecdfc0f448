"""Code that runs against a live cluster: the local cluster, the Sentinel-aware client, the smoke checks."""

# The failover check's write-outage budget; the spec's smoke.maxWriteOutageSeconds defaults to it too.
DEFAULT_MAX_WRITE_OUTAGE_SECONDS = 5.0
# How long a hand-over may pause writes and wait for a new master: the preStop's and the failover check's
# default; the spec's redis.handoverTimeoutSeconds defaults to it too.
DEFAULT_HANDOVER_TIMEOUT_SECONDS = 30
