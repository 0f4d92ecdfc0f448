"""The policy report as a table for people, and as JSON, SARIF 2.1.0 (GitHub code scanning) or JUnit XML."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from redis_gitops.policies.engine import FAMILIES, PolicyReport
from redis_gitops.policies.manifests import Manifests
from redis_gitops.policies.model import Finding

FORMATS = ("table", "json", "sarif", "junit")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def locate(m: Manifests, f: Finding) -> int:
    """1-based line in the file of the deepest part of the finding's path (the object's first line at worst)."""
    node: Any = m.with_lines(f.object)
    if node is None:
        return 1
    line = getattr(getattr(node, "lc", None), "line", 0) or 0
    for part in f.path:
        try:
            if isinstance(part, int) and isinstance(node, list):
                line = node.lc.item(part)[0]
            elif isinstance(node, dict) and part in node:
                line = node.lc.key(part)[0]
            else:
                break
            node = node[part]
        except (AttributeError, KeyError, IndexError, TypeError):
            break
    return line + 1 + (f.text_line or 0)


def _finding(m: Manifests, f: Finding, dist: str) -> dict:
    return {
        "rule": f.rule,
        "severity": f.severity,
        "file": f"{dist}/{f.object.file}",
        "line": locate(m, f),
        "kind": f.object.kind,
        "name": f.object.name,
        "field": f.field,
        "message": f.message,
        "fix": f.fix,
    }


def as_json(report: PolicyReport, m: Manifests, dist: str) -> str:
    return (
        json.dumps(
            {
                "ok": report.ok,
                "objects": report.objects,
                "rules": len(report.rules),
                "findings": [_finding(m, f, dist) for f in report.findings],
                "waivers": [
                    {
                        "rule": w.rule,
                        "kind": w.object.kind,
                        "name": w.object.name,
                        "reason": w.reason,
                        "waived_findings": sum(1 for _, x in report.waived if x == w),
                    }
                    for w in report.waivers
                ],
            },
            indent=2,
        )
        + "\n"
    )


def as_table(report: PolicyReport, m: Manifests, dist: str) -> str:
    lines = []
    for f in sorted(report.findings, key=lambda f: (f.severity != "error", f.rule, f.object.file)):
        d = _finding(m, f, dist)
        lines.append(f"{f.severity.upper():<8}{f.rule:<34}{d['file']}:{d['line']}  {f.object} {f.field}")
        lines.append(f"{'':<8}{f.message}")
        lines.append(f"{'':<8}fix: {f.fix}")
    for w in report.waivers:
        count = sum(1 for _, x in report.waived if x == w)
        lines.append(f"WAIVED  {w.rule:<34}{w.object} ({count} finding(s)): {w.reason}")
    errors, warnings = len(report.errors), len(report.findings) - len(report.errors)
    lines.append(
        f"policies: {len(report.rules)} rules over {report.objects} objects: {errors} error(s), "
        f"{warnings} warning(s), {len(report.waivers)} waiver(s)"
    )
    return "\n".join(lines) + "\n"


def as_sarif(report: PolicyReport, m: Manifests, dist: str) -> str:
    rules = [
        {
            "id": r.id,
            "name": r.id,
            "shortDescription": {"text": r.summary},
            "properties": {"family": r.family},
            "defaultConfiguration": {"level": r.severity},
        }
        for r in report.rules
    ]

    def result(f: Finding, waiver=None) -> dict:
        d = _finding(m, f, dist)
        out = {
            "ruleId": f.rule,
            "level": f.severity,
            "message": {"text": f"{f.object} {d['field']}: {f.message}. Fix: {f.fix}"},
            "locations": [
                {"physicalLocation": {"artifactLocation": {"uri": d["file"]}, "region": {"startLine": d["line"]}}}
            ],
        }
        if waiver is not None:
            out["suppressions"] = [{"kind": "inSource", "justification": waiver.reason}]
        return out

    results = [result(f) for f in report.findings] + [result(f, w) for f, w in report.waived]
    return (
        json.dumps(
            {
                "$schema": SARIF_SCHEMA,
                "version": "2.1.0",
                "runs": [
                    {
                        "tool": {
                            "driver": {
                                "name": "redis-gitops-policies",
                                "informationUri": "https://github.com/example/airflow-redis",
                                "rules": rules,
                            }
                        },
                        "results": results,
                    }
                ],
            },
            indent=2,
        )
        + "\n"
    )


def as_junit(report: PolicyReport, m: Manifests, dist: str) -> str:
    """One test case per rule, grouped by family; a rule with findings fails with all of them."""
    suites = ET.Element("testsuites", name="redis-gitops policies")
    for family in FAMILIES:
        rules = [r for r in report.rules if r.family == family]
        suite = ET.SubElement(suites, "testsuite", name=family, tests=str(len(rules)))
        failures = 0
        for r in rules:
            case = ET.SubElement(suite, "testcase", classname=f"policies.{family}", name=r.id)
            found = [f for f in report.findings if f.rule == r.id]
            if found:
                failures += 1
                text = "\n".join(
                    f"{_finding(m, f, dist)['file']}:{locate(m, f)} {f.object} {f.field}: {f.message}. Fix: {f.fix}"
                    for f in found
                )
                ET.SubElement(case, "failure", message=found[0].message, type=found[0].severity).text = text
            waived = [w for w in report.waivers if w.rule == r.id]
            if waived:
                ET.SubElement(case, "system-out").text = "\n".join(f"waived on {w.object}: {w.reason}" for w in waived)
        suite.set("failures", str(failures))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def render(fmt: str, report: PolicyReport, m: Manifests, dist: str) -> str:
    return {"table": as_table, "json": as_json, "sarif": as_sarif, "junit": as_junit}[fmt](report, m, dist)


def render_folders(fmt: str, parts: list[tuple[PolicyReport, Manifests, str]]) -> str:
    """One report over several rendered folders (one per environment): one SARIF run (code scanning takes one
    run per tool and category), one JUnit document, one JSON object by folder, tables one after another."""
    if len(parts) == 1:
        return render(fmt, *parts[0])
    if fmt == "table":
        return "".join(f"== {dist} ==\n{as_table(report, m, dist)}" for report, m, dist in parts)
    if fmt == "json":
        folders = {dist: json.loads(as_json(report, m, dist)) for report, m, dist in parts}
        return json.dumps({"ok": all(f["ok"] for f in folders.values()), "folders": folders}, indent=2) + "\n"
    if fmt == "sarif":
        first, *rest = (json.loads(as_sarif(*part)) for part in parts)
        for other in rest:
            first["runs"][0]["results"].extend(other["runs"][0]["results"])
        return json.dumps(first, indent=2) + "\n"
    merged = ET.Element("testsuites", name="redis-gitops policies")
    for report, m, dist in parts:
        for suite in ET.fromstring(as_junit(report, m, dist).split("\n", 1)[1]):
            suite.set("name", f"{dist}: {suite.get('name')}")
            merged.append(suite)
    ET.indent(merged)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(merged, encoding="unicode") + "\n"
