"""`smoke` and `monitor`: what runs in the smoke image (`redis-gitops-smoke`, see main()), so this module
imports only contracts/, redis-py and typer (never cdk8s, pydantic or ruamel). The development CLI
(`redis-gitops`) adds the same commands. redis-py itself is imported by the commands, so `redis-gitops synth`
and `check` do not pay for it at start-up. The Job's environment: contracts.pod_env.SMOKE_ENV.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from redis_gitops.contracts.defaults import DEFAULT_HANDOVER_TIMEOUT_SECONDS, DEFAULT_MAX_WRITE_OUTAGE_SECONDS

if TYPE_CHECKING:
    from redis_gitops.runtime.client import BrokerSettings
    from redis_gitops.runtime.health import CheckResult, Expectations

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
# metavar="": a flag takes no value, so its help shows none (typer would print <bool>).
LocalOption = Annotated[
    bool,
    typer.Option(
        "--local",
        metavar="",
        help="Check the local cluster (`redis-gitops local up`) instead of the REDIS_* environment.",
    ),
]
DirOption = Annotated[Path, typer.Option("--dir", help="With --local: where the local cluster keeps its state.")]
DEFAULT_LOCAL_DIR = Path(".local-cluster")
WAIT_STEP_SECONDS = 2.0  # between health-check rounds while waiting for the broker
JsonOption = Annotated[bool, typer.Option("--json", metavar="", help="Print the report as JSON.")]


@dataclass(frozen=True)
class LocalHooks:
    """What `--local DIR` needs from the development harness (devcluster/): the development CLI builds its app
    with them (`synth.cli.create_app(local=...)`, which puts them in the context's `obj`); the smoke image has
    none. `target`: client settings and expectations; `airflow`: Sentinel addresses, Airflow's password and the
    CA file of a local cluster."""

    target: Callable[[Path], tuple[BrokerSettings, Expectations]]
    airflow: Callable[[Path], tuple[list[str], str, str | None]]


def local_hooks(ctx: typer.Context) -> LocalHooks | None:
    """The hooks of the app running this command, if it has any (the app's callback puts them in `obj`)."""
    return ctx.find_object(LocalHooks)


def target(ctx: typer.Context, local: bool, folder: Path = DEFAULT_LOCAL_DIR) -> tuple[BrokerSettings, Expectations]:
    """Where to connect: a local cluster's state file, or the environment the smoke Job's manifest sets."""
    from redis_gitops.runtime.client import BrokerSettings
    from redis_gitops.runtime.health import Expectations

    hooks = local_hooks(ctx)
    try:
        if local:
            if hooks is None:
                raise ValueError("--local needs the development install (redis-gitops, not the smoke image)")
            return hooks.target(folder)
        return BrokerSettings.from_env(), Expectations.from_env()
    except (ValueError, OSError) as err:
        hint = (
            "; or check a local cluster with --local (`redis-gitops local up` starts one)"
            if not local and hooks is not None
            else ""
        )
        typer.echo(f"error: {err}{hint}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def run_health(settings: BrokerSettings, expect: Expectations, celery: bool = False) -> list[CheckResult]:
    from redis_gitops.runtime.client import RedisPool
    from redis_gitops.runtime.health import HealthChecks

    pool = RedisPool(settings)
    checks = HealthChecks(pool, expect, celery)
    try:
        return checks.run()
    finally:
        checks.close()
        pool.close()


def run_failover(settings: BrokerSettings, expect: Expectations, budget: float, handover_timeout: int) -> CheckResult:
    import redis

    from redis_gitops.runtime.failover import FailoverCheck
    from redis_gitops.runtime.health import CheckResult

    start = time.perf_counter()
    try:
        report = FailoverCheck(
            settings, expect.sentinels, expect.master_name, timeout=handover_timeout, max_write_outage_seconds=budget
        ).run()
    except (redis.RedisError, OSError) as err:
        elapsed = round((time.perf_counter() - start) * 1000, 1)
        return CheckResult("failover", False, f"{type(err).__name__}: {err}", elapsed)
    return CheckResult(
        "failover", report.ok, report.summary(), round((time.perf_counter() - start) * 1000, 1), report.metrics()
    )


def smoke(
    ctx: typer.Context,
    local: LocalOption = False,
    folder: DirOption = DEFAULT_LOCAL_DIR,
    as_json: JsonOption = False,
    failover: Annotated[
        bool,
        typer.Option(
            "--failover", metavar="", help="Also hand mastership over safely and measure it (disturbs writers ~1.5 s)."
        ),
    ] = False,
    max_write_outage: Annotated[
        float,
        typer.Option(
            help="Seconds of write outage the failover check tolerates.", envvar="SMOKE_MAX_WRITE_OUTAGE_SECONDS"
        ),
    ] = DEFAULT_MAX_WRITE_OUTAGE_SECONDS,
    handover_timeout: Annotated[
        int,
        typer.Option(
            help="Longest the hand-over may pause writes (the pods' preStop uses the same).",
            envvar="HANDOVER_TIMEOUT_SECONDS",
        ),
    ] = DEFAULT_HANDOVER_TIMEOUT_SECONDS,
    celery: Annotated[
        bool,
        typer.Option(
            "--celery",
            metavar="",
            help="Also publish to a probe queue with kombu through Sentinel and consume "
            "it back (the path Airflow's Celery takes).",
        ),
    ] = False,
    wait: Annotated[
        float,
        typer.Option(
            help="Retry the health checks until they all pass or this many seconds went by (under Flux the Job "
            "starts with the broker, not after it).",
            envvar="SMOKE_WAIT_SECONDS",
        ),
    ] = 0.0,
) -> None:
    """Health checks of a live cluster (and with --failover a safe hand-over); exit 0 only when all pass."""
    from redis_gitops.runtime.health import CheckResult

    settings, expect = target(ctx, local, folder)
    started = time.monotonic()
    results = run_health(settings, expect, celery)
    while not all(r.ok for r in results) and time.monotonic() - started + WAIT_STEP_SECONDS <= wait:
        time.sleep(WAIT_STEP_SECONDS)
        results = run_health(settings, expect, celery)
    if wait:
        typer.echo(f"waited {time.monotonic() - started:.1f} s of at most {wait:g} s for the checks to pass")
    if failover:
        if all(r.ok for r in results):
            results.append(run_failover(settings, expect, max_write_outage, handover_timeout))
        else:
            results.append(CheckResult("failover", False, "not attempted: the cluster is not healthy", 0.0))
    ok = all(r.ok for r in results)
    if as_json:
        typer.echo(json.dumps({"ok": ok, "checks": [r.as_dict() for r in results]}, indent=2))
    else:
        for r in results:
            typer.echo(f"{'PASS' if r.ok else 'FAIL'}  {r.name:<36} {r.duration_ms:>8.1f} ms  {r.detail}")
        typer.echo(f"smoke: {sum(r.ok for r in results)}/{len(results)} checks passed")
    raise typer.Exit(EXIT_OK if ok else EXIT_FAILED)


monitor_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="What every Redis and Sentinel reports, live or as JSON."
)


@monitor_app.command("export")
def monitor_export(ctx: typer.Context, local: LocalOption = False, folder: DirOption = DEFAULT_LOCAL_DIR) -> None:
    """One snapshot as JSON: roles, offsets, lag, memory, clients, and what each Sentinel thinks."""
    from redis_gitops.runtime.monitor import snapshot

    typer.echo(json.dumps(snapshot(*target(ctx, local, folder)), indent=2, sort_keys=True))


@monitor_app.command("dashboard")
def monitor_dashboard(
    ctx: typer.Context,
    local: LocalOption = False,
    folder: DirOption = DEFAULT_LOCAL_DIR,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 2.0,
    count: Annotated[int, typer.Option(help="Stop after this many refreshes (0: until Ctrl-C).")] = 0,
) -> None:
    """A live terminal view, refreshed every INTERVAL seconds."""
    from redis_gitops.runtime.monitor import render, snapshot

    settings, expect = target(ctx, local, folder)
    clear = "\x1b[H\x1b[2J" if sys.stdout.isatty() else ""
    shown = 0
    try:
        while True:
            typer.echo(
                clear + render(snapshot(settings, expect)) + f"\nevery {interval:g} s; Ctrl-C to quit\n", nl=False
            )
            shown += 1
            if count and shown >= count:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        return


def register(app: typer.Typer) -> None:
    """Add `smoke` and `monitor` to `app` (`--local` works where the app carries LocalHooks)."""
    app.command()(smoke)
    app.add_typer(monitor_app, name="monitor")


def main() -> None:
    """`redis-gitops-smoke`: the smoke image's entry point, runtime/ and contracts/ only."""
    app = typer.Typer(
        rich_markup_mode=None,  # plain help: `-h, --help`, flags without a `<bool>` placeholder
        add_completion=False,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
        help="Health and failover checks of a live Redis Sentinel broker.",
    )
    register(app)
    app()
