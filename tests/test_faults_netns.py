"""Faults that need a network: pods in their own network namespaces, the headless Service's DNS names in each,
clients in a namespace of their own (devcluster/netns.py). A partition, and a pod that comes back at a new address."""

import time

import pytest
from test_handover_contract import sentinel_sees_priority

from redis_gitops.faults import network
from redis_gitops.runtime.client import DEFAULT_SOCKET_TIMEOUT_SECONDS

from conftest import netns_cluster


@pytest.fixture(scope="module")
def cluster(spec, tmp_path_factory):
    yield from netns_cluster(spec, tmp_path_factory.mktemp("netns-cluster"), "rg", 77)


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


@pytest.mark.faults  # make faults: its three runs in the fault suite; 35 s kept make test over 15 min
def test_a_cut_off_master_stops_taking_writes_within_min_replicas_max_lag_and_rejoins(cluster, spec, tmp_path):
    r = network.run(cluster, network.SCENARIOS["partition"], tmp_path)
    side, lag = r.cut_off_side, spec.redis.min_replicas_max_lag_seconds
    print(
        f"partition {network.CUT_SECONDS} s: cut-off master took writes for {side['took_writes_after_cut_s']:.2f} s "
        f"after the cut (bound min-replicas-max-lag {lag} s); {side['lost']} of its {side['acknowledged']} "
        f"acknowledged writes lost, {side['lost_confirmed']} confirmed with WAIT 1; the clients' side: "
        f"unavailable {r.unavailable_s:.2f} s (new master named after {r.new_master_after_s} s, every Sentinel "
        f"agrees after {r.sentinels_agree_after_s} s), lost {r.lost} of {r.acknowledged}, errors {r.errors}"
    )
    sentinels_see_every_pod_up(cluster)
    assert r.healthy_after and r.new_master and side["old_master_rejoined_as_replica"]
    # Writes acknowledged by the cut-off master after the cut are lost when it rejoins, but only inside the
    # window min-replicas-max-lag leaves: after that it refuses every write (NOREPLICAS).
    assert side["took_writes_after_cut_s"] <= lag + 2
    assert side["lost_confirmed"] == 0, "a WAIT-1-confirmed write was lost"
    assert r.lost == 0 and r.lost_confirmed == 0
    # About a crash's outage: Sentinel's down-after, its election, and the clients' attempts on the unreachable
    # master timing out (measured 6.8-7.6 s; a crash 6.3-6.4 s).
    assert r.unavailable_s <= spec.sentinel.down_after_milliseconds / 1000 + 2 + 2 * DEFAULT_SOCKET_TIMEOUT_SECONDS


@pytest.mark.faults  # make faults: its three runs in the fault suite, and this test
def test_a_pod_back_at_a_new_address_is_followed_by_sentinels_and_replicas(cluster, tmp_path):
    old = cluster.master()
    r = network.run(cluster, network.SCENARIOS["new-address"], tmp_path)  # preStop, new IP, same DNS name
    print(f"new address: unavailable {r.unavailable_s:.2f} s, lost {r.lost} of {r.acknowledged}")
    assert r.healthy_after and r.lost == 0
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
