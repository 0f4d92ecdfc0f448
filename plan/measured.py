"""The repository's own measured hand-over pause, for the plan's write-pause figures.

`make faults` measures it (the planned-hand-over scenario: the master's pod updated with its preStop hand-over)
and `python -m redis_gitops.faults.report` writes `measured.json` beside this file from the same runs as
docs/design/fault-results.json; nothing here types a figure.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

FIGURES = Path(__file__).with_name("measured.json")
SCENARIO = "planned-hand-over"


@dataclass(frozen=True)
class HandOverPause:
    median_s: float
    max_s: float
    runs: int


def from_fault_runs(runs: list[dict]) -> dict:
    """measured.json's content from the fault report's runs."""
    pauses = [r["unavailable_s"] for r in runs if r["scenario"] == SCENARIO]
    if not pauses:
        raise ValueError(f"no {SCENARIO} run in the fault report: run `make faults`")
    return {
        "scenario": SCENARIO,
        "runs": len(pauses),
        "median_s": round(statistics.median(pauses), 2),
        "max_s": round(max(pauses), 2),
    }


def load(path: Path = FIGURES) -> HandOverPause:
    data = json.loads(path.read_text())
    return HandOverPause(data["median_s"], data["max_s"], data["runs"])
