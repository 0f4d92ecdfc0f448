"""The development commands of `redis-gitops` (`local`, `backup now`, `restore --local`) and the hooks that
give the product's `--local` options a local cluster: the development harness (devcluster/) enters the CLI
only here, through synth/main.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from redis_gitops.runtime.cli import DEFAULT_LOCAL_DIR, EXIT_BAD_INPUT, EXIT_FAILED, JsonOption, LocalHooks
from redis_gitops.synth.cli import EnvOption, OutOption, SpecOption, load_or_exit, rendered_folder

if TYPE_CHECKING:
    from redis_gitops.synth.spec import ClusterSpec


def _local_target(folder: Path):
    """`smoke --local`, `monitor --local`: the local cluster's state file gives the addresses, passwords and
    expectations."""
    from redis_gitops.devcluster.local_cluster import ClusterState, broker_settings, expectations

    state = ClusterState.load(folder)
    return broker_settings(state), expectations(state)


def _local_airflow(folder: Path) -> tuple[list[str], str, str | None]:
    """`airflow-config --local`: the local cluster's Sentinels, Airflow's password and the CA file."""
    from redis_gitops.devcluster.local_cluster import ClusterState

    state = ClusterState.load(folder)
    if not state.airflow_password_file:
        raise ValueError(
            f"the local cluster in {folder} has no Airflow user (airflow.enabled was false when it started)"
        )
    return [f"{h}:{p}" for h, p in state.sentinel_addresses], state.airflow_password, state.tls_ca_file


LOCAL_HOOKS = LocalHooks(target=_local_target, airflow=_local_airflow)


local_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Run dist/ as real local processes (3 Redis, 3 Sentinels)."
)
LocalDir = Annotated[Path, typer.Option("--dir", help="Where the local cluster keeps its files and state.")]


@local_app.command("up")
def local_up(
    spec: SpecOption = Path("cluster_spec.yaml"),
    out: OutOption = Path("dist"),
    dir: LocalDir = DEFAULT_LOCAL_DIR,
    subnet: Annotated[int, typer.Option(help="Pods get 127.0.SUBNET.1, .2, ...")] = 1,
    env: EnvOption = None,
) -> None:
    """Start the cluster rendered in OUT (an environment's, OUT/ENV); it keeps running until `local down`."""
    from redis_gitops.devcluster.local_cluster import ClusterRunningError, LocalCluster

    cluster = LocalCluster(load_or_exit(spec, env), rendered_folder(out, env), dir.resolve(), subnet=subnet)
    try:
        state = cluster.up()
    except ClusterRunningError as err:  # nothing was started: leave what runs alone
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    except (OSError, RuntimeError, TimeoutError) as err:
        cluster.down()
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    typer.echo(
        f"local cluster up: Redis {', '.join(f'{h}:{p}' for h, p in state.redis_addresses)}; "
        f"Sentinels on port {state.sentinel_port}; state in {dir}/"
    )


@local_app.command("apply")
def local_apply(
    spec: SpecOption = Path("cluster_spec.yaml"),
    out: OutOption = Path("dist"),
    dir: LocalDir = DEFAULT_LOCAL_DIR,
    env: EnvOption = None,
) -> None:
    """Apply OUT (an environment's, OUT/ENV) to the running local cluster as Kubernetes would: ConfigMaps first,
    then the pods the plan says roll, one at a time (preStop hand-over, restart, Ready by the rendered probes)."""
    from redis_gitops.devcluster.apply import ApplyRefused, apply
    from redis_gitops.plan.report import text

    cluster_spec = load_or_exit(spec, env)
    cluster = _local_cluster(cluster_spec, dir)
    try:
        applied = apply(cluster, cluster_spec, rendered_folder(out, env))
    except ApplyRefused as err:
        typer.echo(f"error: refused: {err}; nothing was changed", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    except (OSError, RuntimeError, TimeoutError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    typer.echo(text(applied.plan), nl=False)
    for pod in applied.created:
        typer.echo(f"  {pod}: created")
    for step in applied.steps:
        how = f"handed over, then {step.action}" if step.handed_over else step.action
        typer.echo(f"  {step.pod}: {how} ({step.took_s} s)")
    predicted = [r for r in applied.plan.rolls if r.pods]
    bounds = f" (plan: {predicted[0].handovers_best}-{predicted[0].handovers})" if predicted else ""
    typer.echo(f"applied: {len(applied.steps)} pod(s) replaced, {applied.handovers} hand-over(s){bounds}")


@local_app.command("status")
def local_status(dir: LocalDir = DEFAULT_LOCAL_DIR, as_json: JsonOption = False) -> None:
    """Addresses, processes and roles; --json for other tools (passwords are given as files, never values)."""
    from redis_gitops.devcluster.local_cluster import ClusterState, NoClusterError, node_status

    try:
        state = ClusterState.load(dir)
    except NoClusterError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    nodes = [node_status(state, n) for n in state.nodes]
    report = {
        "master_name": state.master_name,
        "redis_password_file": state.password_file,
        "sentinel_password_file": state.sentinel_password_file,
        "nodes": nodes,
    }
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        for n in nodes:
            typer.echo(f"pod-{n['ordinal']} {n['host']}: redis {n['redis']} ({n['role']}), sentinel {n['sentinel']}")


@local_app.command("down")
def local_down(dir: LocalDir = DEFAULT_LOCAL_DIR) -> None:
    """Stop every process of the local cluster."""
    from redis_gitops.devcluster.local_cluster import stop_all

    stop_all(dir.resolve())
    typer.echo("local cluster down")


backup_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Snapshots of the broker (the backup CronJob's logic)."
)


@backup_app.command("now")
def backup_now(
    spec: SpecOption = Path("cluster_spec.yaml"),
    local: Annotated[bool, typer.Option("--local", metavar="", help="Against the local cluster.")] = False,
    dir: LocalDir = DEFAULT_LOCAL_DIR,
    to: Annotated[Path | None, typer.Option("--to", help="Where the snapshots go (default: DIR/backups).")] = None,
    env: EnvOption = None,
) -> None:
    """Take a snapshot now, as the CronJob does: from a replica in sync, verified with redis-check-rdb, keeping
    backup.retention files. Prints the snapshot's path."""
    cluster_spec = load_or_exit(spec, env)
    if not local:
        from redis_gitops.synth.naming import Names

        name = Names(cluster_spec).backup
        typer.echo(
            f"error: in Kubernetes the CronJob runs it: kubectl -n {cluster_spec.namespace} create job "
            f"--from=cronjob/{name} {name}-now; the snapshot lands on PVC {name}. Or use --local.",
            err=True,
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    cluster = _local_cluster(cluster_spec, dir)
    run = cluster.run_backup(
        (to or cluster.base / "backups").resolve(), cluster_spec.backup.retention, cluster_spec.backup.timeout_seconds
    )
    typer.echo(run.stderr, err=True, nl=False)
    if run.returncode != 0:
        raise typer.Exit(EXIT_FAILED)
    typer.echo(run.stdout.strip())


def restore_cmd(
    snapshot: Annotated[Path, typer.Option("--snapshot", help="The snapshot file (`backup now` printed its path).")],
    restore_id: Annotated[str, typer.Option("--id", help="Names this restore; the same id never runs twice.")],
    spec: SpecOption = Path("cluster_spec.yaml"),
    local: Annotated[bool, typer.Option("--local", metavar="", help="On the local cluster.")] = False,
    dir: LocalDir = DEFAULT_LOCAL_DIR,
    env: EnvOption = None,
) -> None:
    """Bring every pod of the local cluster back to exactly SNAPSHOT (what the restore Job does in Kubernetes)."""
    cluster_spec = load_or_exit(spec, env)
    if not local:
        typer.echo(
            "error: in Kubernetes a restore is a commit: add `restore: {snapshot: dump-....rdb, id: ...}` to "
            "the spec, `make synth`, merge; the rendered Job runs it once. Or use --local.",
            err=True,
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    from pydantic import ValidationError

    from redis_gitops.synth.spec import Restore

    try:  # the same names a restore in the spec may have: the id becomes a file and a server's folder
        Restore(snapshot=snapshot.name, id=restore_id)
    except ValidationError as err:
        typer.echo(
            f"error: --snapshot/--id: {'; '.join(e['msg'] for e in err.errors())} (--id: lowercase letters, "
            "digits and '-', at most 40; the snapshot: dump-<UTC time>Z.rdb as `backup now` printed it)",
            err=True,
        )
        raise typer.Exit(EXIT_BAD_INPUT) from None
    cluster = _local_cluster(cluster_spec, dir)
    run = cluster.run_restore(snapshot.resolve(), restore_id, cluster_spec.backup.timeout_seconds)
    typer.echo(run.stderr, err=True, nl=False)
    if run.returncode != 0:
        raise typer.Exit(EXIT_FAILED)


def _local_cluster(cluster_spec: ClusterSpec, dir: Path):
    """The local cluster running in DIR, or exit 2 saying there is none."""
    from redis_gitops.devcluster.local_cluster import LocalCluster, NoClusterError

    try:
        return LocalCluster.attach(cluster_spec, dir.resolve())
    except NoClusterError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def add_development_commands(app: typer.Typer) -> None:
    app.add_typer(local_app, name="local")
    app.add_typer(backup_app, name="backup")
    app.command("restore")(restore_cmd)
