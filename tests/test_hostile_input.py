"""Hostile specs are refused fast and cleanly: file:line, no traceback, within 2 s, dist/ untouched (the CLI's
atomic write is tested in test_local_cli/test_dist). Each case was accepted, hung or crashed before issue 21."""

import subprocess
import sys
import time

import pytest
from test_spec_rules import edit

from redis_gitops.synth.spec_loader import SpecError, parse_spec

from conftest import ROOT

S3 = """
  s3:
    endpoint: {endpoint}
    bucket: my-redis-backups
    accessKeyId: {{secretName: redis-backup-s3, key: access-key-id}}
    secretAccessKey: {{secretName: redis-backup-s3, key: secret-access-key}}
"""


def refused(text: str) -> list[str]:
    started = time.monotonic()
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "cluster_spec.yaml")
    assert time.monotonic() - started < 2
    problems = caught.value.problems
    assert problems and all(p.line > 0 for p in problems), [str(p) for p in problems]
    return [str(p) for p in problems]


@pytest.mark.parametrize(
    "old, new",
    [
        ("name: redis ", 'name: "redis\\n" '),
        ("namespace: airflow ", 'namespace: "airflow\\n" '),
        ("clusterDomain: cluster.local", 'clusterDomain: "cluster.local\\n"'),
        ('tag: "8.1.8"', 'tag: "8.1.8\\n"'),
        ("secretName: redis-auth\n    key: redis-password", 'secretName: "redis-auth\\n"\n    key: redis-password'),
        ("key: redis-password", 'key: "redis-password\\n"'),
        ("masterName: mymaster", 'masterName: "mymaster\\n"'),
    ],
)
def test_a_trailing_newline_is_refused(spec_text, old, new):
    """A newline inside a name would reach the pod scripts (a host name in the election, a sed program)."""
    refused(edit(spec_text, old, new))


def test_a_queue_name_with_a_newline_is_refused(spec_text):
    text = spec_text.replace("\nnetwork:", '\nairflow:\n  queues: ["default\\n"]\nnetwork:', 1)
    assert any("queue" in p for p in refused(text))


@pytest.mark.parametrize("replicas", ["1000000000", "100001", "17"])
def test_an_absurd_replica_count_is_refused(spec_text, replicas):
    text = edit(spec_text, "replicas: 3 ", f"replicas: {replicas} ")
    assert any("redis.replicas" in p for p in refused(text))


def test_a_huge_waiver_reason_is_refused(spec_text):
    text = edit(spec_text, "reason: IfNotPresent on purpose; an HA broker", "reason: " + "x" * 5000 + " an HA broker")
    assert any("reason" in p for p in refused(text))


def test_a_huge_spec_file_is_refused_before_it_is_parsed(spec_text):
    text = spec_text + ("# " + "x" * 1000 + "\n") * 5000  # 5 MB of comments
    [problem] = refused(text)
    assert "larger than" in problem


def test_deep_nesting_is_a_clear_error_not_a_traceback(spec_text):
    text = spec_text + "deep: " + "[" * 100_000 + "]" * 100_000 + "\n"
    assert refused(text)


def test_a_client_selector_that_admits_every_pod_is_refused(spec_text):
    text = edit(spec_text, "- podSelector: {tier: airflow}", "- podSelector: {}")
    assert any("podSelector" in p for p in refused(text))


@pytest.mark.parametrize(
    "endpoint",
    ["http://minio.storage:9000", "https://169.254.169.254", "https://[fe80::1]:9000", "https://127.0.0.1:9000"],
)
def test_an_s3_endpoint_must_be_https_and_not_link_local_or_loopback(spec_text, endpoint):
    text = edit(spec_text, "  size: 20Gi\n", "  size: 20Gi\n" + S3.format(endpoint=endpoint))
    assert any("endpoint" in p for p in refused(text))


def test_an_s3_endpoint_on_https_is_accepted(spec_text):
    parse_spec(
        edit(spec_text, "  size: 20Gi\n", "  size: 20Gi\n" + S3.format(endpoint="https://s3.eu-west-1.amazonaws.com"))
    )


@pytest.mark.parametrize("path", ["/opt/airflow/../../etc", "/opt/./x", "/opt//x"])
def test_a_secrets_mount_path_must_be_a_plain_absolute_path(spec_text, path):
    text = spec_text.replace("\nnetwork:", f"\nairflow:\n  secretsMountPath: {path}\nnetwork:", 1)
    assert any("secretsMountPath" in p for p in refused(text))


def test_the_cli_refuses_a_hostile_spec_without_a_traceback(spec_text, tmp_path):
    spec = tmp_path / "cluster_spec.yaml"
    spec.write_text(edit(spec_text, "namespace: airflow ", 'namespace: "airflow\\n" '))
    out = subprocess.run(
        [sys.executable, "-m", "redis_gitops.synth", "synth", "--spec", str(spec), "--out", str(tmp_path / "dist")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr + out.stdout
    assert f"{spec}:" in out.stderr + out.stdout
    assert not (tmp_path / "dist").exists()


@pytest.mark.parametrize("restore_id", ["a b", "../x", "x;rm", "A"])
def test_a_restore_id_is_validated(restore_id, tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "redis_gitops.synth",
            "restore",
            "--local",
            "--dir",
            str(tmp_path),
            "--id",
            restore_id,
            "--snapshot",
            str(tmp_path / "dump-20261207T000000Z.rdb"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr + out.stdout
    assert "--id" in out.stderr + out.stdout
