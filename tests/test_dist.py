"""dist/ is deterministic, validated, replaced atomically, and the gate catches drift and hand edits."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from redis_gitops.synth.cli import app
from redis_gitops.synth.output import HEADER, read_tree
from redis_gitops.synth.pipeline import objects_of
from redis_gitops.synth.spec import ClusterSpec
from redis_gitops.synth.validation import BUNDLED_CRD_SCHEMAS, CRD_SCHEMAS_ENV, default_crd_folder, validate_objects

from conftest import ROOT, SPEC

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path):
    """A copy of the spec and the committed dist/, so tests may break them."""
    shutil.copy(SPEC, tmp_path / "cluster_spec.yaml")
    shutil.copytree(ROOT / "dist", tmp_path / "dist")
    return tmp_path


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_committed_dist_matches_the_spec():
    result = run("check", "--spec", SPEC, "--out", ROOT / "dist")
    assert result.exit_code == 0, result.output
    assert "check passed" in result.output


def test_every_object_passes_strict_schema_validation_with_the_schemas_the_repository_carries(files, spec, monkeypatch):
    monkeypatch.delenv(CRD_SCHEMAS_ENV, raising=False)
    assert default_crd_folder() == BUNDLED_CRD_SCHEMAS
    assert ROOT in BUNDLED_CRD_SCHEMAS.parents  # inside the clone, not in a folder beside it
    report = validate_objects(objects_of(files), spec.kubernetes_version, default_crd_folder())
    assert report.errors == []
    assert report.unchecked == []  # ServiceMonitor and Application validated against their CRD schemas
    assert (
        report.validated == len(objects_of(files)) == 23
    )  # with the backup CronJob, PVC and policy, the PrometheusRule and dashboard, Flux's GitRepository and
    # Kustomization, KEDA's two objects


def test_without_a_crd_folder_the_custom_resources_would_go_unchecked(files, spec):
    """The counterpart of the test above: it is the bundled folder that makes the difference."""
    report = validate_objects(objects_of(files), spec.kubernetes_version, None)
    assert {label.split("/")[0] for label in report.unchecked} == {
        "ServiceMonitor",
        "PrometheusRule",
        "Application",
        "GitRepository",
        "ScaledObject",
        "TriggerAuthentication",
        "Kustomization",
    }


def test_default_synth_and_check_print_no_missing_schema(workdir, monkeypatch):
    monkeypatch.delenv(CRD_SCHEMAS_ENV, raising=False)
    assert run("synth", "--spec", workdir / "cluster_spec.yaml", "--out", workdir / "dist").exit_code == 0
    result = run("check", "--spec", workdir / "cluster_spec.yaml", "--out", workdir / "dist")
    assert result.exit_code == 0, result.output
    assert "no schema at hand" not in result.output
    assert "23 objects checked" in result.output


def test_a_crd_schema_override_that_is_no_folder_is_refused_and_touches_nothing(workdir, monkeypatch):
    before = read_tree(workdir / "dist")
    monkeypatch.setenv(CRD_SCHEMAS_ENV, str(workdir / "missing"))
    result = run("synth", "--spec", workdir / "cluster_spec.yaml", "--out", workdir / "dist")
    assert result.exit_code == 2
    assert f"{CRD_SCHEMAS_ENV}=" in result.output and "is not a folder" in result.output
    assert read_tree(workdir / "dist") == before


def test_a_crd_schema_override_is_used(workdir, monkeypatch, tmp_path):
    empty = tmp_path / "no-crds"
    empty.mkdir()
    monkeypatch.setenv(CRD_SCHEMAS_ENV, str(empty))
    result = run("check", "--spec", workdir / "cluster_spec.yaml", "--out", workdir / "dist")
    assert "no schema at hand for" in result.output and "ServiceMonitor/" in result.output


def test_schema_validation_reports_every_error_of_a_document(files, spec):
    [(path, sts)] = [(p, o) for p, o in objects_of(files) if o["kind"] == "StatefulSet"]
    sts["spec"]["replicas"] = "three"
    sts["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 7
    sts["spec"]["bogus"] = True
    report = validate_objects([(path, sts)], spec.kubernetes_version)
    paths = {e.path for e in report.errors}
    assert {"spec.replicas", "spec.template.spec.containers.0.imagePullPolicy", "spec"} <= paths


def test_synth_is_byte_identical_across_processes(tmp_path):
    outputs = []
    for n in (1, 2):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "redis_gitops.synth",
                "synth",
                "--spec",
                str(SPEC),
                "--out",
                str(tmp_path / f"d{n}"),
            ],
            check=True,
            capture_output=True,
        )
        outputs.append(read_tree(tmp_path / f"d{n}"))
    assert outputs[0] == outputs[1] == read_tree(ROOT / "dist")


def test_synth_removes_stale_files_and_reports_changes(workdir):
    (workdir / "dist" / "old-object.yaml").write_text(HEADER + "kind: Stale\n")  # an object it rendered once
    (workdir / "dist" / "redis-sentinel-service.yaml").unlink()
    result = run("synth", "--spec", workdir / "cluster_spec.yaml", "--out", workdir / "dist")
    assert result.exit_code == 0, result.output
    assert "removed: old-object.yaml" in result.output and "added: redis-sentinel-service.yaml" in result.output
    assert read_tree(workdir / "dist") == read_tree(ROOT / "dist")


@pytest.mark.parametrize(
    "breakage",
    [
        ("cluster_spec.yaml", "  replicas: 3 ", "  replicas: 4 "),
        ("cluster_spec.yaml", "  quorum: 2 ", "  quorum: 1 "),
        ("cluster_spec.yaml", "  maxmemory: auto ", "  maxmemory: 1000Mi "),
        ("cluster_spec.yaml", "  downAfterMilliseconds:", "  downAfterMs:"),
        ("cluster_spec.yaml", "    secretName: redis-auth\n    key: sentinel-password\n", ""),
    ],
)
def test_bad_spec_exits_2_and_leaves_dist_byte_identical(workdir, breakage):
    name, old, new = breakage
    path = workdir / name
    path.write_text(path.read_text().replace(old, new, 1))
    (workdir / "dist" / "hand-note.txt").write_text("kept")
    before = read_tree(workdir / "dist")
    result = run("synth", "--spec", path, "--out", workdir / "dist")
    assert result.exit_code == 2
    assert "cluster_spec.yaml:" in result.output and "nothing was written" in result.output
    assert read_tree(workdir / "dist") == before


def hand_edit_eviction(workdir) -> None:
    """A hand edit the gate must catch: an evicting maxmemory-policy in dist/'s redis.conf."""
    target = workdir / "dist" / "redis-config-configmap.yaml"
    target.write_text(target.read_text().replace("maxmemory-policy noeviction", "maxmemory-policy allkeys-lru"))


def test_check_fails_with_a_diff_after_a_hand_edit(workdir):
    hand_edit_eviction(workdir)
    result = run("check", "--spec", workdir / "cluster_spec.yaml", "--out", workdir / "dist")
    assert result.exit_code == 1
    assert "-    maxmemory-policy allkeys-lru" in result.output
    assert "+    maxmemory-policy noeviction" in result.output
    # The command that renders this spec into this folder, not the repository's `make synth`.
    assert "stale or hand-edited" in result.output
    assert f"run `redis-gitops synth --spec {workdir / 'cluster_spec.yaml'} --out {workdir / 'dist'}`" in result.output


def test_check_fails_when_a_file_was_deleted(workdir):
    (workdir / "dist" / "redis-poddisruptionbudget.yaml").unlink()
    result = run("check", "--spec", workdir / "cluster_spec.yaml", "--out", workdir / "dist")
    assert result.exit_code == 1
    assert "+++ " in result.output and "redis-poddisruptionbudget.yaml (from the spec)" in result.output


def test_check_fails_on_a_schema_invalid_hand_edit_even_when_listed(workdir):
    target = workdir / "dist" / "redis-sentinel-service.yaml"
    target.write_text(target.read_text().replace("type: ClusterIP", "type: ClusterIP\n  sessionAfinity: None"))
    result = run("check", "--spec", workdir / "cluster_spec.yaml", "--out", workdir / "dist")
    assert result.exit_code == 1
    assert "Additional properties are not allowed ('sessionAfinity' was unexpected)" in result.output


def test_check_exits_2_on_a_bad_spec(workdir):
    (workdir / "cluster_spec.yaml").write_text("name: redis\n")
    result = run("check", "--spec", workdir / "cluster_spec.yaml", "--out", workdir / "dist")
    assert result.exit_code == 2 and "auth: required but missing" in result.output


def test_kustomization_lists_every_synced_object_but_not_the_bootstrap_ones(files):
    kustomization = files["kustomization.yaml"]
    objects = [
        p for p in files if p not in ("kustomization.yaml",) and not p.startswith(("argocd/", "flux/", "airflow/"))
    ]
    for path in objects:
        assert f"- {path}" in kustomization
    assert "argocd/" not in kustomization and "flux/" not in kustomization


def test_committed_json_schema_is_current():
    committed = json.loads((ROOT / "cluster_spec.schema.json").read_text())
    assert committed == ClusterSpec.model_json_schema(by_alias=True)
    assert SPEC.read_text().startswith("# yaml-language-server: $schema=./cluster_spec.schema.json")


@pytest.mark.parametrize("foreign", [".git/config", "README.md", "notes/todo.txt"])
def test_synth_never_replaces_a_folder_it_did_not_write(workdir, foreign):
    """`--out .` or a mistyped path must not wipe a checkout: only an empty folder, or one holding nothing but
    files this tool wrote (they all start with its header), may be replaced."""
    target = workdir / "dist" / foreign
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("mine\n")
    before = read_tree(workdir / "dist")
    result = run("synth", "--spec", workdir / "cluster_spec.yaml", "--out", workdir / "dist")
    assert result.exit_code == 2, result.output
    assert foreign in result.output and "not written by redis-gitops" in result.output
    assert read_tree(workdir / "dist") == before


def test_synth_writes_into_an_empty_folder(workdir):
    (workdir / "empty").mkdir()
    result = run("synth", "--spec", workdir / "cluster_spec.yaml", "--out", workdir / "empty")
    assert result.exit_code == 0, result.output
    assert read_tree(workdir / "empty") == read_tree(ROOT / "dist")


def test_a_spec_that_is_not_utf8_text_is_one_clear_line(workdir):
    (workdir / "cluster_spec.yaml").write_bytes(b"namespace: airflow\n\xff\xfe binary\n")
    result = run("synth", "--spec", workdir / "cluster_spec.yaml", "--out", workdir / "dist")
    assert result.exit_code == 2, result.output
    assert "cluster_spec.yaml:2" in result.output and "UTF-8" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["check", "policy"])
def test_unparseable_yaml_in_dist_is_named_with_its_line(workdir, command):
    (workdir / "dist" / "broken.yaml").write_text("kind: ConfigMap\nmetadata: [unclosed\n")
    # One name for the rendered folder on every command: --out.
    args = (
        ["--spec", workdir / "cluster_spec.yaml", "--out", workdir / "dist"]
        if command == "check"
        else ["--out", workdir / "dist"]
    )
    result = run(command, *args)
    assert result.exit_code == 2, result.output
    assert "broken.yaml:" in result.output and "not valid YAML" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["synth", "check"])
def test_without_nodejs_synth_and_check_say_how_to_install_it(workdir, command):
    """cdk8s runs its generator on Node.js; one that disappeared after the install is one clear line."""
    before = read_tree(workdir / "dist")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "redis_gitops.synth",
            command,
            "--spec",
            str(workdir / "cluster_spec.yaml"),
            "--out",
            str(workdir / "dist"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": str(workdir / "no-node-here")},
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert "Node.js" in run.stderr and "apt-get install -y nodejs" in run.stderr
    assert "Traceback" not in run.stderr
    assert read_tree(workdir / "dist") == before


def test_check_names_the_policy_findings_before_pointing_at_them(workdir):
    hand_edit_eviction(workdir)
    result = run("check", "--spec", workdir / "cluster_spec.yaml", "--out", workdir / "dist")
    assert result.exit_code == 1
    assert result.output.index("broker-noeviction") < result.output.index("see the findings above")


def test_an_unreadable_spec_is_not_reported_at_line_0(workdir):
    result = run("synth", "--spec", workdir / "missing.yaml", "--out", workdir / "dist")
    assert result.exit_code == 2
    assert "missing.yaml: cannot read the spec" in result.output and ":0:" not in result.output


def test_a_failed_swap_puts_the_old_tree_back(tmp_path, monkeypatch):
    """The second rename of replace_tree (staging -> dist) fails: dist/ is the old tree again, never missing."""
    import os

    from redis_gitops.synth import output

    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "old.yaml").write_text("old\n")
    real_rename = os.rename

    def rename(src, dst):
        if ".dist-new-" in str(src):
            raise OSError(28, "No space left on device")
        return real_rename(src, dst)

    monkeypatch.setattr(output.os, "rename", rename)
    with pytest.raises(OSError):
        output.replace_tree(dist, {"new.yaml": "new\n"})
    assert read_tree(dist) == {"old.yaml": "old\n"}
    assert [p.name for p in tmp_path.iterdir()] == ["dist"]  # no staging or retired folder left behind


def test_without_jsii_type_checks_the_rendering_is_the_same(tmp_path):
    """The CLI renders with jsii's run-time type checks off (synth/jsii_checks.py; the suite keeps them on):
    they check, they do not change what is rendered."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_GITOPS_JSII_TYPE_CHECKS"}
    env["REDIS_GITOPS_CACHE"] = str(tmp_path / "cache")  # rendered now, not taken from the suite's cache
    probe = "from redis_gitops.synth.jsii_checks import skip_type_checks; print(skip_type_checks())"
    assert subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True).stdout == "True\n"
    synth = subprocess.run(
        [sys.executable, "-m", "redis_gitops.synth", "synth", "--spec", str(SPEC), "--out", str(tmp_path / "dist")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert synth.returncode == 0, synth.stderr
    assert read_tree(tmp_path / "dist") == read_tree(ROOT / "dist")
