"""The gate as users meet it: waivers, the report formats, and `check` refusing a hand-edited dist/ with
a message that says what to fix."""

import json
import os
import shutil
import subprocess
import sys
from xml.etree import ElementTree as ET

import pytest

from redis_gitops.contracts.rules import RULE_IDS, WAIVER_PREFIX
from redis_gitops.policies.engine import evaluate
from redis_gitops.policies.manifests import Manifests
from redis_gitops.policies.report import as_json, as_junit, as_sarif, as_table
from redis_gitops.synth.app import render_manifests
from redis_gitops.synth.spec_loader import SpecError, parse_spec

from conftest import ROOT, without_policy


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "redis_gitops.synth", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def dist_copy(tmp_path):
    target = tmp_path / "dist"
    shutil.copytree(ROOT / "dist", target)
    return target


def edit(dist, file, old, new):
    path = dist / file
    text = path.read_text()
    assert old in text, (file, old)
    path.write_text(text.replace(old, new, 1))


HAND_EDITS = [
    (
        "redis-config-configmap.yaml",
        "mymaster __MASTER_HOST__ 6379 2",
        "mymaster __MASTER_HOST__ 6379 1",
        "quorum-majority",
        "set the quorum to 2",
    ),
    (
        "redis-statefulset.yaml",
        "      volumes:\n",
        "      volumes:\n        - emptyDir: {}\n          name: data\n",
        "persistence-data-volume",
        "/data is on volume 'data' (emptyDir)",
    ),
    (
        "redis-config-configmap.yaml",
        "maxmemory-policy noeviction",
        "maxmemory-policy allkeys-lru",
        "broker-noeviction",
        "set redis.maxmemoryPolicy: noeviction",
    ),
    (
        "redis-config-configmap.yaml",
        "    protected-mode yes\n",
        "    protected-mode yes\n    requirepass s3cret\n",
        "auth-no-secret-literals",
        "the pod scripts add passwords at start from Secret references",
    ),
    (
        "redis-statefulset.yaml",
        "              cpu: '1'\n              memory: 1Gi\n",
        "              cpu: '1'\n",
        "resources-requests-limits",
        "container redis has no limits.memory",
    ),
]


@pytest.mark.parametrize("file,old,new,rule,says", HAND_EDITS, ids=[h[3] for h in HAND_EDITS])
def test_check_refuses_a_hand_edit_that_breaks_a_rule(dist_copy, file, old, new, rule, says):
    edit(dist_copy, file, old, new)
    run = cli("check", "--out", dist_copy)
    assert run.returncode == 1
    assert f"ERROR   {rule}" in run.stdout and says in run.stdout, run.stdout
    assert "policy error(s)" in run.stderr and "check FAILED" in run.stderr


def test_policy_command_reports_json_and_exits_one_on_errors(dist_copy):
    edit(dist_copy, "redis-config-configmap.yaml", "appendonly yes", "appendonly no")
    run = cli("policy", "--out", dist_copy, "--format", "json")
    report = json.loads(run.stdout)
    assert run.returncode == 1 and report["ok"] is False
    [finding] = report["findings"]
    assert finding["rule"] == "persistence-aof" and finding["kind"] == "ConfigMap" and finding["fix"]
    line = (dist_copy / "redis-config-configmap.yaml").read_text().splitlines()[finding["line"] - 1]
    assert line.strip() == "appendonly no"  # the line of the directive itself, inside the ConfigMap


def test_sarif_points_at_the_offending_line_and_lists_every_rule(dist_copy):
    edit(dist_copy, "redis-statefulset.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false")
    m = Manifests.load(dist_copy)
    sarif = json.loads(as_sarif(evaluate(m), m, "dist"))
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    assert len(run["tool"]["driver"]["rules"]) == len(evaluate(m).rules)
    [result] = [r for r in run["results"] if not r.get("suppressions")]  # the default spec's waived digests aside
    assert result["ruleId"] == "security-read-only-root" and result["level"] == "error"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "dist/redis-statefulset.yaml"
    text = (dist_copy / "redis-statefulset.yaml").read_text().splitlines()
    assert text[location["region"]["startLine"] - 1].strip() == "readOnlyRootFilesystem: false"


def test_junit_has_a_case_per_rule_and_fails_the_broken_one(dist_copy):
    edit(dist_copy, "redis-poddisruptionbudget.yaml", "maxUnavailable: 1", "maxUnavailable: 3")
    m = Manifests.load(dist_copy)
    suites = ET.fromstring(as_junit(evaluate(m), m, "dist"))
    cases = suites.findall(".//testcase")
    assert len(cases) == len(evaluate(m).rules)
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["quorum-disruption-budget"]
    assert suites.find("testsuite[@name='quorum']").get("failures") == "1"


def test_a_rule_of_an_unknown_family_cannot_register():
    """A family is a Family member: a string one (a new `"tls"` family once) would vanish from the JUnit report,
    which lists the families it knows."""
    from redis_gitops.policies.model import rule

    with pytest.raises(TypeError, match="is not a Family"):
        rule("quorum-majority", "tls", "a rule in a family no report knows")


def test_an_annotation_waives_a_rule_on_its_object_and_every_report_lists_it(dist_copy):
    edit(dist_copy, "redis-statefulset.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false")
    edit(
        dist_copy,
        "redis-statefulset.yaml",
        "  annotations:\n",
        f"  annotations:\n    {WAIVER_PREFIX}security-read-only-root: redis_exporter 1.45 writes a PID file\n",
    )
    m = Manifests.load(dist_copy)
    report = evaluate(m)
    assert report.ok and report.findings == []
    ours = [w for w in report.waivers if w.rule == "security-read-only-root"]
    assert [(w.rule, str(w.object)) for w in ours] == [("security-read-only-root", "StatefulSet/redis")]
    assert "WAIVED  security-read-only-root" in as_table(report, m, "dist")
    [listed] = [w for w in json.loads(as_json(report, m, "dist"))["waivers"] if w["rule"] == "security-read-only-root"]
    assert listed["waived_findings"] == 1
    [result] = [
        r
        for r in json.loads(as_sarif(report, m, "dist"))["runs"][0]["results"]
        if r["ruleId"] == "security-read-only-root"
    ]
    assert result["suppressions"][0]["justification"] == "redis_exporter 1.45 writes a PID file"


def test_a_waiver_without_a_reason_or_rule_is_itself_an_error(dist_copy):
    edit(
        dist_copy,
        "redis-statefulset.yaml",
        "  annotations:\n",
        f"  annotations:\n    {WAIVER_PREFIX}security-read-only-root: ''\n    {WAIVER_PREFIX}no-such-rule: because\n",
    )
    findings = evaluate(Manifests.load(dist_copy)).findings
    assert sorted(f.message for f in findings) == [
        "waiver for unknown rule 'no-such-rule'",
        "waiver of security-read-only-root gives no reason",
    ]


WAIVER = """
policy:
  waivers:
    - rule: security-read-only-root
      kind: {kind}
      name: {name}
      reason: the exporter image writes to /tmp
"""


def test_a_waiver_in_the_spec_becomes_the_annotation(spec_text):
    spec_text = without_policy(spec_text)
    spec = parse_spec(spec_text + WAIVER.format(kind="StatefulSet", name="redis"))
    synced, _ = render_manifests(spec)
    [sts] = [o for o in synced if o["kind"] == "StatefulSet"]
    assert (
        sts["metadata"]["annotations"][WAIVER_PREFIX + "security-read-only-root"] == "the exporter image writes to /tmp"
    )


def test_a_spec_waiver_for_an_unknown_rule_or_object_is_refused(spec_text, tmp_path):
    spec_text = without_policy(spec_text)
    with pytest.raises(SpecError, match=r"policy\.waivers\.0\.rule: unknown policy rule 'security-read-only'"):
        parse_spec(
            spec_text
            + WAIVER.format(kind="StatefulSet", name="redis").replace("security-read-only-root", "security-read-only")
        )
    bad = tmp_path / "spec.yaml"
    bad.write_text(spec_text + WAIVER.format(kind="StatefulSet", name="rediss"))
    before = sorted(p.name for p in (ROOT / "dist").iterdir())
    run = cli("synth", "--spec", bad, "--out", tmp_path / "out")
    assert run.returncode == 2
    line = len(spec_text.splitlines()) + 6
    assert f"{bad}:{line}: policy.waivers.0.name: no StatefulSet/rediss is rendered" in run.stderr
    assert not (tmp_path / "out").exists() and sorted(p.name for p in (ROOT / "dist").iterdir()) == before


def test_the_default_spec_passes_the_gate_with_no_finding_and_no_waiver():
    run = cli("check")
    assert run.returncode == 0
    assert f"policies: {len(RULE_IDS) + 1} rules over 23 objects: 0 error(s), 0 warning(s), 3 waiver(s)" in run.stdout


def test_kubeconform_on_path_is_run_strict_and_its_errors_fail_the_check(tmp_path):
    """A stand-in binary that answers as kubeconform's JSON output does (the workflow runs the real one)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "kubeconform"
    fake.write_text(f"""#!/bin/sh
echo "$@" > {tmp_path}/args
last=""; for a in "$@"; do case $a in *redis-statefulset.yaml) last=$a;; esac; done
printf '{{"resources": [{{"filename": "%s", "kind": "StatefulSet", "name": "redis", "version": "apps/v1",
  "status": "statusInvalid", "msg": "problem validating schema: replicas: expected integer"}}],
  "summary": {{"valid": 13, "invalid": 1, "errors": 0, "skipped": 0}}}}\\n' "$last"
exit 1
""")
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    run = subprocess.run(
        [sys.executable, "-m", "redis_gitops.synth", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert run.returncode == 1
    assert "redis-statefulset.yaml: StatefulSet/redis: <root>: kubeconform: problem validating schema" in run.stderr
    args = (tmp_path / "args").read_text()
    assert "-strict" in args and "-kubernetes-version 1.33.0" in args and "-output json" in args


def test_the_cli_offers_exactly_the_report_formats():
    from redis_gitops.policies.report import FORMATS
    from redis_gitops.synth.cli import ReportFormat

    assert tuple(ReportFormat) == FORMATS
