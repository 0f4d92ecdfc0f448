"""`tls.enabled` renders a broker that speaks TLS only, and every client of ours that speaks it too: the
servers' configs, the certificate (cert-manager), the pods' mounts and TLS_DIR, the exporters, the smoke Job,
KEDA and Airflow. The gate passes on it, and refuses a plain port left open or a client left plain."""

import copy
import subprocess
import sys

import pytest

from redis_gitops.policies.engine import evaluate
from redis_gitops.policies.manifests import Manifests
from redis_gitops.synth.naming import Names

from conftest import ROOT, SPEC, TLS_SECTION, pod_specs


def conf(files, key):
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(files["redis-config-configmap.yaml"])["data"][key]


def directives(text):
    return [line.split() for line in text.splitlines() if line and not line.startswith("#")]


def test_redis_and_sentinel_listen_on_tls_only_and_replicate_over_it(tls_files, tls_spec):
    for key, port in (("redis.conf", tls_spec.redis.port), ("sentinel.conf", tls_spec.sentinel.port)):
        d = directives(conf(tls_files, key))
        assert ["port", "0"] in d and ["tls-port", str(port)] in d, key
        assert ["tls-replication", "yes"] in d and ["tls-auth-clients", "no"] in d, key


def test_without_tls_nothing_changes(files):
    assert "tls" not in conf(files, "redis.conf") and "tls" not in conf(files, "sentinel.conf")
    assert not any("TLS" in name or "tls" in name for name in files)


def test_the_certificate_names_every_pod_both_services_and_the_loopback_address(tls_objects, tls_spec):
    names = Names(tls_spec)
    cert = tls_objects[("Certificate", names.certificate)]["spec"]
    assert cert["secretName"] == names.tls_secret == "redis-tls"
    assert cert["issuerRef"] == {"name": "redis-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert set(names.pod_fqdns) <= set(cert["dnsNames"])
    for service in (names.headless_service, names.sentinel_service):
        assert {service, f"{service}.airflow.svc", f"{service}.airflow.svc.cluster.local"} <= set(cert["dnsNames"])
    assert cert["ipAddresses"] == ["127.0.0.1"] and "localhost" in cert["dnsNames"]
    assert {"server auth", "client auth"} <= set(cert["usages"])


def test_every_container_that_dials_the_broker_mounts_the_certificate_and_says_so(tls_objects):
    seen = set()
    for name, pod in pod_specs(tls_objects):
        tls_volumes = [v for v in pod["volumes"] if v["name"] == "tls"]
        for c in pod["containers"]:
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
            wanted = {
                "TLS_DIR": "/tls",
                "REDIS_EXPORTER_TLS_CA_CERT_FILE": "/tls/ca.crt",
                "REDIS_TLS_CA_FILE": "/tls/ca.crt",
            }
            if "SECRETS_DIR" in env and "REDIS_PORT" in env or "REDIS_ADDR" in env or "REDIS_SENTINELS" in env:
                assert any(env.get(k) == v for k, v in wanted.items()), (name, c["name"])
                assert mounts["tls"]["mountPath"] == "/tls" and mounts["tls"]["readOnly"], (name, c["name"])
                assert tls_volumes == [{"name": "tls", "secret": {"secretName": "redis-tls", "defaultMode": 0o440}}]
                seen.add(c["name"])
            if "REDIS_ADDR" in env:
                assert env["REDIS_ADDR"].startswith("rediss://127.0.0.1:"), c["name"]
    assert seen == {"redis", "sentinel", "exporter", "sentinel-exporter", "smoke", "backup"}


def test_the_exporters_password_file_is_keyed_by_their_tls_addresses(tls_objects):
    sts = tls_objects[("StatefulSet", "redis")]["spec"]["template"]["spec"]
    [auth] = sts["initContainers"]
    targets = next(e["value"] for e in auth["env"] if e["name"] == "EXPORTER_TARGETS")
    assert targets.split() == [
        "rediss://127.0.0.1:6379=exporter-password",
        "rediss://exporter@127.0.0.1:6379=exporter-password",
        "rediss://127.0.0.1:26379=exporter-password",
        "rediss://exporter@127.0.0.1:26379=exporter-password",
    ]


def test_keda_and_airflow_verify_the_broker_with_the_ca(tls_objects, tls_files, tls_spec):
    trigger = tls_objects[("ScaledObject", "redis-airflow-workers")]["spec"]["triggers"][0]["metadata"]
    assert trigger["enableTLS"] == "true" and trigger["unsafeSsl"] == "false"
    auth = tls_objects[("TriggerAuthentication", "redis-airflow-workers")]["spec"]["secretTargetRef"]
    assert {"parameter": "ca", "name": "redis-tls", "key": "ca.crt"} in auth
    from redis_gitops.synth.airflow_config import helm_values

    values = helm_values(tls_spec)
    mount = tls_spec.airflow.secrets_mount_path
    assert (
        values["config"]["celery"].items()
        >= {"ssl_active": "True", "ssl_mutual_tls": "False", "ssl_cacert": f"{mount}/ca.crt"}.items()
    )
    sources = values["volumes"][0]["projected"]["sources"]
    assert {"secret": {"name": "redis-tls", "items": [{"key": "ca.crt", "path": "ca.crt"}]}} in sources
    kwargs_cmd = next(e["value"] for e in values["env"] if e["name"].endswith("SENTINEL_KWARGS_CMD"))
    assert kwargs_cmd.endswith(f"--tls-ca-file {mount}/ca.crt")


def test_the_sentinel_kwargs_command_adds_tls_for_airflow(tmp_path):
    (tmp_path / "pw").write_text("s3cret\n")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "redis_gitops_airflow.broker_url",
            "sentinel-kwargs",
            "--password-file",
            str(tmp_path / "pw"),
            "--tls-ca-file",
            "/ca.crt",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    import json

    assert json.loads(out.stdout) == {
        "password": "s3cret",
        "ssl": True,
        "ssl_ca_certs": "/ca.crt",
        "ssl_cert_reqs": "required",
    }


def test_the_airflow_package_and_the_generator_agree_on_sentinel_tls():
    from redis_gitops.contracts.broker_url import tls_kwargs as ours
    from redis_gitops_airflow.broker_url import sentinel_tls_kwargs as theirs

    assert ours("/x/ca.crt") == theirs("/x/ca.crt") and ours(None) == theirs(None) == {}


def test_synth_and_the_gate_pass_on_a_tls_spec(tmp_path):
    """The whole pipeline: the Certificate validated against cert-manager's schema, the TLS rules pass."""
    spec = tmp_path / "cluster_spec.yaml"
    spec.write_text(SPEC.read_text() + TLS_SECTION)
    cli = [str(ROOT / ".venv" / "bin" / "redis-gitops")] if (ROOT / ".venv").exists() else ["redis-gitops"]
    for step in ("synth", "check"):
        run = subprocess.run(
            [*cli, step, "--spec", str(spec), "--out", str(tmp_path / "dist")],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "0 error(s)" in run.stdout and (tmp_path / "dist" / "redis-certificate.yaml").exists()


@pytest.fixture(scope="module")
def tls_base(tls_files):
    return Manifests.from_files(tls_files)


def edit(m, key, old, new):
    config = next(o.doc for o in m.objects if o.kind == "ConfigMap" and o.ref.name == "redis-config")
    assert old in config["data"][key]
    config["data"][key] = config["data"][key].replace(old, new)


def sts_container(m, name):
    sts = next(o.doc for o in m.objects if o.kind == "StatefulSet")
    return next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == name)


TLS_MUTATIONS = {
    "plain port left open": (
        "security-tls-only",
        lambda m: edit(m, "redis.conf", "port 0\n", "port 6379\n"),
        "redis.conf enables TLS (tls-port 6379) but leaves the plain port 6379 open",
    ),
    "sentinel plain": (
        "security-tls-only",
        lambda m: edit(m, "sentinel.conf", "port 0\n", ""),
        "sentinel.conf enables TLS (tls-port 26379) but leaves the plain port",
    ),
    "replication plain": (
        "security-tls-only",
        lambda m: edit(m, "redis.conf", "tls-replication yes", "tls-replication no"),
        "not for replication",
    ),
    "pod scripts plain": (
        "security-tls-clients",
        lambda m: sts_container(m, "sentinel").update(
            env=[e for e in sts_container(m, "sentinel")["env"] if e["name"] != "TLS_DIR"]
        ),
        "container sentinel runs the pod scripts without TLS_DIR",
    ),
    "exporter plain": (
        "security-tls-clients",
        lambda m: next(e for e in sts_container(m, "exporter")["env"] if e["name"] == "REDIS_ADDR").update(
            value="redis://127.0.0.1:6379"
        ),
        "container exporter scrapes redis://127.0.0.1:6379 without TLS",
    ),
    "keda plain": (
        "security-tls-clients",
        lambda m: next(o.doc for o in m.objects if o.kind == "ScaledObject")["spec"]["triggers"][0]["metadata"].pop(
            "enableTLS"
        ),
        "KEDA's trigger reads the queues without TLS",
    ),
    "airflow plain": (
        "security-tls-clients",
        lambda m: m.airflow_values.doc["config"]["celery"].pop("ssl_active"),
        "Airflow's Celery reaches the broker without TLS",
    ),
}


def test_the_tls_rendering_passes_every_rule(tls_base):
    assert [
        (f.rule, f.message)
        for f in evaluate(Manifests(copy.deepcopy(tls_base.objects), copy.deepcopy(tls_base.airflow_values))).findings
    ] == []


@pytest.mark.parametrize("case", sorted(TLS_MUTATIONS))
def test_the_gate_refuses_a_half_tls_broker(tls_base, case):
    rule_id, mutate, message = TLS_MUTATIONS[case]
    m = Manifests(copy.deepcopy(tls_base.objects), copy.deepcopy(tls_base.airflow_values))
    mutate(m)
    findings = evaluate(m).findings
    assert {f.rule for f in findings} == {rule_id}, [(f.rule, f.message) for f in findings]
    assert any(message in f.message for f in findings), [f.message for f in findings]
