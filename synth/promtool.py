"""Prometheus's own judgement of the PrometheusRules in dist/: `promtool check rules` on each one's groups, so a
rule Prometheus would refuse (a bad expression, a duplicate name) fails the gate, not the Prometheus reload."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

INSTALL_HINT = "promtool is missing: on Debian, apt-get install -y prometheus (it ships promtool)"


@dataclass
class PromtoolResult:
    rules: int = 0
    errors: list[str] = field(default_factory=list)


def check_rules(objects: list[tuple[str, dict]]) -> PromtoolResult | None:
    """None when dist/ holds no PrometheusRule; otherwise the rule count and every error promtool reports."""
    rule_objects = [(f, o) for f, o in objects if o.get("kind") == "PrometheusRule"]
    if not rule_objects:
        return None
    binary = shutil.which("promtool")
    if binary is None:
        return PromtoolResult(errors=[INSTALL_HINT])
    result = PromtoolResult()
    with tempfile.TemporaryDirectory(prefix="redis-gitops-rules-") as folder:
        for file, obj in rule_objects:
            path = Path(folder) / f"{obj['metadata']['name']}.yaml"
            with path.open("w") as f:
                YAML().dump({"groups": (obj.get("spec") or {}).get("groups") or []}, f)  # plain or round-trip
            said = _promtool(binary, path)
            if said is not None:
                result.errors.append(f"promtool check rules: {said.replace(str(path), f'{file} (spec.groups)')}")
            else:
                result.rules += sum(len(g.get("rules") or []) for g in obj["spec"]["groups"])
    return result


_JUDGED: dict[str, str | None] = {}  # rules text -> promtool's complaint: environments often share their rules


def _promtool(binary: str, path: Path) -> str | None:
    """What promtool says against the rules in `path`, None when it accepts them; asked once per content."""
    text = path.read_text()
    if text not in _JUDGED:
        run = subprocess.run([binary, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
        said = None if run.returncode == 0 else (run.stderr or run.stdout).replace(str(path), "{file}").strip()
        _JUDGED[text] = said
    said = _JUDGED[text]
    return None if said is None else said.replace("{file}", str(path))
