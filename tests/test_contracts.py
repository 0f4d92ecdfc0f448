"""The environment contracts (contracts/pod_env.py) hold everywhere they are spelled: the StatefulSet, the local
cluster, lib.sh's header and its required variables, the smoke Job and what runtime/ reads."""

import re

from redis_gitops.contracts import pod_env, pod_scripts
from redis_gitops.contracts.rules import RULE_IDS
from redis_gitops.devcluster.local_cluster import LocalCluster, Node
from redis_gitops.policies.engine import RULES

from conftest import ROOT

REQUIRED = set(pod_env.POD_SCRIPT_ENV) - set(pod_env.OPTIONAL_POD_SCRIPT_ENV)


def container_env(sts, name: str) -> set[str]:
    containers = sts["spec"]["template"]["spec"]["containers"]
    return {e["name"] for c in containers if c["name"] == name for e in c.get("env", [])}


def test_the_statefulset_sets_the_pod_scripts_contract(sts):
    for container in ("redis", "sentinel"):
        names = container_env(sts, container) - {"POD_NAME"}  # POD_NAME: the downward API, to build SELF_HOST
        assert names <= set(pod_env.POD_SCRIPT_ENV), names - set(pod_env.POD_SCRIPT_ENV)
        assert REQUIRED <= names, REQUIRED - names


def test_the_local_cluster_sets_the_same_contract(spec, tmp_path):
    cluster = LocalCluster(spec, ROOT / "dist", tmp_path)
    cluster.state = type(
        "State",
        (),
        {
            "redis_port": 6379,
            "sentinel_port": 26379,
            "master_name": "m",
            "password_file": str(tmp_path / "secrets" / "redis-password"),
            "tls_dir": str(tmp_path / "tls"),
        },
    )()
    names = set(cluster.env(Node(0, "127.0.0.1"), "redis")) - {"PATH"}
    assert "TLS_DIR" in names  # a cluster with TLS hands its certificates to the pod scripts
    assert names <= set(pod_env.POD_SCRIPT_ENV), names - set(pod_env.POD_SCRIPT_ENV)
    assert REQUIRED <= names, REQUIRED - names


def _required(*scripts: str) -> set[str]:
    return set(re.findall(r'"\$\{([A-Z_]+):\?\}"', "".join(pod_scripts.text(n) for n in scripts)))


def test_lib_sh_documents_the_contract_and_requires_only_what_it_names():
    lib = pod_scripts.text("lib.sh")
    assert pod_env.lib_sh_header() in lib
    required = _required(*(n for n in pod_scripts.POD_NAMES if n != "exporter-auth.sh"))
    assert required <= set(pod_env.POD_SCRIPT_ENV), required - set(pod_env.POD_SCRIPT_ENV)
    backup = _required("backup.sh") - set(pod_env.POD_SCRIPT_ENV)
    assert backup == set(pod_env.BACKUP_ENV) - {"BACKUP_TIMEOUT_SECONDS", "BACKUP_WAIT_SECONDS"}
    for name in pod_env.BACKUP_ENV:
        assert name in pod_scripts.text("backup.sh"), name
    restore = _required("restore.sh") - set(pod_env.POD_SCRIPT_ENV)
    assert restore == set(pod_env.RESTORE_ENV) - {"RESTORE_SYNC_SECONDS"}
    for name in pod_env.RESTORE_ENV:
        assert name in pod_scripts.text("restore.sh"), name


def test_the_exporter_init_container_gets_exactly_what_its_script_requires_and_documents(sts):
    script = pod_scripts.text("exporter-auth.sh")
    assert _required("exporter-auth.sh") == set(pod_env.EXPORTER_AUTH_ENV)
    for name, meaning in pod_env.EXPORTER_AUTH_ENV.items():
        assert re.search(rf"^#\s+{name}\s+{re.escape(meaning)}$", script, re.M), name
    [init] = sts["spec"]["template"]["spec"]["initContainers"]
    assert {e["name"] for e in init["env"]} == set(pod_env.EXPORTER_AUTH_ENV)


def test_the_scripts_read_the_password_files_the_pods_mount():
    from redis_gitops.contracts.paths import (
        AIRFLOW_PASSWORD_FILE,
        ALSO_ACCEPTED_SUFFIX,
        REDIS_PASSWORD_FILE,
        SENTINEL_PASSWORD_FILE,
        acl_password_file,
    )

    lib, start = pod_scripts.text("lib.sh"), pod_scripts.text("start-redis.sh")
    assert f"$(secret {REDIS_PASSWORD_FILE})" in lib and f"$(secret {SENTINEL_PASSWORD_FILE})" in lib
    assert '"$CONFIG_DIR"/*.acl' in start and '$(accepted "$role-password")' in start  # <role>.acl, <role>-password
    # accepted reads the file and, during a rotation, the file the servers' containers mount beside it.
    assert '$(secret "$1")' in lib and f'"$SECRETS_DIR/$1{ALSO_ACCEPTED_SUFFIX}"' in lib
    assert acl_password_file("airflow.acl") == AIRFLOW_PASSWORD_FILE
    # exporter-auth.sh reads the files EXPORTER_TARGETS names (tests/test_password_files.py holds those).
    assert 'file="$SECRETS_DIR/${pair#*=}"' in pod_scripts.text("exporter-auth.sh")


def test_the_smoke_job_sets_what_runtime_reads(objects):
    job = next(o for (kind, _), o in objects.items() if kind == "Job")
    set_by_job = {e["name"] for c in job["spec"]["template"]["spec"]["containers"] for e in c["env"]}
    assert set(pod_env.SMOKE_ENV) - set(pod_env.OPTIONAL_SMOKE_ENV) <= set_by_job <= set(pod_env.SMOKE_ENV)
    source = "".join(p.read_text() for p in (ROOT / "runtime").glob("*.py"))
    read = set(re.findall(r'env(?:\.get\(|\[|var=)"([A-Z_]+)"', source))
    assert read and read <= set(pod_env.SMOKE_ENV), read - set(pod_env.SMOKE_ENV)


def test_the_gate_registers_exactly_the_rule_ids_the_spec_knows():
    assert list(RULES) == list(RULE_IDS)


def test_every_acl_file_in_the_config_map_has_its_password_file_in_the_redis_container(objects, sts):
    from redis_gitops.contracts.paths import SECRETS_DIR, acl_password_file

    acls = [k for k in objects[("ConfigMap", "redis-config")]["data"] if k.endswith(".acl")]
    assert sorted(acls) == ["airflow.acl", "exporter.acl", "keda.acl", "sentinel.acl", "smoke.acl"]
    pod = sts["spec"]["template"]["spec"]
    redis = next(c for c in pod["containers"] if c["name"] == "redis")
    mount = next(m for m in redis["volumeMounts"] if m["mountPath"] == SECRETS_DIR)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    files = {i["path"] for s in volume["projected"]["sources"] for i in s["secret"]["items"]}
    assert {acl_password_file(a) for a in acls} <= files
    sentinel_acls = [k for k in objects[("ConfigMap", "redis-config")]["data"] if k.endswith(".sentinel-acl")]
    assert sorted(sentinel_acls) == [
        "airflow.sentinel-acl",
        "exporter.sentinel-acl",
        "keda.sentinel-acl",
        "smoke.sentinel-acl",
    ]
    sentinel = next(c for c in pod["containers"] if c["name"] == "sentinel")
    mount = next(m for m in sentinel["volumeMounts"] if m["mountPath"] == SECRETS_DIR)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    files = {i["path"] for s in volume["projected"]["sources"] for i in s["secret"]["items"]}
    assert {acl_password_file(a) for a in sentinel_acls} <= files


def test_backup_upload_sh_documents_and_requires_exactly_its_contract():
    script = pod_scripts.text("backup-upload.sh")
    assert _required("backup-upload.sh") <= set(pod_env.BACKUP_UPLOAD_ENV)
    header = script.split("\nset -eu", 1)[0]
    assert all(f"#   {name} " in header for name in pod_env.BACKUP_UPLOAD_ENV)
