"""`local apply` on a running local cluster: a change rolls the pods as `plan` predicted, under load (a writer
confirming with WAIT 1, a Celery worker configured by Airflow's provider), losing nothing."""

from __future__ import annotations

import shutil

import pytest
import redis
from ruamel.yaml import YAML
from test_plan import TRANSITIONS

from redis_gitops.devcluster.apply import ApplyRefused, apply
from redis_gitops.devcluster.local_cluster import LocalCluster
from redis_gitops.faults.airflow_worker import run as run_worker
from redis_gitops.faults.load import confirmed_writes
from redis_gitops.plan.model import Verdict
from redis_gitops.synth.pipeline import synthesize
from redis_gitops.synth.spec_loader import load_spec

from conftest import ROOT


@pytest.fixture(scope="module")
def cluster(spec, tmp_path_factory):
    with LocalCluster(spec, ROOT / "dist", tmp_path_factory.mktemp("apply-cluster"), subnet=93) as c:
        yield c


def _render(tmp_path, name: str, edit):
    yaml = YAML()
    doc = yaml.load((ROOT / "cluster_spec.yaml").read_text())
    edit(doc)
    spec_path = tmp_path / f"{name}.yaml"
    with spec_path.open("w") as f:
        yaml.dump(doc, f)
    out = tmp_path / f"{name}-dist"
    assert synthesize(spec_path, out).ok
    return load_spec(spec_path), out


def _queue_added(doc):
    doc["airflow"] = {"queues": ["default", "reports"]}


def test_a_refused_change_is_refused_with_the_plans_words_and_nothing_changes(cluster, tmp_path):
    spec, dist = _render(tmp_path, "grown", lambda d: d["persistence"].__setitem__("size", "20Gi"))
    config_before = (cluster.base / "config" / "redis.conf").read_text()
    pids = [(n.redis_pid, n.sentinel_pid) for n in cluster.state.nodes]
    with pytest.raises(ApplyRefused, match="--cascade=orphan"):
        apply(cluster, spec, dist)
    assert (cluster.base / "config" / "redis.conf").read_text() == config_before
    assert [(n.redis_pid, n.sentinel_pid) for n in cluster.state.nodes] == pids


def test_a_scripts_only_change_reaches_the_files_and_no_running_process(cluster, tmp_path):
    dist = tmp_path / "scripts-dist"
    shutil.copytree(cluster.running_dist, dist)
    scripts = dist / "redis-scripts-configmap.yaml"
    scripts.write_text(scripts.read_text().replace('log "starting Sentinel on', 'log "starting the Sentinel on'))
    pids = [(n.redis_pid, n.sentinel_pid) for n in cluster.state.nodes]
    applied = apply(cluster, cluster.spec, dist)
    assert applied.steps == [] and applied.plan.verdict == "in-place"
    assert any("redis-scripts" in n for n in applied.plan.not_rolled)
    assert "starting the Sentinel on" in (cluster.base / "scripts" / "start-sentinel.sh").read_text()
    assert [(n.redis_pid, n.sentinel_pid) for n in cluster.state.nodes] == pids


def test_a_step_whose_new_key_is_not_in_the_secret_is_refused_before_any_pod_moves(cluster, tmp_path):
    first, first_dist = _render(
        tmp_path,
        "missing",
        lambda d: d["auth"].__setitem__(
            "redisPassword", {"secretName": "redis-auth", "key": "redis-password", "alsoAccept": "redis-password-2"}
        ),
    )
    pids = [(n.redis_pid, n.sentinel_pid) for n in cluster.state.nodes]
    with pytest.raises(ApplyRefused, match="redis-password-2"):
        apply(cluster, first, first_dist)
    assert [(n.redis_pid, n.sentinel_pid) for n in cluster.state.nodes] == pids


def test_a_secret_value_changed_in_place_reaches_the_files_and_no_process(cluster):
    """The kubelet's sync: a Secret's new value reaches the running containers' files, and no server re-reads
    it, so the exporter's user still opens with the old password and not the new one: why a rotation takes a
    new key and commits (docs/operate/rotation.md), not an edit in place."""
    cluster.wait_until_healthy(30)
    stored = cluster.secret_store / "exporter-password"
    old, new = stored.read_text(), "changed-in-place"
    pids = [(n.redis_pid, n.sentinel_pid) for n in cluster.state.nodes]
    stored.write_text(new)
    try:
        applied = apply(cluster, cluster.spec, cluster.running_dist)
        assert applied.plan.verdict == "no-op" and applied.steps == []
        for node in cluster.state.nodes:
            assert (cluster.secrets_folder(node, "redis") / "exporter-password").read_text() == new
        assert [(n.redis_pid, n.sentinel_pid) for n in cluster.state.nodes] == pids
        user = cluster.spec.monitoring.exporter.username
        master = cluster.redis(cluster.master())
        assert master.execute_command("AUTH", user, old)  # the server still holds the old one
        with pytest.raises(redis.AuthenticationError):
            master.execute_command("AUTH", user, new)
    finally:
        stored.write_text(old)
        cluster.sync_secrets()


def test_a_queue_added_rolls_every_pod_as_planned_with_nothing_lost_under_load(cluster, tmp_path):
    """The ACL line that grants the queue changes: every pod is replaced, highest ordinal first, while a writer
    confirms with WAIT 1 and Airflow's worker runs tasks published as its scheduler does."""
    cluster.wait_until_healthy(30)
    spec, dist = _render(tmp_path, "queue", _queue_added)
    applied = []
    with confirmed_writes(cluster) as written:
        worker = run_worker(
            cluster, lambda c: applied.append(apply(c, spec, dist)), count=200, rate=10.0, fault_after=4.0
        )
    (done,) = applied
    (roll,) = done.plan.rolls
    log, lost = written.log, written.lost
    print(
        f"applied: {done.pods}, {done.handovers} hand-over(s) (plan {roll.handovers_best}-{roll.handovers}), "
        f"took {[s.took_s for s in done.steps]} s; writer: {len(log.acknowledged)} acknowledged, "
        f"{len(lost)} lost, longest gap {log.longest_gap()[0]:.2f} s; worker: {worker.executed}/{worker.published} "
        f"run, {len(worker.publish_errors)} publish errors, {worker.duplicates} duplicates"
    )
    assert done.pods == roll.pods == ("redis-2", "redis-1", "redis-0")
    assert roll.handovers_best <= done.handovers <= roll.handovers
    assert not lost
    assert worker.missing == [] and worker.publish_errors == [] and worker.worker_survived
    # The new ACL reached the servers: Airflow's user may now use the new queue.
    airflow = spec.airflow.username
    assert cluster.redis(cluster.master()).execute_command("ACL", "DRYRUN", airflow, "LLEN", "reports") == "OK"


@pytest.mark.faults  # make faults: 45 s; the per-ordinal rolls below prove it under load
def test_the_highest_pods_master_hands_over_to_the_lowest_and_a_middle_one_upwards(cluster):
    """The hand-over prefers a replica a roll (highest ordinal first) has already replaced, else the one replaced
    last: from pod 2 to pod 0 (not pod 1, next in the roll), from pod 1 to pod 2. Priorities and the Sentinel's
    INFO period are given back."""
    for source, expected in ((2, 0), (1, 2)):
        cluster.move_master(source)
        run = cluster.run_prestop(source)
        assert run.returncode == 0, run.stderr
        assert "handing over past" in run.stderr, run.stderr
        cluster.wait_until_healthy(60)
        assert cluster.master() == expected, run.stderr
        priorities = [
            int(cluster.redis(n.ordinal).config_get("replica-priority")["replica-priority"])
            for n in cluster.state.nodes
        ]
        assert priorities == [100] * len(cluster.state.nodes)
        # The Sentinel asked to look sooner (SENTINEL DEBUG info-period) is back to its 10 s.
        periods = [cluster.sentinel(n.ordinal).execute_command("SENTINEL", "DEBUG") for n in cluster.state.nodes]
        tables = [p if isinstance(p, dict) else dict(zip(p[::2], p[1::2], strict=True)) for p in periods]
        assert [str(t["INFO-PERIOD"]) for t in tables] == ["10000"] * 3


def _template_change(doc):
    doc["sentinel"]["downAfterMilliseconds"] = 5500


@pytest.mark.faults
@pytest.mark.parametrize("master", [2, 1, 0])
def test_a_roll_hands_over_at_most_twice_and_once_with_the_master_low(cluster, tmp_path, spec, master):
    """A pod template change rolled under the WAIT 1 writer with the master on each ordinal: 2 hand-overs from
    pod 2 (to pod 0, then to a replaced pod), 1 from pod 1 (to the replaced pod 2) and from pod 0; nothing lost."""
    cluster.move_master(master)
    head, head_dist = _render(tmp_path, "roll", _template_change)
    for target_spec, target_dist, expected in ((head, head_dist, 2 if master == 2 else 1), (spec, ROOT / "dist", None)):
        with confirmed_writes(cluster) as written:
            done = apply(cluster, target_spec, target_dist)
        log, lost = written.log, written.lost
        print(
            f"master on pod {master}: {done.handovers} hand-over(s), longest write gap {log.longest_gap()[0]:.2f} s, "
            f"{len(log.acknowledged)} acknowledged, {len(lost)} lost, steps {[s.took_s for s in done.steps]} s"
        )
        assert not lost
        if expected is not None:
            assert done.handovers == expected
        cluster.move_master(master)


def _five_pods(doc):
    doc["redis"]["replicas"] = 5
    doc["sentinel"]["quorum"] = 3


def _under_load(cluster, change):
    """Apply `change` while a WAIT 1 writer and Airflow's worker run; (writer's lost writes, worker run)."""
    with confirmed_writes(cluster) as written:
        worker = run_worker(cluster, change, count=200, rate=10.0, fault_after=3.0)
    return written.lost, worker, written.log


@pytest.mark.faults
def test_scaling_to_five_pods_and_back_follows_the_plan_under_load(cluster, tmp_path):
    """3 -> 5: the new pods first (at once), then the three old ones replaced (PEER_HOSTS changed). 5 -> 3: pods
    4 and 3 deleted, the rest replaced, after which no Sentinel counts the deleted ones."""
    cluster.wait_until_healthy(30)
    five, five_dist = _render(tmp_path, "five", _five_pods)
    applied = []
    lost, worker, log = _under_load(cluster, lambda c: applied.append(apply(c, five, five_dist)))
    (up,) = applied
    (roll,) = up.plan.rolls
    print(f"3 -> 5: created {up.created}, replaced {up.pods}, {up.handovers} hand-over(s); lost {len(lost)}")
    assert up.created == roll.created == ("redis-3", "redis-4") and up.pods == roll.pods
    assert roll.handovers_best <= up.handovers <= roll.handovers
    assert not lost and worker.missing == [] and worker.publish_errors == []
    cluster.wait_until_healthy(60)

    three = load_spec(ROOT / "cluster_spec.yaml")
    applied.clear()
    lost, worker, log = _under_load(cluster, lambda c: applied.append(apply(c, three, ROOT / "dist")))
    (down,) = applied
    (roll,) = down.plan.rolls
    print(f"5 -> 3: deleted {down.deleted}, replaced {down.pods}, {down.handovers} hand-over(s); lost {len(lost)}")
    assert down.deleted == roll.deleted == ("redis-4", "redis-3") and down.pods == roll.pods
    assert down.handovers <= roll.handovers
    assert [f.code for f in down.plan.risks] == ["replicas-down"]
    assert not lost and worker.missing == [] and worker.publish_errors == []
    name = cluster.state.master_name
    counted = [
        int(cluster.sentinel(n.ordinal).sentinel_master(name)["num-other-sentinels"]) for n in cluster.state.nodes
    ]
    print(f"5 -> 3: other Sentinels each counts after the roll: {counted}")
    assert counted == [2, 2, 2]  # replaced Sentinels keep only the template's peers: no SENTINEL RESET needed
    cluster.wait_until_healthy(60)


def _pids(cluster) -> dict[str, tuple]:
    return {f"redis-{n.ordinal}": (n.redis_pid, n.sentinel_pid) for n in cluster.state.nodes}


# The rows of the plan's transition table the local cluster can run from the default spec: no base of their
# own, nothing the apply refuses (ports, master name, TLS, a namespace), no older RDB format (an image change
# rolls the one local binary: the roll itself is what is checked).
LOCAL = [
    t
    for t in TRANSITIONS
    if t.base_edit is None
    and t.verdict != Verdict.REFUSED
    and not t.codes & {"tls-switch", "client-endpoint", "namespace-or-name", "engine-version"}
    and not t.codes & {"secret-key-added", "password-switch"}  # tests/test_rotation.py adds keys and rotates
    and not t.created
]


@pytest.mark.faults
@pytest.mark.parametrize("t", LOCAL, ids=[t.name for t in LOCAL])
def test_each_transition_restarts_exactly_the_pods_the_plan_names(cluster, tmp_path, spec, t):
    """Applied and applied back under the WAIT 1 writer: the pods whose processes were replaced are the plan's,
    in its order, and the others keep running; no acknowledged write is lost; the cluster is healthy after each."""
    for target_spec, target_dist in (_render(tmp_path, "head", t.edit), (spec, ROOT / "dist")):
        before = _pids(cluster)
        with confirmed_writes(cluster) as written:
            applied = apply(cluster, target_spec, target_dist)
        after = _pids(cluster)
        replaced = {pod for pod in before if before[pod] != after.get(pod)}
        predicted = {p for r in applied.plan.rolls for p in r.pods}
        assert replaced == predicted == set(applied.pods), (applied.plan.reasons, replaced)
        log, lost = written.log, written.lost
        print(
            f"{t.name}: {applied.plan.verdict}, {len(applied.pods)} pod(s), {applied.handovers} hand-over(s), "
            f"longest write gap {log.longest_gap()[0]:.2f} s, {len(log.acknowledged)} acknowledged, {len(lost)} lost"
        )
        assert not lost
    assert tuple(sorted(predicted, reverse=True)) == tuple(applied.pods)
