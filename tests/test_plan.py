"""`plan` on the transitions users make, from the default spec: what Kubernetes, Argo CD/Flux and the broker do."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from redis_gitops.plan.model import Verdict
from redis_gitops.synth.cli import app
from redis_gitops.synth.pipeline import plan_change

from conftest import ROOT

SPEC = ROOT / "cluster_spec.yaml"
ALL_PODS = ("redis-2", "redis-1", "redis-0")


def _set(*path, value):
    def edit(doc):
        node = doc
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value

    return edit


def _both(*edits):
    def edit(doc):
        for e in edits:
            e(doc)

    return edit


def _image(repository, tag):
    return _both(_set("redis", "image", "repository", value=repository), _set("redis", "image", "tag", value=tag))


def _five_pods(doc):
    doc["redis"]["replicas"] = 5
    doc["sentinel"]["quorum"] = 3


def _no_backup(doc):
    doc["backup"]["enabled"] = False
    doc["policy"]["waivers"] = [w for w in doc["policy"]["waivers"] if w["kind"] != "CronJob"]


@dataclass(frozen=True)
class Transition:
    name: str
    edit: object
    verdict: Verdict
    replaced: tuple[str, ...] = ()
    clients: frozenset[str] = frozenset()
    codes: frozenset[str] = frozenset()
    data_loss_risk: bool = False
    base_edit: object = None
    created: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)


TRANSITIONS = [
    Transition("no-op", lambda doc: None, Verdict.NO_OP),
    Transition(
        "volume grown",
        _set("persistence", "size", value="20Gi"),
        Verdict.REFUSED,
        codes=frozenset({"volume-claim-template"}),
    ),
    Transition(
        "volume shrunk",
        _set("persistence", "size", value="5Gi"),
        Verdict.REFUSED,
        codes=frozenset({"volume-claim-template"}),
        data_loss_risk=True,
    ),
    Transition(
        "namespace renamed",
        _set("namespace", value="airflow-prod"),
        Verdict.DISRUPTIVE,
        clients=frozenset({"airflow", "keda", "smoke", "exporter"}),
        # the old namespace's backup claim is pruned; the new namespace's Secrets must be made first
        codes=frozenset({"namespace-or-name", "backup-removed", "secret-key-added"}),
        data_loss_risk=True,
    ),
    Transition(
        "a Celery queue added",
        _set("airflow", "queues", value=["default", "reports"]),
        Verdict.ROLLING,
        ALL_PODS,
        clients=frozenset({"keda"}),
    ),
    Transition(
        "TLS on",
        _set(
            "tls", value={"enabled": True, "certManager": {"issuerRef": {"name": "redis-ca", "kind": "ClusterIssuer"}}}
        ),
        Verdict.DISRUPTIVE,
        ALL_PODS,
        clients=frozenset({"airflow", "keda", "exporter", "smoke"}),
        codes=frozenset({"tls-switch"}),
    ),
    Transition(
        "replicas 3 -> 5",
        _five_pods,
        Verdict.ROLLING,
        ALL_PODS,
        clients=frozenset({"airflow", "smoke"}),
        created=("redis-3", "redis-4"),
    ),
    Transition(
        "replicas 5 -> 3",
        lambda doc: None,
        Verdict.DISRUPTIVE,
        ALL_PODS,
        clients=frozenset({"airflow", "smoke"}),
        codes=frozenset({"replicas-down"}),
        base_edit=_five_pods,
        deleted=("redis-4", "redis-3"),
    ),
    Transition(
        "Redis 7.2.7 -> 7.0.15 (an older RDB format)",
        _image("redis", "7.0.15"),
        Verdict.REFUSED,
        ALL_PODS,
        codes=frozenset({"engine-version"}),
        data_loss_risk=True,
        base_edit=_image("redis", "7.2.7"),
    ),
    Transition(
        "Redis 7.0.15 -> 7.2.7",
        _image("redis", "7.2.7"),
        Verdict.ROLLING,
        ALL_PODS,
        base_edit=_image("redis", "7.0.15"),
    ),
    Transition(
        "Redis 7.2.7 -> Valkey 8.1.8 (same RDB format)",
        lambda doc: None,
        Verdict.ROLLING,
        ALL_PODS,
        base_edit=_image("redis", "7.2.7"),
    ),
    Transition(
        "Redis 7.4.2 -> Valkey 8.1.1 (RDB 12 to 11)",
        _image("valkey/valkey", "8.1.1"),
        Verdict.REFUSED,
        ALL_PODS,
        codes=frozenset({"engine-version"}),
        data_loss_risk=True,
        base_edit=_image("redis", "7.4.2"),
    ),
    Transition(
        "Redis 7.0.15 -> Valkey 8.1.8 (the move tests/test_engine_move.py rolls)",
        lambda doc: None,
        Verdict.ROLLING,
        ALL_PODS,
        base_edit=_image("redis", "7.0.15"),
    ),
    Transition(
        "Valkey 8.1.8 -> Redis 7.0.15 (the way back: RDB 11 to 10)",
        _image("redis", "7.0.15"),
        Verdict.REFUSED,
        ALL_PODS,
        codes=frozenset({"engine-version"}),
        data_loss_risk=True,
    ),
    Transition("backup schedule only", _set("backup", "schedule", value="5 */4 * * *"), Verdict.IN_PLACE),
    Transition("an alert threshold only", _set("monitoring", "alerts", "memoryRatio", value=0.8), Verdict.IN_PLACE),
    Transition(
        "smoke image only",
        _set("smoke", "image", "tag", value="0.2.0"),
        Verdict.IN_PLACE,
        clients=frozenset({"smoke"}),
    ),
    Transition(
        "exporter image only",
        _set("monitoring", "exporter", "image", "tag", value="v1.63.0"),
        Verdict.ROLLING,
        ALL_PODS,
        clients=frozenset({"exporter"}),
    ),
    Transition(
        "master name",
        _set("sentinel", "masterName", value="broker"),
        Verdict.DISRUPTIVE,
        ALL_PODS,
        clients=frozenset({"airflow", "keda", "smoke"}),
        codes=frozenset({"client-endpoint"}),
    ),
    Transition(
        "Redis port",
        _set("redis", "port", value=6380),
        Verdict.DISRUPTIVE,
        ALL_PODS,
        clients=frozenset({"exporter", "smoke"}),  # Airflow and KEDA learn the port from Sentinel
        codes=frozenset({"client-endpoint"}),
    ),
    Transition(
        "a restore section added",
        _set("restore", value={"snapshot": "dump-20261201T000000Z.rdb", "id": "first"}),
        Verdict.IN_PLACE,
    ),
    Transition(
        "backup turned off (its volume pruned)",
        _no_backup,
        Verdict.DISRUPTIVE,
        codes=frozenset({"backup-removed"}),
        data_loss_risk=True,
    ),
    Transition(
        "Airflow's database",
        _set("airflow", "databaseIndex", value=1),
        Verdict.DISRUPTIVE,
        ALL_PODS,
        clients=frozenset({"airflow", "keda", "exporter"}),
        codes=frozenset({"database"}),
        data_loss_risk=True,
    ),
    Transition(
        "publish confirmations turned on (Airflow's user gains WAIT)",
        lambda doc: None,
        Verdict.ROLLING,
        ALL_PODS,
        base_edit=_set("airflow", "confirmPublishes", value=False),
        clients=frozenset({"airflow"}),
    ),
    Transition(
        "worker concurrency (Airflow only)",
        _set("airflow", "workerConcurrency", value=8),
        Verdict.IN_PLACE,
        clients=frozenset({"airflow"}),
    ),
    Transition(
        "the admin password's Secret renamed (a rotation by a new Secret)",
        _set("auth", "redisPassword", "secretName", value="redis-auth-v2"),
        Verdict.DISRUPTIVE,  # the new Secret must exist first, and a new password needs the three-step rotation
        ALL_PODS,
        codes=frozenset({"secret-key-added", "password-switch"}),
    ),
    Transition(
        "KEDA's password under a new key (as the least-privilege release added keda-password)",
        _set("airflow", "keda", "password", value={"secretName": "redis-auth", "key": "keda-password-2"}),
        Verdict.DISRUPTIVE,  # until acknowledged: the key must be in the Secret before the merge
        ALL_PODS,
        clients=frozenset({"keda"}),
        codes=frozenset({"secret-key-added", "password-switch"}),
    ),
    Transition(
        "password rotation, step 1: the new key accepted too",
        _set("airflow", "password", value={"secretName": "redis-auth", "key": "airflow-password", "alsoAccept": "a2"}),
        Verdict.DISRUPTIVE,  # until acknowledged: the new key must be in the Secret first
        ALL_PODS,
        clients=frozenset({"password airflow-password"}),
        codes=frozenset({"secret-key-added"}),
    ),
    Transition(
        "password rotation, step 2: the new key sent, both accepted",
        _set("airflow", "password", value={"secretName": "redis-auth", "key": "a2", "alsoAccept": "airflow-password"}),
        Verdict.ROLLING,
        ALL_PODS,
        clients=frozenset({"airflow", "password airflow-password"}),
        base_edit=_set(
            "airflow", "password", value={"secretName": "redis-auth", "key": "airflow-password", "alsoAccept": "a2"}
        ),
    ),
    Transition(
        "password rotation, step 3: only the new key accepted",
        _set("airflow", "password", value={"secretName": "redis-auth", "key": "a2"}),
        Verdict.ROLLING,
        ALL_PODS,
        clients=frozenset({"password airflow-password"}),
        base_edit=_set(
            "airflow", "password", value={"secretName": "redis-auth", "key": "a2", "alsoAccept": "airflow-password"}
        ),
    ),
    Transition(
        "a password switched in one commit",
        _set("auth", "redisPassword", value={"secretName": "redis-auth", "key": "redis-password-2"}),
        Verdict.DISRUPTIVE,
        ALL_PODS,
        codes=frozenset({"password-switch", "secret-key-added"}),
    ),
    Transition(
        "Sentinel's down-after", _set("sentinel", "downAfterMilliseconds", value=8000), Verdict.ROLLING, ALL_PODS
    ),
]


def _write(tmp: Path, name: str, edit) -> Path:
    yaml = YAML()
    doc = yaml.load(SPEC.read_text())
    if edit is not None:
        edit(doc)
    path = tmp / f"{name}.yaml"
    with path.open("w") as f:
        yaml.dump(doc, f)
    return path


@pytest.mark.parametrize("t", TRANSITIONS, ids=[t.name for t in TRANSITIONS])
def test_the_plan_of_each_transition(t: Transition, tmp_path):
    base = _write(tmp_path, "base", t.base_edit)
    head = _write(tmp_path, "head", t.edit)
    start = time.monotonic()
    plan = plan_change(head, base_spec=base)
    elapsed = time.monotonic() - start
    print(f"{t.name}: {plan.verdict} in {elapsed:.2f} s")  # scripts/bench_synth.py times the command
    assert plan.verdict == t.verdict, plan.reasons
    assert {f.code for f in plan.findings} == t.codes, plan.reasons
    assert plan.data_loss_risk == t.data_loss_risk
    broker = [r for r in plan.rolls if r.workload == "StatefulSet/redis"]
    assert (broker[0].pods if broker else ()) == t.replaced
    assert (broker[0].created if broker else ()) == t.created
    assert (broker[0].deleted if broker else ()) == t.deleted
    assert {c.client for c in plan.clients} >= t.clients, plan.clients


def test_a_roll_hands_over_once_with_the_master_on_pod_0_and_at_most_twice():
    plan = plan_change(_write_tmp("queue", _set("airflow", "queues", value=["default", "x"])), base_spec=SPEC)
    (roll,) = plan.rolls
    assert (roll.handovers_best, roll.handovers) == (1, 2)
    assert roll.write_pause_best_s <= roll.write_pause_s
    assert all(step.ok for step in roll.quorum)
    assert [s.step for s in roll.quorum] == [f"replace {p}" for p in ALL_PODS]


def _write_tmp(name, edit):
    import tempfile

    return _write(Path(tempfile.mkdtemp()), name, edit)


def test_the_json_has_the_documented_keys():
    plan = plan_change(_write_tmp("tls", TRANSITIONS[5].edit), base_spec=SPEC)
    data = plan.as_json()
    assert {"verdict", "objects", "rolls", "immutable", "clients", "data_loss_risk", "reasons"} <= set(data)
    assert {"kind", "name", "action"} <= set(data["objects"][0])
    assert {"workload", "pods", "handovers", "write_pause_s"} <= set(data["rolls"][0])
    assert json.loads(json.dumps(data)) == data


def test_an_acknowledged_change_says_so_and_keeps_its_procedure(tmp_path):
    ack = {"change": "volume-claim-template", "reason": "claims resized by hand first, as the plan says"}
    head = _write(
        tmp_path, "head", _both(_set("persistence", "size", value="20Gi"), _set("policy", "acknowledge", value=[ack]))
    )
    plan = plan_change(head, base_spec=SPEC)
    (finding,) = plan.immutable
    assert finding.acknowledged == ack["reason"]
    assert not plan.unacknowledged
    assert "--cascade=orphan" in finding.procedure


def test_an_unknown_acknowledgement_is_refused_with_the_known_codes(tmp_path):
    head = _write(
        tmp_path, "head", _set("policy", "acknowledge", value=[{"change": "everything", "reason": "just merge it"}])
    )
    result = CliRunner().invoke(app, ["plan", "--spec", str(head), "--base-spec", str(SPEC)])
    assert result.exit_code == 2
    assert "unknown change 'everything'" in result.output and "volume-claim-template" in result.output


def test_markdown_starts_with_the_verdict_and_ends_with_the_diff(tmp_path):
    head = _write(tmp_path, "head", _set("persistence", "size", value="20Gi"))
    result = CliRunner().invoke(app, ["plan", "--spec", str(head), "--base-spec", str(SPEC), "--format", "markdown"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "<!-- redis-gitops plan -->"
    assert lines[1].startswith("### redis-gitops plan: `refused`")
    assert lines[-1] == "</details>" and "```diff" in result.output


def test_the_base_may_be_a_commit_of_this_repository():
    result = CliRunner().invoke(app, ["plan", "--base", "HEAD", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["verdict"] in {v.value for v in Verdict}


def _rendered(tmp_path: Path, name: str, edit) -> tuple[Path, Path]:
    from redis_gitops.synth.pipeline import synthesize

    spec = _write(tmp_path, name, edit)
    out = tmp_path / f"{name}-dist"
    assert synthesize(spec, out).ok
    return spec, out


def test_check_with_a_base_refuses_an_unacknowledged_refused_change_and_names_the_procedure(tmp_path):
    spec, out = _rendered(tmp_path, "grown", _set("persistence", "size", value="20Gi"))
    result = CliRunner().invoke(
        app, ["check", "--spec", str(spec), "--out", str(out), "--base-dist", str(ROOT / "dist")]
    )
    assert result.exit_code == 1
    assert "refused change StatefulSet/redis" in result.output
    assert "--cascade=orphan" in result.output and "change: volume-claim-template" in result.output
    assert "check FAILED" in result.output


def test_check_with_a_base_passes_it_once_acknowledged(tmp_path):
    ack = [{"change": "volume-claim-template", "reason": "claims resized by hand first, as the plan says"}]
    spec, out = _rendered(
        tmp_path, "acked", _both(_set("persistence", "size", value="20Gi"), _set("policy", "acknowledge", value=ack))
    )
    result = CliRunner().invoke(
        app, ["check", "--spec", str(spec), "--out", str(out), "--base-dist", str(ROOT / "dist")]
    )
    assert result.exit_code == 0, result.output
    assert "acknowledged in the spec: claims resized by hand first" in result.output


def test_check_with_a_base_lets_a_rolling_change_through(tmp_path):
    spec, out = _rendered(tmp_path, "queue", _set("airflow", "queues", value=["default", "reports"]))
    result = CliRunner().invoke(
        app, ["check", "--spec", str(spec), "--out", str(out), "--base-dist", str(ROOT / "dist")]
    )
    assert result.exit_code == 0, result.output
    assert "plan: rolling" in result.output


def test_the_write_pause_figures_come_from_the_committed_fault_results():
    """plan/measured.json is written by the fault report from the runs docs/design/fault-results.json holds."""
    from redis_gitops.plan import measured

    results = json.loads((ROOT / "docs" / "design" / "fault-results.json").read_text())
    assert json.loads(measured.FIGURES.read_text()) == measured.from_fault_runs(results["report"]["runs"])


def test_scaling_down_loses_failover_votes_only_until_a_sentinel_is_replaced(tmp_path):
    """5 -> 3: the old Sentinels count 5 (a majority is 3); the first replaced one knows 3 (a majority is 2)."""
    base = _write(tmp_path, "five", TRANSITIONS[7].base_edit)
    plan = plan_change(SPEC, base_spec=base)
    (roll,) = plan.rolls
    assert [(q.step, q.sentinels_up, q.ok) for q in roll.quorum] == [
        ("delete redis-4, redis-3", 3, True),
        ("replace redis-2", 2, False),
        ("replace redis-1", 2, True),
        ("replace redis-0", 2, True),
    ]


def test_the_workflow_posts_the_plan_and_runs_the_transition_gate_on_pull_requests():
    """The job runs the commands these tests run: `plan --base <ref> --format markdown`, one comment found by
    the plan's own marker, then `make check BASE=<ref>` (check --base)."""
    job = YAML(typ="safe").load((ROOT / ".github/workflows/ci.yml").read_text())["jobs"]["plan"]
    assert job["if"] == "github.event_name == 'pull_request'"
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    runs = [s.get("run", "") for s in job["steps"]]
    plan_step = next(r for r in runs if "redis-gitops plan" in r)
    assert '--base "origin/${BASE_REF}" --format markdown --output plan.md' in plan_step
    post = next(r for r in runs if "gh api" in r)
    assert "head -n 1 plan.md" in post and "-X PATCH" in post  # the marker line finds the comment to edit
    assert runs[-1] == 'make check BASE="origin/${BASE_REF}"'
    assert Path(ROOT / "Makefile").read_text().count("$(if $(BASE),--base $(BASE))") == 1
    checkout = next(s for s in job["steps"] if "checkout" in s.get("uses", ""))
    assert checkout["with"]["fetch-depth"] == 0  # the base branch's dist/ is read with git


def test_a_new_secret_key_names_the_secret_the_key_and_who_reads_it(tmp_path):
    head = _write(
        tmp_path, "head", _set("airflow", "keda", "password", value={"secretName": "redis-auth", "key": "k2"})
    )
    plan = plan_change(head, base_spec=SPEC)
    (finding,) = [f for f in plan.findings if f.code == "secret-key-added"]
    assert (finding.object, finding.field) == ("Secret/airflow/redis-auth", "k2")
    assert finding.what.startswith("StatefulSet/redis, TriggerAuthentication/")  # every reader named
    assert finding.procedure.startswith("Add `k2` to Secret `airflow/redis-auth`")


def test_each_rotation_step_says_what_comes_next():
    steps = [
        {"key": "airflow-password", "alsoAccept": "a2"},
        {"key": "a2", "alsoAccept": "airflow-password"},
        {"key": "a2"},
    ]
    base, said = SPEC, []
    for i, ref in enumerate(steps):
        head = _write_tmp(f"step{i}", _set("airflow", "password", value={"secretName": "redis-auth", **ref}))
        plan = plan_change(head, base_spec=base)
        (rotation,) = [c for c in plan.clients if c.client == "password airflow-password"]
        said.append((rotation.changes[0][:11], rotation.order.split(":")[0]))
        base = head
    assert said == [
        ("step 1 of 3", "next commit"),
        ("step 2 of 3", "after the broker"),
        ("step 3 of 3", "before the merge"),
    ]


def test_a_one_step_switch_names_the_three_commits():
    head = _write_tmp("switch", _set("smoke", "password", value={"secretName": "redis-auth", "key": "s2"}))
    (finding,) = [f for f in plan_change(head, base_spec=SPEC).findings if f.code == "password-switch"]
    assert finding.object == "password smoke-password" and "WRONGPASS" in finding.what
    assert "alsoAccept: smoke-password" in finding.procedure


def test_identical_renderings_are_planned_as_no_change_without_reading_them(files):
    """make_plan's shortcut for an environment a change leaves alone says what the full comparison says."""
    from redis_gitops.plan.planner import compared, make_plan, no_change

    assert make_plan(files, dict(files)).as_json() == compared(files, dict(files)).as_json() == no_change().as_json()


def test_publish_confirmations_reach_airflow_after_the_broker_grants_wait(tmp_path):
    base = _write(tmp_path, "base", _set("airflow", "confirmPublishes", value=False))
    plan = plan_change(_write(tmp_path, "head", None), base_spec=base)
    (airflow,) = [c for c in plan.clients if c.client == "airflow"]
    assert airflow.order.startswith("after the broker") and not airflow.disruptive
    assert "config.celery_broker_transport_options.confirm_replicas" in airflow.changes
