"""The fault suite's report: a table, build/faults/report.json, and a PNG timeline per scenario."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from redis_gitops.faults import network, scenarios
from redis_gitops.faults.scenarios import Run

SCENARIOS = {**scenarios.SCENARIOS, **network.SCENARIOS}


def _spread(values: list[float | None]) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "-"
    return f"{min(got):.2f} / {statistics.median(got):.2f} / {max(got):.2f}"


def table(runs: list[Run]) -> str:
    rows = [
        "| scenario | runs | write unavailability s (min / median / max) | new master after s | all Sentinels "
        "agree after s | acknowledged writes lost (plain / WAIT 1) | healthy after |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in SCENARIOS:
        mine = [r for r in runs if r.scenario == name]
        if not mine:
            continue
        unavailable = [v for r in mine for v in (r.per_pod_unavailable_s.values() or [r.unavailable_s])]
        rows.append(
            f"| {name} | {len(mine)} | {_spread(unavailable)} | {_spread([r.new_master_after_s for r in mine])} | "
            f"{_spread([r.sentinels_agree_after_s for r in mine])} | "
            f"{sum(r.lost for r in mine)} of {sum(r.acknowledged for r in mine)} / "
            f"{sum(r.lost_confirmed for r in mine)} of {sum(r.confirmed for r in mine)} | "
            f"{sum(r.healthy_after for r in mine)} of {len(mine)} |"
        )
    cut = [r.cut_off_side for r in runs if r.cut_off_side]
    if cut:
        rows.append(
            f"\npartition, the writer beside the cut-off master: took writes "
            f"{_spread([c['took_writes_after_cut_s'] for c in cut])} s after the cut; lost "
            f"{sum(c['lost'] for c in cut)} of {sum(c['acknowledged'] for c in cut)} acknowledged, "
            f"{sum(c['lost_confirmed'] for c in cut)} of them confirmed with WAIT 1; old master rejoined "
            f"as a replica {sum(c['old_master_rejoined_as_replica'] for c in cut)} of {len(cut)} times"
        )
    return "\n".join(rows) + "\n"


def write(runs: list[Run], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    report = {"scenarios": {name: s.what for name, s in SCENARIOS.items()}, "runs": [r.summary() for r in runs]}
    (folder / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    (folder / "report.md").write_text(table(runs))
    for i, r in enumerate(runs):
        timeline_png(r, folder / f"{r.scenario}-{i}.png")
    return folder / "report.json"


def timeline_png(run: Run, path: Path) -> None:
    """Latency of every write around the fault (errors in red), the fault and later events marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.2), dpi=100)
    ok = [(t, lat * 1000) for t, lat, good in run.timeline if good]
    bad = [(t, lat * 1000) for t, lat, good in run.timeline if not good]
    if ok:
        ax.scatter(*zip(*ok, strict=True), s=2, color="tab:blue", label="acknowledged write")
    if bad:
        ax.scatter(*zip(*bad, strict=True), s=6, color="tab:red", label="failed write")
    ax.axvline(0, color="black", linestyle="--")
    ax.text(0, 1.01, " fault", transform=ax.get_xaxis_transform(), fontsize=8)
    for label, t in run.marks.items():
        ax.axvline(t, color="grey", linestyle=":")
        ax.text(t, 1.01, f" {label}", transform=ax.get_xaxis_transform(), fontsize=7, rotation=20)
    if run.new_master_after_s is not None:
        ax.axvline(run.new_master_after_s, color="tab:green", linestyle="-.", label="new master named")
    ax.set_yscale("log")
    ax.set_xlabel("seconds after the fault")
    ax.set_ylabel("write latency (ms)")
    ax.set_title(
        f"{run.scenario}: unavailable {run.unavailable_s:.2f} s, lost {run.lost} (WAIT 1: {run.lost_confirmed})",
        fontsize=9,
        loc="left",
        pad=18,
    )
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
