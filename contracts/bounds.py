"""Numeric bounds that the spec refuses past and the gate flags past: one number each, and the messages
format it from here."""

import re

# Kernel OOM-kills Redis during fork/rewrite above this share of its memory limit (field notes).
MAX_MAXMEMORY_RATIO = 0.8
# maxmemory 'auto': this share of the memory limit.
AUTO_MAXMEMORY_RATIO = 0.75
# Below: false failovers on a GC pause or a busy node; above: a minute of broker outage before a failover.
DOWN_AFTER_MS = (1000, 60_000)
# At least this, and more than 2 x down-after (or failovers abort early); at most 15 minutes.
FAILOVER_TIMEOUT_MS = (5000, 900_000)
# AOF fsync policies that keep every acknowledged write across a Redis crash (within about a second).
SAFE_AOF_FSYNC = ("everysec", "always")
# An explicit image tag (Docker's grammar); `latest` is refused on top of it.
IMAGE_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
# Sentinel pods: every pod runs a Sentinel and gossips with every other; past this the hand-over, the failure
# detection and the rendered objects grow without a reason any broker has.
MAX_REPLICAS = 15
# The spec file and a waiver's reason: a spec is a page, a reason a sentence (a 50 MB file or reason once ran the
# gate for minutes).
MAX_SPEC_BYTES = 1_000_000
MAX_REASON_CHARS = 500
# Below this a UID may collide with a host user.
MIN_UID = 10_000
# Kubernetes names that must be DNS-1123 labels (namespace, Service names), and subdomains (most other names).
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


# The Sentinel rules, one predicate each: the spec refuses a value and the gate flags a rendered one by them.
def sentinel_count_ok(n: int) -> bool:
    """An odd number of Sentinels, at least 3 (a majority survives one loss), at most MAX_REPLICAS."""
    return 3 <= n <= MAX_REPLICAS and n % 2 == 1


def strict_majority(n: int) -> int:
    """The smallest quorum that is more than half of n Sentinels."""
    return n // 2 + 1


def quorum_ok(quorum: int, n: int) -> bool:
    """A strict majority of the Sentinels (a minority cannot fail over) and at most their count (reachable)."""
    return strict_majority(n) <= quorum <= n


def failover_timeout_ok(failover_ms: int, down_after_ms: int) -> bool:
    """More than twice down-after (or failovers abort early) and at most the upper bound."""
    return 2 * down_after_ms < failover_ms <= FAILOVER_TIMEOUT_MS[1]


def percent(ratio: float) -> str:
    """0.8 -> '80%': for messages."""
    return f"{ratio:.0%}"
