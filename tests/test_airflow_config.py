"""What Airflow is given: no password anywhere in it, the form kombu and Airflow read, one source (the spec)."""

import json

from kombu.utils.url import url_to_parts
from ruamel.yaml import YAML

from redis_gitops.contracts.paths import AIRFLOW_HELM_VALUES
from redis_gitops.synth.airflow_config import cfg_sections, cfg_text, environment, helm_values, sentinel_addresses
from redis_gitops_airflow.broker_url import broker_url
from redis_gitops_airflow.broker_url import main as broker_url_main


def test_secret_options_are_commands_reading_mounted_files(spec):
    env = environment(cfg_sections(spec))
    assert "AIRFLOW__CELERY__BROKER_URL" not in env
    url_cmd = env["AIRFLOW__CELERY__BROKER_URL_CMD"]
    assert url_cmd.startswith("python -m redis_gitops_airflow.broker_url url")
    assert f"--password-file {spec.airflow.secrets_mount_path}/airflow-password" in url_cmd
    assert ",".join(sentinel_addresses(spec)) in url_cmd
    # Airflow's own user on the Sentinels too: the Sentinel password never reaches Airflow.
    assert env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__SENTINEL_KWARGS_CMD"].endswith(
        f"--username {spec.airflow.username} --password-file {spec.airflow.secrets_mount_path}/airflow-password "
        "--socket-timeout 0.5"
    )
    assert env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__MASTER_NAME"] == spec.sentinel.master_name
    assert env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] == "redis_gitops_airflow.celery_config.CELERY_CONFIG"
    assert env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] == spec.airflow.queues[0]


def test_broker_url_repeats_scheme_and_db_and_survives_any_password(tmp_path):
    password = "p@ss:w/rd;#%?"
    url = broker_url(["h0:26379", "h1:26379"], 3, password, "airflow")
    parts = url.split(";")
    assert len(parts) == 2 and all(p.startswith("sentinel://") and p.endswith("/3") for p in parts)
    parsed = url_to_parts(parts[0])
    assert (parsed.username, parsed.password, parsed.hostname, parsed.port) == ("airflow", password, "h0", 26379)


def test_broker_url_command_reads_the_file(tmp_path, capsys):
    (tmp_path / "pw").write_text("secret\n")
    broker_url_main(["sentinel-kwargs", "--password-file", str(tmp_path / "pw")])
    assert json.loads(capsys.readouterr().out) == {"password": "secret"}


def test_helm_values_in_dist_carry_no_password_and_mount_the_secrets(spec, files):
    values = YAML(typ="safe").load(files[AIRFLOW_HELM_VALUES])
    assert values == helm_values(spec)
    assert values["redis"] == {"enabled": False}
    assert values["enableBuiltInSecretEnvVars"] == {"AIRFLOW__CELERY__BROKER_URL": False}
    assert {e["name"] for e in values["env"]} == {
        "AIRFLOW__CELERY__BROKER_URL_CMD",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__SENTINEL_KWARGS_CMD",
    }
    assert values["config"]["celery_broker_transport_options"]["master_name"] == spec.sentinel.master_name
    sources = values["volumes"][0]["projected"]["sources"]
    assert {i["key"] for s in sources for i in s["secret"]["items"]} == {spec.airflow.password.key}
    assert values["volumeMounts"][0]["mountPath"] == spec.airflow.secrets_mount_path


def test_cfg_text_is_airflow_cfg(spec):
    text = cfg_text(cfg_sections(spec))
    assert "[celery]\n" in text and "[celery_broker_transport_options]\n" in text
    assert "broker_url_cmd = python -m redis_gitops_airflow.broker_url url" in text


def test_the_standalone_package_builds_the_same_url_as_the_project():
    """airflow_broker/ keeps its own copy (it installs alone into Airflow's image): the two must agree."""
    from redis_gitops.contracts.broker_url import sentinel_broker_url

    args = (["h0:26379", "h1:26379", "h2:26379"], 2, "p@ss:w/rd;#%? ", "airflow")
    assert broker_url(*args) == sentinel_broker_url(*args)
