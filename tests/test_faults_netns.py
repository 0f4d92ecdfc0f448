"""Faults that need a network: pods in their own network namespaces, the headless Service's DNS names in each,
clients in a namespace of their own (faults/netns.py). A partition, and a pod that comes back at a new address."""
import os
import time

import pytest

from conftest import ROOT
from faults.netns import NetnsCluster, read_load
from test_handover_contract import sentinel_sees_priority

CUT_SECONDS = 20


@pytest.fixture(scope="module")
def cluster(spec, tmp_path_factory):
    tag = f"rg{os.getpid() % 10000}"
    with NetnsCluster(spec, ROOT / "dist", tmp_path_factory.mktemp("netns-cluster"), tag=tag, octet=77) as c:
        yield c


def sentinels_see_every_pod_up(cluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            views = []
            for n in range(3):
                s = cluster.sentinel(n)
                views += [r["flags"] for r in s.sentinel_slaves(cluster.state.master_name)]
                views += [r["flags"] for r in s.sentinel_sentinels(cluster.state.master_name)]
            last = views
            if len(views) == 12 and all(flags in ("slave", "sentinel") for flags in views):
                return
        except Exception as err:  # noqa: BLE001 - keep polling until the deadline, report the last view
            last = err
        time.sleep(0.5)
    raise AssertionError(f"Sentinels do not see every pod up: {last}")


def test_pods_find_each_other_by_their_dns_names(cluster):
    master = cluster.master()
    fqdn = cluster.state.nodes[master].host
    assert fqdn.endswith(".svc.cluster.local")
    assert cluster.sentinel_masters() == [fqdn] * 3
    sentinels_see_every_pod_up(cluster)


def test_a_cut_off_master_stops_taking_writes_within_min_replicas_max_lag_and_rejoins(cluster, spec, tmp_path):
    old = cluster.master()
    seconds = CUT_SECONDS + 14
    inside = cluster.client(cluster.namespace(old), "cut-inside", seconds, tmp_path / "inside.json")
    outside = cluster.client(cluster.client_ns, "cut-outside", seconds, tmp_path / "outside.json")
    time.sleep(3)
    cut = time.monotonic()
    cluster.network.cut(cluster.namespace(old))
    time.sleep(CUT_SECONDS)
    heal = time.monotonic()
    cluster.network.heal(cluster.namespace(old))
    for proc in (inside, outside):
        proc.wait(timeout=seconds + 30)
        assert proc.returncode == 0, proc.stderr.read()
    a, b = read_load(tmp_path / "inside.json"), read_load(tmp_path / "outside.json")
    cluster.wait_until_healthy(90)
    sentinels_see_every_pod_up(cluster)
    new = cluster.master()
    assert new != old and cluster.roles()[old] == "slave"  # the old master rejoined as a replica
    stored_a = {int(x) for x in cluster.redis(new).lrange("cut-inside", 0, -1)}
    stored_b = {int(x) for x in cluster.redis(new).lrange("cut-outside", 0, -1)}
    # Writes acknowledged by the cut-off master after the cut are lost when it rejoins, but only inside the
    # window min-replicas-max-lag leaves: after that it refuses every write (NOREPLICAS).
    acked_after_cut = [s for s in a["samples"] if s["ok"] and cut < s["start"] + s["latency"] < heal]
    window = max((s["start"] + s["latency"] - cut for s in acked_after_cut), default=0.0)
    lag = spec.redis.min_replicas_max_lag_seconds
    assert window <= lag + 2, f"the cut-off master took writes {window:.1f} s after the cut"
    lost_a = [n for n in a["acknowledged"] if n not in stored_a]
    assert all(n not in a["confirmed"] for n in lost_a), "a WAIT-1-confirmed write was lost"
    assert [n for n in b["confirmed"] if n not in stored_b] == []
    assert [n for n in b["acknowledged"] if n not in stored_b] == []
    print(f"partition {CUT_SECONDS} s: cut-off master took writes for {window:.2f} s after the cut "
          f"(bound min-replicas-max-lag {lag} s); {len(lost_a)} of its {len(a['acknowledged'])} acknowledged "
          f"writes lost, 0 confirmed with WAIT 1; majority side lost 0 of {len(b['acknowledged'])}")


def test_a_pod_back_at_a_new_address_is_followed_by_sentinels_and_replicas(cluster):
    old = cluster.master()
    ns = cluster.namespace(old)
    cluster.stop_node(old, graceful=True)  # preStop hands over; the pod is rescheduled elsewhere
    cluster.network.readdress(ns, 50 + old)
    cluster.start_node(old)
    cluster.wait_until_healthy(60)
    sentinels_see_every_pod_up(cluster)
    assert cluster.roles()[old] == "slave"
    # ...and Sentinel can promote it at its new address: the third pod is made ineligible for this hand-over.
    current = cluster.master()
    third = next(o for o in range(3) if o not in (old, current))
    cluster.redis(third).config_set("replica-priority", 0)
    sentinel_sees_priority(cluster, third, 0)
    try:
        cluster.stop_node(current, graceful=True)
        cluster.start_node(current)
    finally:
        cluster.redis(third).config_set("replica-priority", 100)
    cluster.wait_until_healthy(60)
    assert cluster.master() == old
    sentinels_see_every_pod_up(cluster)
