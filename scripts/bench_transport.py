"""What our Airflow transport costs, and what a roll costs with the master on each ordinal, on a local cluster
rendered from dist/.

1. Publishing as Airflow's scheduler does (its provider's Celery app, `apply_async` under its operation timeout),
   as fast as it goes, BENCH_PUBLISHES tasks per round (default 2000), rotating our transport
   (`celery_config_options` as rendered, publishes confirmed), ours unconfirmed and kombu's own over
   BENCH_ROUNDS rounds (default 5): tasks/s and the publish latency median and p99. Goals: ours at least 95% of
   kombu's throughput, p99 within 10%; confirmed at least 90% of unconfirmed, p99 within a few ms.
2. A pod template change rolled with `local apply` under the WAIT 1 writer, with the master on each ordinal:
   hand-overs, the longest write gap, lost writes (must be 0).
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

from ruamel.yaml import YAML

from redis_gitops.devcluster.apply import apply
from redis_gitops.devcluster.local_cluster import LocalCluster
from redis_gitops.faults.airflow_worker import airflow_env, publish
from redis_gitops.faults.load import confirmed_writes
from redis_gitops.synth.pipeline import synthesize
from redis_gitops.synth.spec_loader import load_spec

ROOT = Path(__file__).resolve().parents[1]

PUBLISHES = int(os.environ.get("BENCH_PUBLISHES", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


# The variants, by the options that differ: our transport as rendered (publishes confirmed by a replica), ours
# with confirmations off (`airflow.confirmPublishes: false`), kombu's own.
UNCONFIRMED = {"AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__CONFIRM_REPLICAS": "0"}
VARIANTS = {"ours": (True, {}), "ours, unconfirmed": (True, UNCONFIRMED), "kombu": (False, {})}


def transport(cluster: LocalCluster, tmp: Path) -> None:
    figures: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    for r in range(ROUNDS):
        order = list(VARIANTS)[r % len(VARIANTS) :] + list(VARIANTS)[: r % len(VARIANTS)]
        for name in order:
            fixed, extra = VARIANTS[name]
            home = tmp / f"home-{name.replace(', ', '-')}"
            env = {
                **airflow_env(cluster, home, tmp / f"record-{name.replace(', ', '-')}", fixed_transport=fixed),
                **extra,
            }
            out = publish(env, PUBLISHES, rate=1e6)
            assert not out["errors"], out["errors"][:3]
            figures[name].append(out)
            cluster.redis(cluster.master()).delete("default")
    rate, median, p99 = {}, {}, {}
    for name, runs in figures.items():
        rate[name] = statistics.median(PUBLISHES / o["elapsed"] for o in runs)
        median[name] = statistics.median(o["median_latency"] for o in runs) * 1000
        p99[name] = statistics.median(o["p99_latency"] for o in runs) * 1000
        print(
            f"publish, {name:17}: {rate[name]:7.0f} tasks/s (rounds {min(PUBLISHES / o['elapsed'] for o in runs):.0f}"
            f"-{max(PUBLISHES / o['elapsed'] for o in runs):.0f}), latency median {median[name]:.2f} ms, "
            f"p99 {p99[name]:.2f} ms"
        )
    print(
        f"publish: ours at {100 * rate['ours'] / rate['kombu']:.0f}% of kombu's throughput "
        f"({ROUNDS} rounds of {PUBLISHES})"
    )
    print(
        f"confirmation: {100 * rate['ours'] / rate['ours, unconfirmed']:.0f}% of the unconfirmed throughput, "
        f"p99 {p99['ours'] - p99['ours, unconfirmed']:+.2f} ms, "
        f"median {median['ours'] - median['ours, unconfirmed']:+.2f} ms"
    )


def roll(cluster: LocalCluster, tmp: Path) -> None:
    yaml = YAML()
    doc = yaml.load((ROOT / "cluster_spec.yaml").read_text())
    doc["sentinel"]["downAfterMilliseconds"] = 5500
    with (tmp / "roll.yaml").open("w") as f:
        yaml.dump(doc, f)
    assert synthesize(tmp / "roll.yaml", tmp / "roll-dist").ok
    renderings = [(load_spec(tmp / "roll.yaml"), tmp / "roll-dist"), (cluster.spec, ROOT / "dist")]
    for master in (2, 1, 0):
        for spec, dist in renderings:
            cluster.move_master(master)
            with confirmed_writes(cluster) as written:
                done = apply(cluster, spec, dist)
            log, lost = written.log, len(written.lost)
            print(
                f"roll, master on pod {master}: {done.handovers} hand-over(s) (plan {done.plan.rolls[0].handovers_best}"
                f"-{done.plan.rolls[0].handovers}), longest write gap {log.longest_gap()[0]:.2f} s, "
                f"{len(log.acknowledged)} acknowledged, {lost} lost, took {sum(s.took_s for s in done.steps):.1f} s"
            )


def main() -> None:
    spec = load_spec(ROOT / "cluster_spec.yaml")
    with tempfile.TemporaryDirectory(prefix="bench-transport-") as tmp:
        with LocalCluster(spec, ROOT / "dist", Path(tmp) / "cluster", subnet=97) as cluster:
            cluster.wait_until_healthy(60)
            transport(cluster, Path(tmp))
            if os.environ.get("BENCH_ROLLS", "1") == "1":
                roll(cluster, Path(tmp))


if __name__ == "__main__":
    main()
