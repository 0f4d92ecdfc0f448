"""A replica stopped right after a full resync: Redis 7 refuses SIGTERM while it writes its first AOF after
the sync ("Writing initial AOF, can't exit."), so without waiting in the preStop the kubelet's SIGTERM is
ignored and the pod hangs until SIGKILL at the end of its grace period (measured before the fix: 10 s, the
local cluster's own limit). The preStop waits until the AOF is written; then SIGTERM stops it at once."""
import time

import pytest

from conftest import ROOT
from devcluster.local_cluster import LocalCluster

KEYS, VALUE = 50_000, "x" * 2048  # 100 MB: the replica's first AOF takes a noticeable while to write


@pytest.fixture(scope="module")
def cluster(spec, tmp_path_factory):
    with LocalCluster(spec, ROOT / "dist", tmp_path_factory.mktemp("shutdown-cluster"), subnet=88) as c:
        master = c.redis(c.master())
        pipe = master.pipeline(transaction=False)
        for i in range(KEYS):
            pipe.set(f"fill:{i}", VALUE)
            if i % 5_000 == 4_999:
                pipe.execute()
        pipe.execute()
        yield c


def test_a_replica_stopped_right_after_its_resync_exits_on_sigterm(cluster):
    replica = next(i for i in range(3) if i != cluster.master())
    log = cluster.base / f"pod-{replica}" / "redis.log"
    cluster.stop_process(replica, "redis")
    cluster.start_process(replica, "redis")
    deadline = time.monotonic() + 60
    while True:  # the moment the replica is linked again: its first AOF is being written now
        try:
            if cluster.redis(replica).info("replication").get("master_link_status") == "up":
                break
        except Exception:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.01)
    started = time.monotonic()
    cluster.stop_node(replica, graceful=True, sentinel=False)  # preStop, then SIGTERM (SIGKILL after 10 s)
    took = time.monotonic() - started
    text = log.read_text()
    assert "can't exit" not in text.rsplit("starting", 1)[-1], text[-2000:]
    assert took < 8, f"stopping took {took:.1f} s"
    print(f"replica stopped {took:.2f} s after its resync, preStop included")
    cluster.start_process(replica, "redis")
    cluster.wait_until_healthy(60)
    settled(cluster, replica)  # so that the cluster's own teardown is not caught by the same refusal


def settled(cluster, ordinal, timeout=30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = cluster.redis(ordinal).info()
        if not (info["loading"] or info.get("master_sync_in_progress") or info["aof_rewrite_in_progress"]
                or info["aof_rewrite_scheduled"]):
            return
        time.sleep(0.1)
