"""Passwords reach every process as files from mounted Secrets, never as environment variables (checkov
CKV_K8S_35, the Bitnami chart's usePasswordFiles): an env var leaks into `kubectl describe`, crash dumps and
every child process."""

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from redis_gitops.contracts.paths import REDIS_PASSWORD_FILE, SCRIPTS_DIR, SECRETS_DIR, SENTINEL_PASSWORD_FILE
from redis_gitops.contracts.pod_scripts import FOLDER as SCRIPTS

HOSTILE = "p\"a\\ss '$(x) w#rd"


def pod_specs(objects):
    for (kind, name), obj in objects.items():
        template = (obj.get("spec") or {}).get("template")
        if template and "containers" in template.get("spec", {}):
            yield f"{kind}/{name}", template["spec"]


def all_containers(pod):
    return [*pod.get("initContainers", []), *pod["containers"]]


def by_name(pod):
    return {c["name"]: c for c in all_containers(pod)}


def env(c):
    return {e["name"]: e.get("value") for e in c.get("env", [])}


def mounted_secret_files(pod, c, mount_path):
    """The files a container sees under mount_path, as {file: (secret, key)}, from Secret-backed volumes only."""
    [mount] = [m for m in c["volumeMounts"] if m["mountPath"] == mount_path]
    assert mount.get("readOnly") is True, c["name"]
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    files = {}
    for source in volume["projected"]["sources"]:
        for item in source["secret"]["items"]:
            files[item["path"]] = (source["secret"]["name"], item["key"])
    return files


def test_no_container_takes_a_password_from_its_environment(objects):
    for where, pod in pod_specs(objects):
        for c in all_containers(pod):
            from_secrets = [e["name"] for e in c.get("env", []) if "secretKeyRef" in (e.get("valueFrom") or {})]
            assert from_secrets == [], (where, c["name"])
            assert not any("secretRef" in e for e in c.get("envFrom", [])), (where, c["name"])


def test_redis_and_sentinel_read_their_passwords_from_a_read_only_secret_mount(sts, spec):
    pod = sts["spec"]["template"]["spec"]
    redis_auth = (spec.auth.redis_password.secret_name, spec.auth.redis_password.key)
    sentinel_auth = (spec.auth.sentinel_password.secret_name, spec.auth.sentinel_password.key)
    airflow = (spec.airflow.password.secret_name, spec.airflow.password.key)
    keda = (spec.airflow.keda.password.secret_name, spec.airflow.keda.password.key)
    containers = by_name(pod)
    for name in ("redis", "sentinel"):
        assert env(containers[name])["SECRETS_DIR"] == SECRETS_DIR
    exporter = (spec.monitoring.exporter.password.secret_name, spec.monitoring.exporter.password.key)
    smoke = (spec.smoke.password.secret_name, spec.smoke.password.key)
    assert mounted_secret_files(pod, containers["redis"], SECRETS_DIR) == {
        REDIS_PASSWORD_FILE: redis_auth,
        SENTINEL_PASSWORD_FILE: sentinel_auth,
        "airflow-password": airflow,
        "keda-password": keda,
        "exporter-password": exporter,
        "smoke-password": smoke,
    }
    # Sentinel reads the passwords of its clients' users (Airflow and KEDA discover, the exporter and the smoke Job
    # read state), and never Redis's admin password: it reaches Redis as its own user, with the Sentinel password.
    assert mounted_secret_files(pod, containers["sentinel"], SECRETS_DIR) == {
        SENTINEL_PASSWORD_FILE: sentinel_auth,
        "airflow-password": airflow,
        "keda-password": keda,
        "exporter-password": exporter,
        "smoke-password": smoke,
    }
    for volume in pod["volumes"]:
        if "projected" in volume:
            assert volume["projected"]["defaultMode"] == 0o440


def test_the_smoke_job_reads_password_files(objects, spec):
    pod = objects[("Job", f"{spec.name}-smoke")]["spec"]["template"]["spec"]
    [c] = pod["containers"]
    files = mounted_secret_files(pod, c, SECRETS_DIR)
    assert env(c)["REDIS_PASSWORD_FILE"] == env(c)["REDIS_SENTINEL_PASSWORD_FILE"] == f"{SECRETS_DIR}/smoke-password"
    assert files == {"smoke-password": (spec.smoke.password.secret_name, spec.smoke.password.key)}


def test_each_exporter_finds_its_password_in_the_file_its_init_container_writes(sts):
    containers = by_name(sts["spec"]["template"]["spec"])
    init = env(containers["exporter-auth"])
    targets = dict(pair.split("=", 1) for pair in init["EXPORTER_TARGETS"].split())
    for name in ("exporter", "sentinel-exporter"):
        assert env(containers[name])["REDIS_PASSWORD_FILE"] == init["EXPORTER_PASSWORD_FILE"]
        assert env(containers[name])["REDIS_ADDR"] in targets
    # Both exporters use their own ACL user's password (on Redis and on the Sentinel), never an admin password.
    assert env(containers["sentinel-exporter"])["REDIS_USER"] == env(containers["exporter"])["REDIS_USER"]
    assert set(targets.values()) == {"exporter-password"}
    mounted = {m["mountPath"]: m["name"] for m in containers["exporter-auth"]["volumeMounts"]}
    volume = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == mounted[SECRETS_DIR])
    assert {i["path"] for s in volume["projected"]["sources"] for i in s["secret"]["items"]} == set(targets.values())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _metrics(url: str, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                return reply.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_the_exporters_authenticate_to_redis_and_sentinel_with_the_file_their_init_container_writes(
    sts, files, spec, tmp_path
):
    """The init container's script and Debian's redis_exporter, run with the rendered environment (paths moved
    under tmp_path, ports moved to free ones), against a real Redis (with the rendered exporter ACL user) and a
    real Sentinel, all with hostile passwords."""
    from ruamel.yaml import YAML

    containers = by_name(sts["spec"]["template"]["spec"])
    config = YAML(typ="safe").load(files["redis-config-configmap.yaml"].split("\n---\n")[-1])["data"]
    redis_port, sentinel_port = _free_port(), _free_port()

    def local(value: str) -> str:
        value = value.replace(f":{spec.redis.port}", f":{redis_port}").replace(
            f":{spec.sentinel.port}", f":{sentinel_port}"
        )
        return str(tmp_path) + value if value.startswith("/") else value

    secrets = tmp_path / SECRETS_DIR.lstrip("/")
    secrets.mkdir(parents=True)
    (secrets / "exporter-password").write_text(HOSTILE)
    init = containers["exporter-auth"]
    for mount in init["volumeMounts"]:
        (tmp_path / mount["mountPath"].lstrip("/")).mkdir(parents=True, exist_ok=True)
    assert init["command"][:2] == ["sh", f"{SCRIPTS_DIR}/exporter-auth.sh"]
    init_env = {k: local(v) for k, v in env(init).items()}
    run = subprocess.run(
        ["sh", str(SCRIPTS / "exporter-auth.sh")],
        env={"PATH": "/usr/bin:/bin", **init_env},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert run.returncode == 0, run.stderr
    written = Path(init_env["EXPORTER_PASSWORD_FILE"])
    assert oct(written.stat().st_mode & 0o777) == "0o600"
    redis_addr, sentinel_addr = (local(env(containers[c])["REDIS_ADDR"]) for c in ("exporter", "sentinel-exporter"))
    assert json.loads(written.read_text())[redis_addr] == HOSTILE
    assert json.loads(written.read_text())[sentinel_addr] == HOSTILE

    def conf_string(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    (tmp_path / "redis.conf").write_text(
        f'port {redis_port}\nbind 127.0.0.1\nsave ""\nrequirepass admin-pw\n'
        f"{config['exporter.acl'].strip()} {conf_string('>' + HOSTILE)}\n"
    )
    (tmp_path / "sentinel.conf").write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\nrequirepass sentinel-admin-pw\n"
        f"{config['exporter.sentinel-acl'].strip()} {conf_string('>' + HOSTILE)}\n"
        f"sentinel monitor m 127.0.0.1 {redis_port} 1\nsentinel auth-pass m admin-pw\n"
    )
    procs = [
        subprocess.Popen(["redis-server", str(tmp_path / "redis.conf")], stdout=subprocess.DEVNULL, cwd=tmp_path),
        subprocess.Popen(["redis-sentinel", str(tmp_path / "sentinel.conf")], stdout=subprocess.DEVNULL),
    ]
    try:
        scraped = {}
        for name in ("exporter", "sentinel-exporter"):
            c, web_port = containers[name], _free_port()
            exporter_env = {k: local(v) for k, v in env(c).items()}
            exporter_env["REDIS_EXPORTER_WEB_LISTEN_ADDRESS"] = f"127.0.0.1:{web_port}"
            procs.append(
                subprocess.Popen(
                    ["prometheus-redis-exporter", *c.get("args", [])],
                    env={"PATH": "/usr/bin:/bin", **exporter_env},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            deadline = time.monotonic() + 15
            while "redis_up 1" not in (text := _metrics(f"http://127.0.0.1:{web_port}/metrics", deadline)):
                assert time.monotonic() < deadline, [line for line in text.splitlines() if "redis_up" in line]
                time.sleep(0.2)
            scraped[name] = text
        assert 'redis_key_size{db="db0",key="default"} 0' in scraped["exporter"]
        assert "redis_sentinel_masters 1" in scraped["sentinel-exporter"]
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)


@pytest.mark.parametrize("password", ["line\nbreak", "tab\there"])
def test_a_password_json_cannot_carry_as_written_costs_the_metrics_not_the_pod(tmp_path, password):
    """An init container that fails keeps Redis from starting: the broker matters more than its metrics."""
    (tmp_path / REDIS_PASSWORD_FILE).write_text(password)
    (tmp_path / SENTINEL_PASSWORD_FILE).write_text("fine")
    run = subprocess.run(
        ["sh", str(SCRIPTS / "exporter-auth.sh")],
        capture_output=True,
        text=True,
        timeout=10,
        env={
            "PATH": "/usr/bin:/bin",
            "SECRETS_DIR": str(tmp_path),
            "EXPORTER_TARGETS": f"redis://a:1={REDIS_PASSWORD_FILE} redis://a:2={SENTINEL_PASSWORD_FILE}",
            "EXPORTER_PASSWORD_FILE": str(tmp_path / "out.json"),
        },
    )
    assert run.returncode == 0, run.stderr
    assert f"{tmp_path}/{REDIS_PASSWORD_FILE}" in run.stderr and "control character" in run.stderr
    assert json.loads((tmp_path / "out.json").read_text()) == {"redis://a:2": "fine"}
