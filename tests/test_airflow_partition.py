"""Airflow's publishes through a partition (issue 27, measured first): Airflow's scheduler publishing on both
sides of a cut-off master, a worker configured by Airflow's provider, kombu's transport and ours side by side.
The cut-off side's "ok" publishes that never run are the defect confirmed publishes will remove."""

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
            f"{f['publish_timeouts']} timeouts"
            for side, f in figures["sides"].items()
        )
    )
    outside, inside = figures["sides"]["outside"], figures["sides"]["inside"]
    assert figures["old_master_rejoined_as_replica"]
    assert outside["published_ok"] > 0 and inside["published_ok"] > 0
    # The clients' side publishes through Sentinel to the new master: every task published "ok" runs.
    assert outside["never_run"] == []
    if fixed_transport:
        assert outside["publish_errors"] == 0
        # Measured, not yet fixed (issue 27): the cut-off side's publishes are acknowledged by the old master
        # until min-replicas-max-lag, and lost when it rejoins. This assertion flips with confirmed publishes.
        assert inside["never_run"], "the cut-off side lost nothing: confirmed publishes landed? assert 0 now"
