"""`redis-gitops init` adopts a broker into the GitOps repository a team already has, in one pull request: into
an empty git repository, then that repository's own `make synth`, `check` and `plan` pass."""

import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from redis_gitops.synth.cli import app
from redis_gitops.synth.spec_loader import load_spec
from redis_gitops.synth.starter_kit import TOOL_REPOSITORY, VENV

from conftest import ROOT, SPEC

TOOL = Path(sys.executable).parent / "redis-gitops"  # the installed redis-gitops, in place of the pinned one
FOLDER = "platform/airflow-broker"


def git(repo, *args):
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        check=True,
        capture_output=True,
        text=True,
    )


def make(folder, *targets):
    return subprocess.run(
        ["make", "-C", str(folder), *targets, f"REDIS_GITOPS={TOOL}"], capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def team_repo(tmp_path):
    """An empty git repository with the broker initialised in a folder of it."""
    repo = tmp_path / "gitops"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    result = CliRunner().invoke(app, ["init", str(repo / FOLDER), "--repo-url", "https://github.com/acme/gitops.git"])
    assert result.exit_code == 0, result.output
    return repo


def test_init_writes_the_spec_the_environments_folder_a_makefile_and_a_workflow(team_repo):
    broker = team_repo / FOLDER
    spec = load_spec(broker / "cluster_spec.yaml")
    assert spec.gitops.repo_url == "https://github.com/acme/gitops.git"
    assert spec.gitops.path == f"{FOLDER}/dist"  # Argo CD reads the folder from the repository's root
    assert (broker / "environments" / "README.md").is_file()
    assert (broker / "cluster_spec.schema.json").read_text() == (ROOT / "cluster_spec.schema.json").read_text()
    assert "null" in (broker / "environment.schema.json").read_text()
    assert (broker / ".gitignore").read_text() == f"{VENV}/\n"
    workflow = YAML(typ="safe").load(
        (team_repo / ".github/workflows/redis-broker-platform-airflow-broker.yml").read_text()
    )
    job = workflow["jobs"]["broker"]
    assert job["uses"].startswith(f"{TOOL_REPOSITORY}/.github/workflows/gate.yml@v")
    assert job["with"]["folder"] == FOLDER
    assert job["with"]["tool-source"].startswith(f"redis-gitops @ git+https://github.com/{TOOL_REPOSITORY}@v")
    assert workflow["on"]["pull_request"]["paths"] == [f"{FOLDER}/**"]


def test_the_workflows_pass_actionlint(team_repo):
    actionlint = Path(sys.executable).parent / "actionlint"
    run = subprocess.run(
        [
            str(actionlint),
            *map(str, (team_repo / ".github/workflows").glob("*.yml")),
            str(ROOT / ".github/workflows/gate.yml"),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_starter_spec_is_the_repositorys_example(team_repo):
    written = (team_repo / FOLDER / "cluster_spec.yaml").read_text()
    example = SPEC.read_text()
    assert [a for a, b in zip(written.splitlines(), example.splitlines(), strict=True) if a != b] == [
        "  repoUrl: https://github.com/acme/gitops.git",
        f"  path: {FOLDER}/dist",
    ]


def test_the_new_repositorys_own_make_synth_check_and_plan_pass(team_repo):
    broker = team_repo / FOLDER
    synth = make(broker, "synth")
    assert synth.returncode == 0, synth.stdout + synth.stderr
    assert "check passed" in synth.stdout
    assert make(broker, "check").returncode == 0
    git(team_repo, "add", "-A")
    git(team_repo, "commit", "-qm", "the broker")
    # A second environment in the pull request: planned from the commit, from inside the folder.
    (broker / "environments" / "prod.yaml").write_text("namespace: airflow-prod\n")
    (broker / "environments" / "staging.yaml").write_text("namespace: airflow-staging\n")
    assert make(broker, "synth").returncode == 0
    plan = make(broker, "plan", "BASE=HEAD")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "== environment prod ==" in plan.stdout and "== environment staging ==" in plan.stdout


def test_init_never_overwrites(team_repo):
    spec = team_repo / FOLDER / "cluster_spec.yaml"
    spec.write_text(spec.read_text() + "# mine\n")
    again = CliRunner().invoke(app, ["init", str(team_repo / FOLDER), "--repo-url", "https://example.com/x.git"])
    assert again.exit_code == 2
    assert "exist(s) already; nothing was written" in again.output
    assert spec.read_text().endswith("# mine\n")


def test_a_plan_from_a_folder_of_the_repository_reads_that_folders_dist(team_repo, monkeypatch):
    """git_tree reads `dist/` relative to where the plan runs, not the repository's root."""
    from redis_gitops.synth.pipeline import git_tree

    broker = team_repo / FOLDER
    assert make(broker, "synth").returncode == 0
    git(team_repo, "add", "-A")
    git(team_repo, "commit", "-qm", "the broker")
    monkeypatch.chdir(broker)
    files = git_tree("HEAD", Path("dist"))
    assert files["redis-statefulset.yaml"] == (broker / "dist" / "redis-statefulset.yaml").read_text()
