"""The fault suite's report: a table, build/faults/report.json, and a PNG timeline per scenario; and the docs'
results page, generated from the last `make faults` run's reports (`python -m redis_gitops.faults.report`)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from redis_gitops.faults import network, scenarios
from redis_gitops.faults.scenarios import Run
from redis_gitops.plan import measured

SCENARIOS = {**scenarios.SCENARIOS, **network.SCENARIOS}


def _spread(values: list[float | None]) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "-"
    return f"{min(got):.2f} / {statistics.median(got):.2f} / {max(got):.2f}"


def table(runs: list[Run]) -> str:
    """One row per scenario and engine, the engines of a scenario side by side."""
    rows = [
        "| scenario | engine | runs | write unavailability s (min / median / max) | new master after s | all "
        "Sentinels agree after s | acknowledged writes lost (plain / WAIT 1) | healthy after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    engines = list(dict.fromkeys(r.engine for r in runs))
    for name in SCENARIOS:
        for engine in engines:
            mine = [r for r in runs if r.scenario == name and r.engine == engine]
            if not mine:
                continue
            unavailable = [v for r in mine for v in (r.per_pod_unavailable_s.values() or [r.unavailable_s])]
            rows.append(
                f"| {name} | {engine} | {len(mine)} | {_spread(unavailable)} | "
                f"{_spread([r.new_master_after_s for r in mine])} | "
                f"{_spread([r.sentinels_agree_after_s for r in mine])} | "
                f"{sum(r.lost for r in mine)} of {sum(r.acknowledged for r in mine)} / "
                f"{sum(r.lost_confirmed for r in mine)} of {sum(r.confirmed for r in mine)} | "
                f"{sum(r.healthy_after for r in mine)} of {len(mine)} |"
            )
    for engine in engines:
        cut = [r.cut_off_side for r in runs if r.cut_off_side and r.engine == engine]
        if cut:
            rows.append(
                f"\npartition on {engine}, the writer beside the cut-off master: took writes "
                f"{_spread([c['took_writes_after_cut_s'] for c in cut])} s after the cut; lost "
                f"{sum(c['lost'] for c in cut)} of {sum(c['acknowledged'] for c in cut)} acknowledged, "
                f"{sum(c['lost_confirmed'] for c in cut)} of them confirmed with WAIT 1; old master rejoined "
                f"as a replica {sum(c['old_master_rejoined_as_replica'] for c in cut)} of {len(cut)} times"
            )
    return "\n".join(rows) + "\n"


def airflow_table(airflow: dict) -> str:
    """The Airflow worker harness's runs (faults/airflow_worker.py), one row per fault and engine, a value per
    run."""
    rows = [
        "| fault | engine | runs of tasks | publish errors | timed-out publishes re-sent | tasks run / published | "
        "run twice | left in `unacked` | same worker process | last task ran after the last publish (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    runs = [{"engine": "redis", **r} for r in airflow["runs"]]
    for fault in dict.fromkeys(r["fault"] for r in runs):
        for engine in dict.fromkeys(r["engine"] for r in runs):
            mine = [r for r in runs if r["fault"] == fault and r["engine"] == engine]
            if not mine:
                continue

            def each(key: str, runs: list[dict] = mine) -> str:
                return ", ".join(str(r[key]) for r in runs)

            errors = ", ".join(str(len(r["publish_errors"])) for r in mine)
            ran = ", ".join(f"{r['executed']}/{r['published']}" for r in mine)
            rows.append(
                f"| {fault} | {engine} | {len(mine)} of {airflow['tasks']} | {errors} | {each('publish_timeouts')} | "
                f"{ran} | {each('duplicates')} | {each('left_unacked')} | {sum(r['worker_survived'] for r in mine)} "
                f"of {len(mine)} | {each('done_after_last_publish_s')} |"
            )
    return "\n".join(rows) + "\n"


def partition_table(partition: dict) -> str:
    """Airflow's publishes through the partition (faults/airflow_partition.py): a row per transport and side of
    the cut, a value per run."""
    rows = [
        '| transport | publisher | runs | published "ok" | never run | run twice or more | publish errors | '
        "timed-out publishes re-sent |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for transport in dict.fromkeys(r["transport"] for r in partition["runs"]):
        mine = [r["sides"] for r in partition["runs"] if r["transport"] == transport]
        for side, where in (("outside", "with the clients"), ("inside", "beside the cut-off master")):

            def each(value, runs: list[dict] = mine, side: str = side) -> str:
                return ", ".join(str(value(r[side])) for r in runs)

            rows.append(
                f"| {transport} | {where} | {len(mine)} | {each(lambda f: f['published_ok'])} | "
                f"{each(lambda f: len(f['never_run']))} | {each(lambda f: f['ran_twice_or_more'])} | "
                f"{each(lambda f: f['publish_errors'])} | {each(lambda f: f['publish_timeouts'])} |"
            )
    return "\n".join(rows) + "\n"


def results_page(results: dict) -> str:
    """Markdown for docs/design/fault-results.md from the committed results (`collect`'s output)."""
    runs = [Run(**r) for r in results["report"]["runs"]]
    parts = [
        "# Fault results",
        "",
        "Generated by `make faults` (`python -m redis_gitops.faults.report`) from the last run's reports,",
        "`fault-results.json` beside this page; do not edit. What each scenario does and the bounds `make test`",
        "holds: [proven under faults](faults.md).",
        "",
        f"## The broker ({len(runs)} runs)",
        "",
        "| scenario | what |",
        "|---|---|",
        *(f"| {name} | {what} |" for name, what in results["report"]["scenarios"].items()),
        "",
        table(runs),
    ]
    airflow = results.get("airflow")
    if airflow:
        parts += [
            f"## Airflow's workers ({airflow['transport']}, {airflow['tasks']} tasks a run)",
            "",
            airflow_table(airflow),
        ]
    partition = results.get("airflow_partition")
    if partition:
        parts += [
            f"## Airflow's publishes through a partition ({partition['cut_seconds']} s cut, {partition['rate']:.0f} "
            "tasks/s on each side)",
            "",
            "Airflow's scheduler publishing beside the clients and beside the master that is cut off, a worker on",
            'the clients\' side; "never run": published with "ok" and never run once the cut healed.',
            "",
            partition_table(partition),
        ]
    return "\n".join(parts)


REPORTS = {"report": "report.json", "airflow": "airflow.json", "airflow_partition": "airflow-partition.json"}


def collect(build: Path, committed: dict | None = None) -> dict:
    """What the page is made from: the committed results, each part replaced by the report of the same name in
    `build` when `make faults` (or one of its commands alone) wrote one."""
    results = dict(committed or {})
    for key, name in REPORTS.items():
        if (build / name).exists():
            results[key] = json.loads((build / name).read_text())
    if "report" not in results:
        raise SystemExit(f"no broker report: {build / REPORTS['report']} (run make faults)")
    return results


def publish(build: Path, docs: Path) -> Path:
    """Commit-ready: docs/design/fault-results.json (the runs, without timelines) and the page made from it."""
    committed = docs / "fault-results.json"
    results = collect(build, json.loads(committed.read_text()) if committed.exists() else None)
    committed.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    page = docs / "fault-results.md"
    page.write_text(results_page(results))
    # The plan's write-pause figures, from the same runs (plan/measured.py).
    measured.FIGURES.write_text(json.dumps(measured.from_fault_runs(results["report"]["runs"]), indent=2) + "\n")
    return page


def main() -> None:
    """`python -m redis_gitops.faults.report [--build build/faults] [--docs docs/design]`"""
    import argparse

    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--build", type=Path, default=root / "build" / "faults")
    parser.add_argument("--docs", type=Path, default=root / "docs" / "design")
    args = parser.parse_args()
    print(f"wrote {publish(args.build, args.docs)}")


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


if __name__ == "__main__":
    main()
