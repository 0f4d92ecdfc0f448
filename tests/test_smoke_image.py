"""What the smoke image runs: `redis-gitops-smoke smoke` and `monitor` from the REDIS_* environment the Job
sets, with only the image's packages (runtime/, contracts/, redis_gitops_airflow) and dependencies (redis-py,
kombu, typer) importable."""

import json
import re
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest

from redis_gitops.contracts.paths import SMOKE_PASSWORD_FILE
from redis_gitops.devcluster.local_cluster import LocalCluster

from conftest import ROOT

# Run the image's entry point with everything the image lacks made unimportable: the generator, the gate, the
# development harness and their dependencies.
IMAGE_LIKE = """
import sys
BLOCKED = ("redis_gitops.synth", "redis_gitops.policies", "redis_gitops.devcluster", "redis_gitops.faults",
           "cdk8s", "cdk8s_plus_33", "constructs", "jsii", "ruamel", "jsonschema", "kubernetes_validate",
           "matplotlib", "airflow", "celery")  # (pydantic comes with typer; kombu and redis_gitops_airflow are in)
class Block:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"{name} is not in the smoke image")
sys.meta_path.insert(0, Block())
from redis_gitops.runtime.cli import main
sys.argv = ["redis-gitops-smoke", *sys.argv[1:]]
main()
"""


@pytest.fixture(scope="module")
def cluster(spec, tmp_path_factory):
    with LocalCluster(spec, ROOT / "dist", tmp_path_factory.mktemp("image-cluster"), subnet=61) as c:
        yield c


def job_env(cluster):
    """The variables the Job's manifest sets (its own user on Redis and on the Sentinels), pointed at the local
    cluster."""
    s = cluster.state
    smoke_password_file = str(Path(s.password_file).parent / SMOKE_PASSWORD_FILE)
    return {
        "PATH": "/usr/bin:/bin",
        "REDIS_MASTER_NAME": s.master_name,
        "REDIS_MAXMEMORY_POLICY": "noeviction",
        "REDIS_SENTINELS": ",".join(f"{h}:{p}" for h, p in s.sentinel_addresses),
        "REDIS_NODES": ",".join(f"{h}:{p}" for h, p in s.redis_addresses),
        # The Job's mounted Secret file, as the local cluster keeps it.
        "REDIS_USERNAME": "smoke",
        "REDIS_SENTINEL_USERNAME": "smoke",
        "REDIS_PASSWORD_FILE": smoke_password_file,
        "REDIS_SENTINEL_PASSWORD_FILE": smoke_password_file,
    }


def image_cli(env, *args):
    return subprocess.run(
        [sys.executable, "-c", IMAGE_LIKE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_smoke_passes_from_the_job_environment_without_synth_dependencies(cluster, objects):
    container = objects[("Job", "redis-smoke")]["spec"]["template"]["spec"]["containers"][0]
    job_args = container["args"]
    assert job_args == ["smoke", "--json", "--celery"]
    assert {e["name"]: e["value"] for e in container["env"]}["REDIS_USERNAME"] == job_env(cluster)["REDIS_USERNAME"]
    run = image_cli(job_env(cluster), *job_args)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["ok"] and len(report["checks"]) == 10
    celery = report["checks"][-1]
    assert celery["name"] == "celery_round_trip" and "consumed it back" in celery["detail"]


def test_smoke_with_a_wrong_password_fails_and_says_so(cluster, tmp_path):
    (tmp_path / "wrong").write_text("wrong")
    run = image_cli({**job_env(cluster), "REDIS_PASSWORD_FILE": str(tmp_path / "wrong")}, "smoke")
    assert run.returncode == 1
    assert re.search(r"FAIL  redis_reachable .*AuthenticationError", run.stdout)


def test_by_hand_a_password_may_come_from_the_environment(cluster):
    env = {k: v for k, v in job_env(cluster).items() if not k.endswith(("_FILE", "USERNAME"))}
    s = cluster.state
    run = image_cli(
        {**env, "REDIS_PASSWORD": s.redis_password, "REDIS_SENTINEL_PASSWORD": s.sentinel_password}, "smoke"
    )
    assert run.returncode == 0, run.stdout


def test_an_unreadable_password_file_is_a_clear_error(cluster, tmp_path):
    run = image_cli({**job_env(cluster), "REDIS_PASSWORD_FILE": str(tmp_path / "missing")}, "smoke")
    assert run.returncode == 2
    assert f"REDIS_PASSWORD_FILE={tmp_path / 'missing'}: cannot read it" in run.stderr


def test_a_missing_variable_is_a_clear_error(cluster):
    env = job_env(cluster)
    del env["REDIS_NODES"]
    run = image_cli(env, "smoke")
    assert run.returncode == 2 and "REDIS_NODES is not set" in run.stderr


def test_monitor_export_shows_roles_and_what_each_sentinel_thinks(cluster):
    run = image_cli(job_env(cluster), "monitor", "export")
    snap = json.loads(run.stdout)
    roles = sorted(n["role"] for n in snap["redis"])
    assert roles == ["master", "slave", "slave"]
    master = next(n["address"] for n in snap["redis"] if n["role"] == "master")
    assert {s["master"] for s in snap["sentinels"]} == {master}
    assert all(s["replicas"] == 2 and s["other_sentinels"] == 2 for s in snap["sentinels"])
    replica = next(n for n in snap["redis"] if n["role"] == "slave")
    assert replica["link"] == "up" and replica["lag_bytes"] >= 0 and replica["used_memory_bytes"] > 0


def test_monitor_dashboard_shows_a_stopped_sentinel(cluster):
    cluster.stop_process(2, "sentinel")
    try:
        run = image_cli(job_env(cluster), "monitor", "dashboard", "--count", "1")
        assert run.returncode == 0
        line = next(x for x in run.stdout.splitlines() if x.startswith(f"{cluster.state.nodes[2].host}:26379"))
        assert "DOWN" in line and "Sentinels agree on" in run.stdout
        assert "replica" in run.stdout and "slave" not in run.stdout  # the words people use
        assert "Ctrl-C" in run.stdout
    finally:
        cluster.start_process(2, "sentinel")
        cluster.wait_until_healthy(30)


def test_the_image_pins_what_pyproject_pins():
    pins = dict(d.split("==") for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    image = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "docker/smoke/requirements.txt").read_text(), re.M))
    assert image["redis"] == pins["redis"] and image["typer"] == pins["typer"] and image["kombu"] == pins["kombu"]
    assert not {"cdk8s", "ruamel.yaml", "jsonschema", "kubernetes-validate"} & set(image)


def test_the_dockerfile_uses_a_pinned_slim_base_and_a_non_root_user():
    text = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)$", text, re.M).group(1)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base), base
    user = re.search(r"^USER (\d+):(\d+)$", text, re.M)
    assert user and int(user.group(1)) >= 10000
    assert 'ENTRYPOINT ["redis-gitops-smoke"]' in text


# The newest 3.11 patch with a slim-bookworm image known here: docker-library/python versions.json at commit
# 4f07059 (2026-06-23). Bookworm keeps redis-tools at 7.0.15, the version the tests run.
NEWEST_KNOWN_BASE = (3, 11, 15)


def test_the_base_image_is_no_older_than_the_newest_known_patch():
    base = re.search(r"^FROM python:(\d+)\.(\d+)\.(\d+)-slim-bookworm$", (ROOT / "Dockerfile").read_text(), re.M)
    assert base, "the base must stay python:<x.y.z>-slim-bookworm"
    assert tuple(map(int, base.groups())) >= NEWEST_KNOWN_BASE


def test_the_image_holds_the_runtime_and_the_contracts_only():
    copied = re.findall(r"^COPY (\S+) \./", (ROOT / "Dockerfile").read_text(), re.M)
    packages = {c for c in copied if (ROOT / c / "__init__.py").exists()}
    assert packages == {"runtime", "contracts"}, copied
    assert "docker/smoke/pyproject.toml" in copied  # its own distribution, not the root project
    assert "airflow_broker" in copied  # the Sentinel connections shared with Airflow's transport, installed apart
    assert "pip install --no-deps ./airflow_broker ." in (ROOT / "Dockerfile").read_text()


def test_the_smoke_distribution_installs_the_runtime_the_contracts_and_one_script(tmp_path):
    """Built as the Dockerfile builds it (its pyproject.toml beside copies of runtime/ and contracts/)."""
    import shutil
    import zipfile

    shutil.copy(ROOT / "docker/smoke/pyproject.toml", tmp_path)
    for package in ("runtime", "contracts"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "w"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    [wheel] = (tmp_path / "w").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    packages = {"/".join(n.split("/")[:2]) for n in names if n.startswith("redis_gitops/")}
    assert tops == {"redis_gitops"} and packages == {"redis_gitops/runtime", "redis_gitops/contracts"}, names
    assert "redis_gitops/contracts/pod_scripts/prestop-redis.sh" in names  # the failover check runs it
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert re.findall(r"^(\S+) = ", entry_points, re.M) == ["redis-gitops-smoke"]


def test_the_workflow_publishes_the_image_the_job_pulls():
    """The Job pulls `redis-gitops smoke-image`'s reference: CI builds that tag and pushes it from main."""
    from ruamel.yaml import YAML

    job = YAML(typ="safe").load((ROOT / ".github/workflows/ci.yml").read_text())["jobs"]["smoke-image"]
    assert job["permissions"]["packages"] == "write"
    steps = " ".join(s.get("run", "") for s in job["steps"])
    assert "image=$(.venv/bin/redis-gitops smoke-image)" in steps and 'docker build -t "$image"' in steps
    push = next(s for s in job["steps"] if "docker push" in s.get("run", ""))
    assert "refs/heads/main" in push["if"] and "redis-gitops smoke-image" in push["run"]
    assert "docker login ghcr.io" in push["run"]


def test_smoke_waits_for_the_broker_within_its_bound(cluster):
    """Under Flux the Job is applied with everything else, not after it is healthy: with SMOKE_WAIT_SECONDS it
    retries until every check passes or the time is up, and says how long it waited."""
    replica = cluster.roles().index("slave")
    cluster.stop_process(replica, "redis")
    timer = threading.Timer(3.0, lambda: cluster.start_process(replica, "redis"))
    timer.start()
    try:
        started = time.monotonic()
        run = image_cli({**job_env(cluster), "SMOKE_WAIT_SECONDS": "40"}, "smoke")
        took = time.monotonic() - started
    finally:
        timer.join()
        cluster.wait_until_healthy(30)
    assert run.returncode == 0, run.stdout + run.stderr
    assert took >= 3 and "waited" in run.stdout


def test_smoke_gives_up_when_its_wait_is_spent(cluster):
    replica = cluster.roles().index("slave")
    cluster.stop_process(replica, "redis")
    try:
        started = time.monotonic()
        run = image_cli({**job_env(cluster), "SMOKE_WAIT_SECONDS": "3"}, "smoke")
        took = time.monotonic() - started
    finally:
        cluster.start_process(replica, "redis")
        cluster.wait_until_healthy(30)
    assert run.returncode == 1 and "FAIL" in run.stdout
    assert 2 <= took < 10  # retried (2 s steps) and stopped within the 3 s it was given
