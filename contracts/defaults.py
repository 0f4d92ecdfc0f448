"""Defaults shared by the spec and the runtime (the smoke image reads its environment with the same ones)."""

# The name Sentinel monitors the master under.
DEFAULT_MASTER_NAME = "mymaster"
# How long a hand-over may pause writes and wait for a new master: the preStop's and the failover check's.
DEFAULT_HANDOVER_TIMEOUT_SECONDS = 30
# The failover check's write-outage budget (spec: smoke.maxWriteOutageSeconds).
DEFAULT_MAX_WRITE_OUTAGE_SECONDS = 5.0
