"""`redis-gitops local up|status|down` and `smoke --local`, driven as a user would, in separate processes."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT


def cli(*args, check=True, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "redis_gitops.synth", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


def test_local_cluster_lifecycle_and_smoke(tmp_path):
    state = tmp_path / "local"
    try:
        up = cli("local", "up", "--dir", state, "--subnet", 41)
        assert "local cluster up: Redis 127.0.41.1:6379" in up.stdout
        status = json.loads(cli("local", "status", "--dir", state, "--json").stdout)
        assert [n["role"] for n in status["nodes"]] == ["master", "replica", "replica"]
        assert status["redis_password_file"].endswith("secrets/redis-password")
        smoke = cli("smoke", "--local", "--dir", state, "--json", check=False)
        report = json.loads(smoke.stdout)
        assert smoke.returncode == 0 and report["ok"] is True and len(report["checks"]) == 9
    finally:
        cli("local", "down", "--dir", state)
    status = json.loads(cli("local", "status", "--dir", state, "--json").stdout)
    assert {n["redis"] for n in status["nodes"]} == {"stopped"}
    smoke = cli("smoke", "--local", "--dir", state, check=False)
    assert smoke.returncode == 1 and "FAIL  redis_reachable" in smoke.stdout
    assert "<redis." not in smoke.stdout, smoke.stdout  # addresses, not redis-py object dumps


@pytest.mark.faults  # make faults: 13 s for a refusal; kept make test over 15 min
def test_a_second_cluster_on_a_busy_subnet_is_refused_clearly(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    try:
        cli("local", "up", "--dir", first, "--subnet", 42)
        run = cli("local", "up", "--dir", second, "--subnet", 42, check=False)
        assert run.returncode == 1
        assert "already in use: 127.0.42.1:6379, 127.0.42.1:26379" in run.stderr
        status = json.loads(cli("local", "status", "--dir", first, "--json").stdout)
        assert {n["redis"] for n in status["nodes"]} == {"running"}  # the first cluster is untouched
    finally:
        cli("local", "down", "--dir", first)
        cli("local", "down", "--dir", second)


@pytest.mark.faults  # make test's time budget (about 15 min): make faults runs it
def test_a_second_up_on_a_running_cluster_says_so_and_touches_nothing(tmp_path):
    state = tmp_path / "local"
    try:
        cli("local", "up", "--dir", state, "--subnet", 43)
        run = cli("local", "up", "--dir", state, "--subnet", 43, check=False)
        assert run.returncode == 1
        assert "already running" in run.stderr, run.stderr
        status = json.loads(cli("local", "status", "--dir", state, "--json").stdout)
        assert {n["redis"] for n in status["nodes"]} == {"running"}
        assert {n["sentinel"] for n in status["nodes"]} == {"running"}
    finally:
        cli("local", "down", "--dir", state)


@pytest.mark.faults  # make test's time budget (about 15 min): make faults runs it
def test_down_signals_only_the_processes_the_cluster_started(tmp_path):
    """A recorded PID may belong to another process by now (the cluster's died, the PID was reused)."""
    state = tmp_path / "local"
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        cli("local", "up", "--dir", state, "--subnet", 44)
        saved = json.loads((state / "state.json").read_text())
        gone = saved["nodes"][2]["redis_pid"]
        os.kill(gone, signal.SIGKILL)
        while os.path.exists(f"/proc/{gone}") and "Z" not in open(f"/proc/{gone}/stat").read().rsplit(")", 1)[1][:3]:
            time.sleep(0.05)
        saved["nodes"][2]["redis_pid"] = stranger.pid  # what a reused PID looks like in the state file
        (state / "state.json").write_text(json.dumps(saved))
        cli("local", "down", "--dir", state)
        time.sleep(0.3)
        assert stranger.poll() is None, "local down killed a process the cluster did not start"
    finally:
        stranger.kill()
        stranger.wait()
        cli("local", "down", "--dir", state)


def test_status_and_smoke_without_a_cluster_say_how_to_start_one(tmp_path):
    for args in (("local", "status", "--dir", tmp_path / "none"), ("smoke", "--local", "--dir", tmp_path / "none")):
        run = cli(*args, check=False)
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        assert "no local cluster" in run.stderr and "local up --dir" in run.stderr, run.stderr
        assert "Traceback" not in run.stderr


def test_version_and_short_help():
    version = cli("--version", check=False)
    assert version.returncode == 0 and version.stdout.startswith("redis-gitops ")
    short = cli("-h", check=False)
    assert short.returncode == 0 and "Usage" in short.stdout


def test_smoke_with_no_environment_suggests_the_local_cluster():
    run = subprocess.run(
        [sys.executable, "-m", "redis_gitops.synth", "smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert run.returncode == 2
    assert "REDIS_SENTINELS is not set" in run.stderr and "--local" in run.stderr


def test_policy_on_a_folder_without_the_broker_is_an_error(tmp_path):
    (tmp_path / "other.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    run = cli("policy", "--out", tmp_path, check=False)
    assert run.returncode == 2
    assert "no StatefulSet" in run.stderr


def test_the_local_cluster_folder_has_one_name_and_one_default_everywhere(tmp_path):
    """`--dir`, default .local-cluster, on `local` and on `smoke --local` and `monitor --local` alike. Run in an
    empty folder: a user's own `local up` in the checkout must not change what this test sees."""
    for args in (("smoke", "--local"), ("monitor", "export", "--local"), ("local", "status")):
        run = cli(*args, check=False, cwd=tmp_path)
        assert run.returncode == 2, (args, run.stderr)
        assert "no local cluster in .local-cluster" in run.stderr, (args, run.stderr)


@pytest.mark.parametrize(
    "command",
    [
        (),
        ("synth",),
        ("check",),
        ("policy",),
        ("docs",),
        ("schema",),
        ("airflow-config",),
        ("smoke",),
        ("monitor", "export"),
        ("local", "up"),
        ("backup", "now"),
        ("restore",),
    ],
)
def test_every_help_is_free_of_placeholder_noise(command):
    """`-h, --help` and flags without a `<bool>` value placeholder (typer's rich help printed `-h <bool>`)."""
    text = cli(*command, "--help").stdout
    assert "<bool>" not in text and "-h, --help" in text, text


def test_flags_show_no_value_placeholder_in_help():
    for args in (("smoke", "--help"), ("local", "status", "--help")):
        text = cli(*args).stdout
        flag_lines = [line for line in text.splitlines() if "--json" in line or "--local " in line]
        assert flag_lines and not any("<bool>" in line for line in flag_lines), flag_lines


def test_local_up_env_runs_that_environments_rendering(tmp_path):
    """`local up --env dev` runs dist/dev/: dev's own master name, not the base's, and its smoke checks pass."""
    import shutil

    shutil.copy(ROOT / "cluster_spec.yaml", tmp_path / "cluster_spec.yaml")
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "dev.yaml").write_text("namespace: airflow-dev\nsentinel:\n  masterName: devbroker\n")
    (tmp_path / "environments" / "prod.yaml").write_text("namespace: airflow-prod\n")
    cli("synth", cwd=tmp_path)
    state = tmp_path / "local"
    try:
        cli("local", "up", "--env", "dev", "--dir", state, "--subnet", 88, cwd=tmp_path)
        status = json.loads(cli("local", "status", "--dir", state, "--json").stdout)
        assert status["master_name"] == "devbroker"
        assert [n["role"] for n in status["nodes"]] == ["master", "replica", "replica"]
        smoke = cli("smoke", "--local", "--dir", state, "--json", check=False)
        assert smoke.returncode == 0, smoke.stdout
    finally:
        cli("local", "down", "--dir", state)
