"""Airflow's publishes through a partition (issue 27): Airflow's scheduler publishing on both sides of a cut-off
master, a worker configured by Airflow's provider, kombu's transport and ours side by side. With kombu's, the
cut-off side's "ok" publishes vanish when the old master rejoins; ours confirms each publish with a replica, so
every task published "ok" runs."""

import pytest

from redis_gitops.faults import airflow_partition

from conftest import netns_cluster


@pytest.fixture(scope="module")
def cluster(spec, tmp_path_factory):
    yield from netns_cluster(spec, tmp_path_factory.mktemp("netns-airflow"), "ap", 78)


@pytest.mark.faults  # make faults: a partition of 20 s per transport, then the worker's catching up
@pytest.mark.parametrize("fixed_transport", [False, True], ids=["kombu", "ours"])
def test_airflow_publishes_through_a_partition(cluster, tmp_path, fixed_transport):
    figures = airflow_partition.run(cluster, tmp_path, fixed_transport)
    print(
        f"\n{figures['transport']}: "
        + "; ".join(
            f"{side}: {f['published_ok']} published ok, {len(f['never_run'])} never run, "
            f"{f['ran_twice_or_more']} ran twice, {f['publish_errors']} publish errors, "
            f"{f['publish_timeouts']} timeouts {f['first_publish_errors']}"
            for side, f in figures["sides"].items()
        )
    )
    outside, inside = figures["sides"]["outside"], figures["sides"]["inside"]
    assert figures["old_master_rejoined_as_replica"]
    assert outside["published_ok"] > 0 and inside["published_ok"] > 0
    # The clients' side publishes through Sentinel to the new master: every task published "ok" runs.
    assert outside["never_run"] == []
    if fixed_transport:
        # Confirmed publishes (issue 27): the cut-off master acknowledges nothing its replicas do not hold, so
        # the cut-off side's publishes time out or fail (Airflow re-sends or fails them) instead of vanishing.
        assert outside["publish_errors"] == 0
        assert inside["never_run"] == [], (
            f"published 'ok' through the cut-off master and never run: {inside['never_run']}"
        )
