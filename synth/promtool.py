"""Prometheus's own judgement of the PrometheusRules in dist/: `promtool check rules` on each one's groups, so a
rule Prometheus would refuse (a bad expression, a duplicate name) fails the gate, not the Prometheus reload.
Every environment's rules go to one promtool run; only when it refuses something is each file asked alone, to
say which file it refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_HINT = "promtool is missing: on Debian, apt-get install -y prometheus (it ships promtool)"


@dataclass
class PromtoolResult:
    rules: int = 0
    errors: list[str] = field(default_factory=list)


def check_rules(objects: list[tuple[str, dict]]) -> PromtoolResult | None:
    """None when the folder holds no PrometheusRule; otherwise the rule count and every error promtool reports."""
    return check_rules_of([objects])[0]


def check_rules_of(folders: list[list[tuple[str, dict]]]) -> list[PromtoolResult | None]:
    """check_rules for several folders' objects (each environment's), with one promtool run when all pass."""
    rule_objects = [[(f, o) for f, o in objects if o.get("kind") == "PrometheusRule"] for objects in folders]
    if not any(rule_objects):
        return [None] * len(folders)
    binary = shutil.which("promtool")
    if binary is None:
        return [PromtoolResult(errors=[INSTALL_HINT]) if r else None for r in rule_objects]
    with tempfile.TemporaryDirectory(prefix="redis-gitops-rules-") as folder:
        paths: dict[str, tuple[int, str, dict]] = {}  # rules file -> (folder, its file in dist, the object)
        for i, objects in enumerate(rule_objects):
            for file, obj in objects:
                text = json.dumps({"groups": (obj.get("spec") or {}).get("groups") or []}, indent=1)  # JSON is YAML
                path = Path(folder) / f"{len(paths)}-{obj['metadata']['name']}.json"
                path.write_text(text)
                paths[str(path)] = (i, file, obj)
        all_pass = _run(binary, list(paths)) is None
        results = [PromtoolResult() if r else None for r in rule_objects]
        for path, (i, file, obj) in paths.items():
            said = None if all_pass else _run(binary, [path])
            if said is None:
                results[i].rules += sum(len(g.get("rules") or []) for g in obj["spec"]["groups"])
            else:
                results[i].errors.append(f"promtool check rules: {said.replace(path, f'{file} (spec.groups)')}")
    return results


def _run(binary: str, paths: list[str]) -> str | None:
    """What promtool says against these rules files, None when it accepts them all."""
    run = subprocess.run([binary, "check", "rules", *paths], capture_output=True, text=True, timeout=60)
    return None if run.returncode == 0 else (run.stderr or run.stdout).strip()
