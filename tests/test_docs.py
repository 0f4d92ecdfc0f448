"""The documentation: the generated pages are current, the site builds with no warning, each alert's
runbook_url reaches a page, and the README stays a page, not a manual."""

import json
import re
import subprocess
import sys

import pytest

from redis_gitops.policies.engine import evaluate
from redis_gitops.policies.manifests import Manifests
from redis_gitops.synth.alerts import alerts, runbook_url
from redis_gitops.synth.docs import generated_pages
from redis_gitops.synth.naming import Names

from conftest import ROOT


def test_the_generated_pages_are_current(spec):
    """`make synth` (`redis-gitops docs`) writes them; a spec field, a rule or an alert changed without it fails."""
    for rel, text in generated_pages(spec).items():
        assert (ROOT / "docs" / rel).read_text() == text, f"docs/{rel} is stale: run `make synth`"


def test_every_alert_points_at_its_own_runbook_page(spec):
    base = "https://github.com/example/airflow-redis/blob/main/"
    for a in alerts(Names(spec)):
        url = runbook_url(spec, a.name)
        assert url.startswith(base), url
        page = ROOT / url.removeprefix(base)
        assert page.is_file() and f"\n# {a.name}\n" in page.read_text(), url


def test_the_site_builds_strict_with_no_warning(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "WARNING" not in run.stderr, run.stderr
    assert (tmp_path / "site" / "runbooks" / "RedisNoMaster" / "index.html").is_file()


def test_the_readme_is_a_page_and_links_only_to_what_exists():
    text = (ROOT / "README.md").read_text()
    assert len(text.encode()) < 8 * 1024
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if not target.startswith("http"):
            assert (ROOT / target).is_file(), target


def test_the_gate_figures_in_the_docs_are_the_gates():
    """The policy page quotes what the gate reports on the committed dist/ (it once said 2 waivers for 3)."""
    report = evaluate(Manifests.load(ROOT / "dist"))
    page = (ROOT / "docs/review/policies.md").read_text()
    quoted = re.search(r"`(\d+) error\(s\), (\d+) warning\(s\), (\d+) waiver\(s\)`", page)
    assert quoted, "docs/review/policies.md quotes the gate's summary line"
    warnings = len(report.findings) - len(report.errors)
    assert tuple(map(int, quoted.groups())) == (len(report.errors), warnings, len(report.waivers))


def test_every_field_of_the_spec_says_what_it_is_for():
    """The reference is generated from the model's descriptions: a field added without one shows a blank row."""
    from redis_gitops.synth.docs import spec_reference

    blank = [
        row.split("|")[1].strip()
        for row in spec_reference().splitlines()
        if row.startswith("| `") and row.rstrip().endswith("|  |")
    ]
    assert blank == []


def test_the_fault_results_page_is_made_from_the_committed_results():
    """docs/design/fault-results.md is `make faults`' output, never edited by hand: it is exactly what the
    generator makes of fault-results.json, which holds a run of every scenario and of the Airflow worker."""
    from redis_gitops.faults.report import SCENARIOS, results_page

    folder = ROOT / "docs" / "design"
    results = json.loads((folder / "fault-results.json").read_text())
    assert (folder / "fault-results.md").read_text() == results_page(results)
    assert {r["scenario"] for r in results["report"]["runs"]} == set(SCENARIOS)
    assert {r["fault"] for r in results["airflow"]["runs"]} >= {"handover", "crash"}
    # Side by side: every scenario and both Airflow faults on each engine the suite runs.
    for engine in ("redis", "valkey"):
        assert {r["scenario"] for r in results["report"]["runs"] if r["engine"] == engine} == set(SCENARIOS)
        assert {r["fault"] for r in results["airflow"]["runs"] if r["engine"] == engine} >= {"handover", "crash"}
    # The Celery partition: both transports, and ours lost nothing published "ok" on either side.
    partition = results["airflow_partition"]["runs"]
    assert {r["transport"] for r in partition} == {"kombu", "redis_gitops_airflow"}
    assert all(not side["never_run"] for r in partition if r["transport"] != "kombu" for side in r["sides"].values())


def test_a_partial_fault_run_replaces_only_its_own_part_of_the_results(tmp_path):
    """`python -m redis_gitops.faults.airflow_partition` alone, then the report: the partition section is new,
    the broker and worker runs are the committed ones."""
    from redis_gitops.faults.report import collect

    committed = json.loads((ROOT / "docs" / "design" / "fault-results.json").read_text())
    fresh = {"cut_seconds": 20, "rate": 10.0, "runs": []}
    (tmp_path / "airflow-partition.json").write_text(json.dumps(fresh))
    merged = collect(tmp_path, committed)
    assert merged["airflow_partition"] == fresh
    assert merged["report"] == committed["report"] and merged["airflow"] == committed["airflow"]
    with pytest.raises(SystemExit, match="no broker report"):
        collect(tmp_path)
