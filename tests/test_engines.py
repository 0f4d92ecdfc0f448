"""The tested-versions table: what the gate lets through, what it refuses and why, and the waiver."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from redis_gitops.contracts.engines import Support, engine_of, support


@pytest.mark.parametrize(
    ("repository", "tag", "expected"),
    [
        ("redis", "7.0.15", Support.RUN),
        ("valkey/valkey", "8.1.8", Support.RUN),
        ("redis", "7.2.7", Support.COMPATIBLE),
        ("docker.io/library/redis", "7.0.11-bookworm", Support.COMPATIBLE),
        ("bitnami/valkey", "8.0.2", Support.COMPATIBLE),
        ("redis", "7.4.2", Support.REFUSED),
        ("redis", "8.0.0", Support.REFUSED),
        ("valkey/valkey", "9.0.0", Support.REFUSED),
        ("redis", "6.2.14", Support.REFUSED),
        ("redis", "9.9.9", Support.REFUSED),
        ("redis", "latest", Support.REFUSED),
    ],
)
def test_the_table_decides_each_engine_version(repository, tag, expected):
    assert support(engine_of(repository), tag)[0] is expected


def test_a_refusal_says_why():
    assert "RDB 12" in support("redis", "7.4.2")[1]
    assert "oldest with every command" in support("redis", "6.2.14")[1]
    assert "names no version" in support("redis", "latest")[1]


def test_the_engine_is_the_image_name_not_its_registry():
    assert engine_of("valkey/valkey") == engine_of("registry.example.com/mirror/valkey") == "valkey"
    assert engine_of("valkey-mirror/redis") == "redis"


def _check(tmp_path, spec_text: str) -> subprocess.CompletedProcess:
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text)
    cli = [sys.executable, "-m", "redis_gitops.synth", "--spec", str(spec), "--out", str(tmp_path / "dist")]
    subprocess.run([*cli[:3], "synth", *cli[3:]], check=True, capture_output=True)
    return subprocess.run([*cli[:3], "check", *cli[3:]], capture_output=True, text=True)


def test_the_gate_refuses_an_untested_version_unless_waived(tmp_path, spec_text):
    untested = re.sub(r'tag: "[^"]*"', 'tag: "9.9.9"', spec_text, count=1)  # the first tag: redis.image
    refused = _check(tmp_path, untested)
    assert refused.returncode != 0
    assert "broker-tested-engine" in refused.stdout and "docs/reference/engines.md" in refused.stdout
    waived = untested.replace(
        "  waivers:",
        "  waivers:\n"
        "    - rule: broker-tested-engine\n"
        "      kind: StatefulSet\n"
        "      name: redis\n"
        "      reason: a release candidate run in staging only\n",
        1,
    )
    passed = _check(tmp_path, waived)
    assert passed.returncode == 0, passed.stdout + passed.stderr
