"""Several environments from one repository: a base spec and small files, merged by documented rules, each
rendered into its own folder and gated; a bad value is refused in the file and at the line that hold it."""

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from redis_gitops.plan.report import PlanFormat, render_environments
from redis_gitops.synth.cli import app
from redis_gitops.synth.environments import load_environments
from redis_gitops.synth.output import read_tree
from redis_gitops.synth.pipeline import check, objects_of, plan_changes, synthesize
from redis_gitops.synth.spec_loader import SpecError

from conftest import ROOT, SPEC

ENVIRONMENTS = {
    "dev": """\
        # dev: small, no backups
        namespace: airflow-dev
        redis:
          resources:
            requests: {cpu: 100m, memory: 512Mi}
            limits: {cpu: 500m, memory: 512Mi}
        backup: {enabled: false}
        """,
    "staging": """\
        namespace: airflow-staging
        tls:
          enabled: true
          certManager:
            issuerRef: {name: redis-ca, kind: ClusterIssuer}
        """,
    "prod": """\
        namespace: airflow-prod
        redis:
          replicas: 5
          resources:
            requests: {cpu: "1", memory: 4Gi}
            limits: {cpu: "2", memory: 4Gi}
        sentinel:
          quorum: 3
        persistence:
          size: 40Gi
        backup:
          s3:
            endpoint: https://s3.eu-west-1.amazonaws.com
            bucket: my-redis-backups
            prefix: airflow/
            accessKeyId: {secretName: redis-backup-s3, key: access-key-id}
            secretAccessKey: {secretName: redis-backup-s3, key: secret-access-key}
        gitops:
          automated: false
          targetRevision: release
          destination: {name: prod-eu, kubeConfigSecret: prod-eu-kubeconfig}
        """,
}
ENVIRONMENTS = {name: textwrap.dedent(text) for name, text in ENVIRONMENTS.items()}
NAMESPACES = {"dev": "airflow-dev", "staging": "airflow-staging", "prod": "airflow-prod"}


def write(repo, name, text):
    path = repo / "environments" / f"{name}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def repo(tmp_path):
    """A repository with the base spec and three environments, rendered."""
    shutil.copy(SPEC, tmp_path / "cluster_spec.yaml")
    for name, text in ENVIRONMENTS.items():
        write(tmp_path, name, text)
    assert synthesize(tmp_path / "cluster_spec.yaml", tmp_path / "dist").ok
    return tmp_path


def the_problem(repo):
    """The one problem loading the repository's environments reports."""
    with pytest.raises(SpecError) as caught:
        load_environments(repo / "cluster_spec.yaml")
    (problem,) = caught.value.problems
    return problem


def objects(folder):
    return [o for _, o in objects_of(read_tree(folder))]


def test_a_repository_without_environments_renders_byte_for_byte_what_it_rendered(tmp_path):
    shutil.copy(SPEC, tmp_path / "cluster_spec.yaml")
    (tmp_path / "environments").mkdir()  # an empty folder defines no environment
    assert synthesize(tmp_path / "cluster_spec.yaml", tmp_path / "dist").ok
    assert read_tree(tmp_path / "dist") == read_tree(ROOT / "dist")


def test_each_environment_renders_into_its_own_folder_with_its_namespace_everywhere(repo):
    assert sorted(p.name for p in (repo / "dist").iterdir()) == ["dev", "prod", "staging"]
    for env, namespace in NAMESPACES.items():
        rendered = objects(repo / "dist" / env)
        namespaced = [o for o in rendered if o["kind"] not in ("Namespace", "Application", "GitRepository")]
        namespaced = [o for o in namespaced if o["kind"] != "Kustomization" or "sourceRef" not in o.get("spec", {})]
        assert {o["metadata"]["namespace"] for o in namespaced} == {namespace}
        text = "\n".join(read_tree(repo / "dist" / env).values())
        assert f"redis-0.redis-headless.{namespace}.svc.cluster.local" in text  # the pods' announced names
        helm_values = (repo / "dist" / env / "airflow/helm-values.yaml").read_text()
        assert f"--sentinels redis-0.redis-headless.{namespace}.svc.cluster.local:26379" in helm_values
        others = set(NAMESPACES.values()) - {namespace}
        assert not any(o in text for o in others)
    assert check(repo / "cluster_spec.yaml", repo / "dist").ok


def test_each_environment_keeps_what_its_file_says_and_the_base_the_rest(repo):
    def statefulset(env):
        return next(o for o in objects(repo / "dist" / env) if o["kind"] == "StatefulSet")

    assert statefulset("prod")["spec"]["replicas"] == 5
    assert statefulset("dev")["spec"]["replicas"] == 3  # the base's
    memory = {
        e: statefulset(e)["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
        for e in NAMESPACES
    }
    assert memory == {"dev": "512Mi", "staging": "1Gi", "prod": "4Gi"}
    kinds = {e: {o["kind"] for o in objects(repo / "dist" / e)} for e in NAMESPACES}
    assert "CronJob" not in kinds["dev"] and "CronJob" in kinds["prod"]
    assert "Certificate" in kinds["staging"] and "Certificate" not in kinds["prod"]
    cron = next(o for o in objects(repo / "dist" / "prod") if o["kind"] == "CronJob")
    assert "my-redis-backups" in str(cron)


def test_every_environment_gets_its_own_argo_cd_application_and_flux_kustomization(repo):
    apps = {e: next(o for o in objects(repo / "dist" / e) if o["kind"] == "Application") for e in NAMESPACES}
    assert len({a["metadata"]["name"] for a in apps.values()}) == 3  # one Argo CD holds them all
    assert {e: a["spec"]["source"]["path"] for e, a in apps.items()} == {e: f"dist/{e}" for e in NAMESPACES}
    assert apps["prod"]["spec"]["destination"] == {"name": "prod-eu", "namespace": "airflow-prod"}
    assert apps["prod"]["spec"]["source"]["targetRevision"] == "release"
    assert "automated" not in apps["prod"]["spec"]["syncPolicy"]  # prod: a person presses Sync
    assert apps["dev"]["spec"]["destination"]["server"] == "https://kubernetes.default.svc"
    assert apps["dev"]["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    flux = {
        e: next(o for o in objects(repo / "dist" / e) if o["kind"] == "Kustomization" and "sourceRef" in o["spec"])
        for e in NAMESPACES
    }
    assert flux["staging"]["spec"]["path"] == "./dist/staging"
    assert flux["prod"]["spec"]["kubeConfig"] == {"secretRef": {"name": "prod-eu-kubeconfig"}}
    assert "kubeConfig" not in flux["dev"]["spec"]


def test_a_bad_value_in_an_environment_file_is_refused_at_that_files_line(repo):
    before = read_tree(repo / "dist")
    path = write(repo, "prod", ENVIRONMENTS["prod"].replace("replicas: 5", 'replicas: "five"'))
    with pytest.raises(SpecError) as caught:
        synthesize(repo / "cluster_spec.yaml", repo / "dist")
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.field) == (str(path), 3, "redis.replicas")
    assert read_tree(repo / "dist") == before  # nothing written


def test_a_misspelt_key_in_an_environment_file_gets_a_did_you_mean_at_its_line(repo):
    path = write(repo, "dev", "namespace: airflow-dev\nsentinel:\n  qorum: 2\n")
    problem = the_problem(repo)
    assert (problem.file, problem.line) == (str(path), 3)
    assert "did you mean 'quorum'" in problem.message


def test_a_base_value_that_breaks_one_environment_says_which(repo):
    """prod's 5 Sentinels need quorum 3: without its own quorum, the base's 2 is refused, at the base's line,
    naming the environment."""
    write(repo, "prod", ENVIRONMENTS["prod"].replace("sentinel:\n  quorum: 3\n", ""))
    problem = the_problem(repo)
    base_lines = SPEC.read_text().splitlines()
    assert problem.file == str(repo / "cluster_spec.yaml")
    assert base_lines[problem.line - 1].strip().startswith("quorum: 2")
    assert "(in environment prod)" in problem.message


def test_merge_rules_maps_deep_lists_replaced_null_removes(repo):
    write(
        repo,
        "dev",
        """\
        namespace: airflow-dev
        persistence:
          rdbSave: [{seconds: 900, changes: 1}]   # a list replaces the base's three rules
        monitoring:
          exporter: {resources: {limits: {cpu: 200m, memory: 64Mi}}}   # a map merges into the base's
        backup: null                               # null: the model's default (no backups)
        """,
    )
    dev = {e.name: e.spec for e in load_environments(repo / "cluster_spec.yaml")}["dev"]
    assert [(r.seconds, r.changes) for r in dev.persistence.rdb_save] == [(900, 1)]
    assert dev.monitoring.exporter.resources.limits.cpu == "200m"
    assert dev.monitoring.exporter.resources.requests.memory == "32Mi"  # the base's, kept
    assert dev.monitoring.exporter.image.tag == "v1.62.0"
    assert not dev.backup.enabled


def test_two_environments_in_the_same_place_are_refused(repo):
    path = write(repo, "staging", "namespace: airflow-dev\n")
    problem = the_problem(repo)
    assert (problem.file, problem.line) == (str(path), 1)
    assert "would run the same objects" in problem.message


def test_a_file_name_that_cannot_name_an_environment_is_refused(repo):
    write(repo, "Prod_EU", "namespace: x\n")
    with pytest.raises(SpecError, match="cannot name an environment"):
        load_environments(repo / "cluster_spec.yaml")


def test_a_shared_waiver_applies_where_its_object_is_and_one_naming_nothing_is_refused(repo):
    """dev has no backup CronJob, the base waives the CronJob's findings: fine where it is rendered. A waiver
    of an object no environment renders is a typo."""
    base = repo / "cluster_spec.yaml"
    text = base.read_text().replace("name: redis-backup\n", "name: redis-bakup\n", 1)
    base.write_text(text)
    with pytest.raises(SpecError) as caught:
        synthesize(base, repo / "dist")
    assert [p.field for p in caught.value.problems] == ["policy.waivers.4.name"]
    assert "no environment renders CronJob/redis-bakup" in caught.value.problems[0].message


def test_removing_an_environment_removes_its_folder_and_nothing_else(repo):
    kept = {e: read_tree(repo / "dist" / e) for e in ("dev", "prod")}
    (repo / "environments" / "staging.yaml").unlink()
    result = synthesize(repo / "cluster_spec.yaml", repo / "dist")
    assert result.ok
    assert sorted(p.name for p in (repo / "dist").iterdir()) == ["dev", "prod"]
    assert {e: read_tree(repo / "dist" / e) for e in ("dev", "prod")} == kept
    assert all(p.startswith("staging/") for p in result.changes.removed) and result.changes.removed


def test_a_stale_environment_folder_fails_the_gate(repo):
    (repo / "environments" / "staging.yaml").unlink()
    result = check(repo / "cluster_spec.yaml", repo / "dist")
    assert not result.ok
    assert any("stale" in p for p in result.problems)
    assert result.changes.removed and all(p.startswith("staging/") for p in result.changes.removed)


def test_synth_env_renders_one_environment_into_its_folder_only(repo):
    others = {e: read_tree(repo / "dist" / e) for e in ("dev", "staging")}
    write(repo, "prod", ENVIRONMENTS["prod"].replace("size: 40Gi", "size: 50Gi"))
    write(repo, "dev", ENVIRONMENTS["dev"].replace("512Mi", "768Mi"))
    result = CliRunner().invoke(
        app, ["synth", "--spec", str(repo / "cluster_spec.yaml"), "--out", str(repo / "dist"), "--env", "prod"]
    )
    assert result.exit_code == 0, result.output
    assert "50Gi" in (repo / "dist/prod/redis-statefulset.yaml").read_text()
    assert {e: read_tree(repo / "dist" / e) for e in ("dev", "staging")} == others  # dev's change not rendered


def test_an_unknown_environment_is_named_with_the_ones_there_are(repo):
    result = CliRunner().invoke(app, ["synth", "--spec", str(repo / "cluster_spec.yaml"), "--env", "qa"])
    assert result.exit_code == 2
    assert "no such environment; the environments are dev, prod, staging" in result.output


def test_commands_that_need_one_spec_ask_which_environment(repo):
    spec = str(repo / "cluster_spec.yaml")
    asked = CliRunner().invoke(app, ["airflow-config", "--spec", spec])
    assert asked.exit_code == 2 and "name one with --env" in asked.output
    prod = CliRunner().invoke(app, ["airflow-config", "--spec", spec, "--env", "prod"])
    assert prod.exit_code == 0, prod.output
    assert "--sentinels redis-0.redis-headless.airflow-prod.svc.cluster.local:26379" in prod.output


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def committed(repo, monkeypatch):
    """The repository committed, as the working directory (the plan reads `dist/` from a commit)."""
    monkeypatch.chdir(repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "three environments")
    return repo


def test_the_plan_has_one_section_per_environment_that_changes(committed):
    write(committed, "prod", ENVIRONMENTS["prod"].replace("memory: 4Gi", "memory: 6Gi"))
    plans = plan_changes(Path("cluster_spec.yaml"), "HEAD")
    verdicts = {p.environment.name: str(p.plan.verdict) for p in plans}
    assert verdicts == {"dev": "no-op", "prod": "rolling", "staging": "no-op"}
    comment = render_environments([(p.environment.name, p.plan) for p in plans], PlanFormat.MARKDOWN)
    assert comment.count("<!-- redis-gitops plan -->") == 1
    assert "### environment `prod`: `rolling`" in comment
    assert "### environment `dev`" not in comment  # unchanged: its summary row only
    assert "| `dev` | `no-op` |" in comment


def test_a_base_change_shows_in_every_environments_plan(committed):
    base = committed / "cluster_spec.yaml"
    base.write_text(base.read_text().replace("downAfterMilliseconds: 5000", "downAfterMilliseconds: 6000"))
    plans = plan_changes(Path("cluster_spec.yaml"), "HEAD")
    assert all(p.plan.verdict != "no-op" for p in plans)
    prod = next(p.plan for p in plans if p.environment.name == "prod")
    assert len(prod.rolls[0].pods) == 5  # every one of prod's pods rolls


def test_a_new_environment_is_planned_from_nothing(committed):
    write(committed, "qa", "namespace: airflow-qa\n")
    plans = {p.environment.name: p.plan for p in plan_changes(Path("cluster_spec.yaml"), "HEAD")}
    assert {o.action for o in plans["qa"].objects} == {"added"}


def test_promoting_stagings_settings_to_prod_keeps_prods_place(repo):
    write(repo, "staging", ENVIRONMENTS["staging"] + "sentinel:\n  downAfterMilliseconds: 4000\n")
    (only,) = plan_changes(repo / "cluster_spec.yaml", env="staging", base_env="prod")
    assert only.environment.spec.namespace == "airflow-prod"
    assert only.environment.spec.sentinel.down_after_milliseconds == 4000
    assert only.environment.spec.tls.enabled  # staging's TLS comes along: the plan shows what that means
    assert only.plan.verdict in ("disruptive", "refused")
    cli = CliRunner().invoke(
        app, ["plan", "--spec", str(repo / "cluster_spec.yaml"), "--env", "staging", "--base-env", "prod"]
    )
    assert cli.exit_code == 0, cli.output
    assert "tls" in cli.output.lower()


def test_the_transition_gate_runs_per_environment(repo):
    """Shrinking prod's volumes is refused by Kubernetes: the gate stops it and names where to acknowledge it;
    the environments that do not change pass."""
    shutil.copytree(repo / "dist", repo / "running")
    write(repo, "prod", ENVIRONMENTS["prod"].replace("size: 40Gi", "size: 30Gi"))
    spec, out = str(repo / "cluster_spec.yaml"), str(repo / "dist")
    assert CliRunner().invoke(app, ["synth", "--spec", spec, "--out", out]).exit_code == 0
    result = CliRunner().invoke(app, ["check", "--spec", spec, "--out", out, "--base-dist", str(repo / "running")])
    assert result.exit_code == 1
    assert "== environment prod ==" in result.output
    assert "environments/prod.yaml or the spec" in result.output
    assert "== environment dev ==\nplan: no-op" in result.output


def test_the_documents_the_gate_judges_without_parsing_are_what_the_files_say(repo):
    """The gate takes the rendered documents for files exactly as rendered (no parse of its own output): they
    must be what parsing the files gives, for every file of every environment."""
    from redis_gitops.policies.manifests import load_documents
    from redis_gitops.synth.pipeline import render

    for env in load_environments(repo / "cluster_spec.yaml"):
        rendering = render(env)
        for path, docs in rendering.documents.items():
            assert docs == [d for d in load_documents(path, rendering.files[path], typ="safe") if d], path


def test_moving_a_running_broker_into_an_environment_is_planned_from_what_runs_and_stops_the_gate(
    tmp_path, monkeypatch
):
    """A repository without environments gains them: the environment in the running broker's place is planned
    from the running rendering (not from nothing), and the move stops the gate: the old Application would prune."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(SPEC, tmp_path / "cluster_spec.yaml")
    assert synthesize(Path("cluster_spec.yaml"), Path("dist")).ok
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "one broker")
    write(tmp_path, "prod", "redis:\n  handoverTimeoutSeconds: 20\n")  # where the broker runs (namespace airflow)
    write(tmp_path, "staging", "namespace: airflow-staging\n")
    plans = {p.environment.name: p.plan for p in plan_changes(Path("cluster_spec.yaml"), "HEAD")}
    (move,) = [f for f in plans["prod"].findings if f.code == "environments-layout"]
    assert move.data_loss_risk and "--cascade=false" in move.procedure
    assert {o.action for o in plans["prod"].objects} != {"added"}  # the running objects, changed in place
    assert {o.action for o in plans["staging"].objects} == {"added"}
    assert not any(f.code == "environments-layout" for f in plans["staging"].findings)


def test_promtool_judges_every_environments_rules_and_names_the_file_it_refuses(repo):
    """One promtool run for all environments when they pass; a hand-broken rule in prod is named as prod's."""
    assert all(
        g.promtool.rules > 0 and not g.promtool.errors for g in check(repo / "cluster_spec.yaml", repo / "dist").gates
    )
    rules = repo / "dist" / "prod" / "redis-prometheusrule.yaml"
    text = rules.read_text()
    expr = next(line for line in text.splitlines() if line.strip().startswith("expr:"))
    rules.write_text(text.replace(expr, expr.split("expr:")[0] + "expr: sum(( by broken", 1))
    result = check(repo / "cluster_spec.yaml", repo / "dist")
    errors = {g.environment.name: g.promtool.errors for g in result.gates}
    assert errors["dev"] == [] and errors["staging"] == []
    (error,) = errors["prod"]
    assert "redis-prometheusrule.yaml (spec.groups)" in error


def test_environment_files_have_a_schema_for_editors():
    """environment.schema.json (init writes it): every key optional, null allowed, unknown keys refused."""
    import json

    import jsonschema
    from ruamel.yaml import YAML

    from redis_gitops.synth.starter_kit import environment_schema_text

    validator = jsonschema.Draft202012Validator(json.loads(environment_schema_text()))
    for text in ENVIRONMENTS.values():
        assert list(validator.iter_errors(YAML(typ="safe").load(text))) == []
    assert validator.is_valid({"backup": None, "redis": {"replicas": 5}})
    assert not validator.is_valid({"sentinel": {"qorum": 2}})
    assert not validator.is_valid({"redis": {"replicas": "five"}})


def test_a_base_problem_every_environment_shares_is_reported_once(repo):
    base = repo / "cluster_spec.yaml"
    base.write_text(base.read_text().replace("  parallelSyncs: 1", "  paralelSyncs: 1"))
    with pytest.raises(SpecError) as caught:
        load_environments(base)
    (problem,) = caught.value.problems
    assert problem.message.endswith("(in environments dev, prod, staging)")
    assert "did you mean 'parallelSyncs'" in problem.message
