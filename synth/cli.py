"""`redis-gitops`: a thin typer layer over synth.pipeline and runtime. Exit codes: 0 ok, 1 failed, 2 bad input.

Heavy imports (cdk8s, pydantic, ruamel) happen inside the commands that need them, so the smoke image runs
`redis-gitops smoke` with only redis-py and typer installed.
"""
from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runtime.cli import DEFAULT_LOCAL_DIR, EXIT_BAD_INPUT, EXIT_FAILED, JsonOption, register

if TYPE_CHECKING:
    from synth.pipeline import Result
    from synth.spec import ClusterSpec
    from synth.spec_loader import SpecError

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

app = typer.Typer(add_completion=False, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]},
                  help="Render and check a Redis Sentinel broker for Airflow, the GitOps way.")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"redis-gitops {version('redis-gitops')}")
        raise typer.Exit()


@app.callback()
def _main(_: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, metavar="",
                                          help="Print the version and exit.")] = False) -> None:
    """Render and check a Redis Sentinel broker for Airflow, the GitOps way."""


def _local_target(folder: Path):
    """`--local DIR`: the local cluster's state file gives the addresses, passwords and expectations."""
    from devcluster.local_cluster import ClusterState, broker_settings, expectations

    state = ClusterState.load(folder)
    return broker_settings(state), expectations(state)


register(app, local_target=_local_target)

SpecOption = Annotated[Path, typer.Option("--spec", help="The cluster spec file.")]
OutOption = Annotated[Path, typer.Option("--out", help="The folder of rendered manifests.")]


def _fail_on_bad_spec(err: SpecError) -> None:
    for problem in err.problems:
        typer.echo(f"error: {problem}", err=True)
    typer.echo(f"{len(err.problems)} problem(s) in the spec; nothing was written.", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _fail_on_bad_schema_folder(err: Exception) -> None:
    typer.echo(f"error: {err}; nothing was written.", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _schema_line(result: Result) -> str:
    s = result.schema
    line = f"schema: {s.validated} objects checked against Kubernetes {result.spec.kubernetes_version} (strict)"
    if s.unchecked:
        line += f"; no schema at hand for {', '.join(s.unchecked)} (set REDIS_GITOPS_CRD_SCHEMAS)"
    return line + f", {len(s.errors)} error(s)"


def _need_nodejs() -> None:
    """cdk8s's generator runs on Node.js, started when cdk8s is imported: without it, say so in one line."""
    import shutil

    if shutil.which("node") is None:
        typer.echo("error: Node.js not found on PATH: cdk8s runs its generator on it. On Debian: "
                   "apt-get install -y nodejs", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def synth(spec: SpecOption = Path("cluster_spec.yaml"), out: OutOption = Path("dist")) -> None:
    """Render the spec into OUT atomically: OUT changes only when everything passed."""
    _need_nodejs()
    from synth.output import ForeignFilesError
    from synth.pipeline import synthesize
    from synth.spec_loader import SpecError
    from synth.validation import SchemaFolderError

    try:
        result = synthesize(spec, out)
    except SpecError as err:
        _fail_on_bad_spec(err)
    except SchemaFolderError as err:
        _fail_on_bad_schema_folder(err)
    except ForeignFilesError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not result.ok:
        for problem in result.problems:
            typer.echo(f"error: {problem}", err=True)
        typer.echo(f"rendered objects are invalid; {out} was left untouched.", err=True)
        raise typer.Exit(EXIT_FAILED)
    c = result.changes
    typer.echo(f"synth: {spec} -> {out}/: {len(c.added) + len(c.changed) + len(c.unchanged)} files "
               f"({c.summary()})")
    for label, paths in (("added", c.added), ("changed", c.changed), ("removed", c.removed)):
        for path in paths:
            typer.echo(f"  {label}: {path}")
    typer.echo(_schema_line(result))


@app.command()
def check(spec: SpecOption = Path("cluster_spec.yaml"), out: OutOption = Path("dist")) -> None:
    """Fail when OUT differs from what the spec renders, or holds an invalid object."""
    _need_nodejs()
    from policies.manifests import ManifestError
    from synth.pipeline import check as run_check
    from synth.spec_loader import SpecError
    from synth.validation import SchemaFolderError

    try:
        result = run_check(spec, out)
    except SpecError as err:
        _fail_on_bad_spec(err)
    except SchemaFolderError as err:
        _fail_on_bad_schema_folder(err)
    except ManifestError as err:
        typer.echo(f"error: {out}/{err}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if result.diff:
        typer.echo(result.diff, nl=False)
    typer.echo(f"drift: {result.changes.summary()}")
    typer.echo(_schema_line(result))
    if result.kubeconform is not None and result.kubeconform.ran:
        k = result.kubeconform
        typer.echo(f"kubeconform: {len(k.errors)} error(s)" + (f"; {k.note}" if k.note else ""))
    if result.promtool is not None:
        typer.echo(f"rules: promtool check rules: {result.promtool.rules} rule(s), {len(result.promtool.errors)} error(s)")
    from policies.report import as_table

    typer.echo(as_table(result.policy, result.manifests, out.as_posix()), nl=False)
    for problem in result.problems:  # after the findings they point at
        typer.echo(f"error: {problem}", err=True)
    if not result.ok:
        typer.echo("check FAILED", err=True)
        raise typer.Exit(EXIT_FAILED)
    typer.echo("check passed")


@app.command()
def policy(dist: Annotated[Path, typer.Option("--dist", help="The folder of manifests to judge.")] = Path("dist"),
           fmt: Annotated[str, typer.Option("--format", help="table, json, sarif or junit.")] = "table",
           output: Annotated[Path | None, typer.Option("--output", help="Write here instead of stdout.")] = None,
           ) -> None:
    """Run the policy rules on DIST as it is; exit 1 on any error-severity finding."""
    from policies.engine import evaluate
    from policies.manifests import ManifestError, Manifests
    from policies.report import FORMATS, render

    if fmt not in FORMATS:
        typer.echo(f"error: --format {fmt!r}: use one of {', '.join(FORMATS)}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    if not dist.is_dir():
        typer.echo(f"error: {dist} is not a folder: run `make synth` first", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        manifests = Manifests.load(dist)
    except ManifestError as err:
        typer.echo(f"error: {dist}/{err}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not manifests.of_kind("StatefulSet"):
        typer.echo(f"error: {dist} holds no StatefulSet: not a rendered broker (run `make synth`, or point "
                   "--dist at its output)", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    report = evaluate(manifests)
    text = render(fmt, report, manifests, dist.as_posix())
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        typer.echo(f"policy: {len(report.errors)} error(s); {fmt} report written to {output}")
    raise typer.Exit(0 if report.ok else EXIT_FAILED)


@app.command()
def schema(out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None) -> None:
    """Print the JSON Schema of the cluster spec (editors use it for completion and validation)."""
    from synth.spec import ClusterSpec

    text = json.dumps(ClusterSpec.model_json_schema(by_alias=True), indent=2, sort_keys=True) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        typer.echo(f"schema: wrote {out}")


@app.command("smoke-image")
def smoke_image(spec: SpecOption = Path("cluster_spec.yaml")) -> None:
    """Print the smoke image reference the Job in dist/ uses (CI tags its `docker build` with it)."""
    image = _load(spec).smoke.image
    typer.echo(f"{image.repository}:{image.tag}")


@app.command("airflow-config")
def airflow_config(spec: SpecOption = Path("cluster_spec.yaml"),
                   form: Annotated[str, typer.Option("--format", help="cfg (airflow.cfg sections) or env "
                                                     "(AIRFLOW__ variables).")] = "cfg",
                   local: Annotated[bool, typer.Option(
                       "--local", metavar="", help="For the local cluster (`redis-gitops local up`): its addresses, "
                       "passwords written in, usable as is. Never for a real cluster.")] = False,
                   dir: Annotated[Path, typer.Option("--dir", help="With --local: where the local cluster keeps its "
                                                     "state.")] = DEFAULT_LOCAL_DIR) -> None:
    """Print Airflow's broker configuration for this spec. Without --local the passwords are read at run time
    from files mounted from the Secrets (`_cmd` options); dist/airflow/helm-values.yaml carries the same."""
    from synth.airflow_config import cfg_sections, cfg_sections_with_passwords, cfg_text, environment

    if form not in ("cfg", "env"):
        typer.echo(f"error: --format {form!r}: use cfg or env", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    cluster_spec = _load(spec)
    if not local:
        sections = cfg_sections(cluster_spec)
    else:
        from devcluster.local_cluster import ClusterState, NoClusterError

        try:
            state = ClusterState.load(dir)
        except NoClusterError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        if not state.airflow_password_file:
            typer.echo(f"error: the local cluster in {dir} has no Airflow user (airflow.enabled was false when it "
                       "started)", err=True)
            raise typer.Exit(EXIT_BAD_INPUT)
        sections = cfg_sections_with_passwords(cluster_spec, [f"{h}:{p}" for h, p in state.sentinel_addresses],
                                               state.airflow_password, state.tls_ca_file)
    if form == "cfg":
        typer.echo(cfg_text(sections), nl=False)
    else:
        for name, value in environment(sections).items():
            typer.echo(f"{name}={shlex.quote(value)}")


local_app = typer.Typer(no_args_is_help=True, help="Run dist/ as real local processes (3 Redis, 3 Sentinels).")
app.add_typer(local_app, name="local")
LocalDir = Annotated[Path, typer.Option("--dir", help="Where the local cluster keeps its files and state.")]


@local_app.command("up")
def local_up(spec: SpecOption = Path("cluster_spec.yaml"), out: OutOption = Path("dist"),
             dir: LocalDir = DEFAULT_LOCAL_DIR,
             subnet: Annotated[int, typer.Option(help="Pods get 127.0.SUBNET.1, .2, ...")] = 1) -> None:
    """Start the cluster rendered in OUT; it keeps running until `local down`."""
    from devcluster.local_cluster import ClusterRunningError, LocalCluster

    cluster = LocalCluster(_load(spec), out, dir.resolve(), subnet=subnet)
    try:
        state = cluster.up()
    except ClusterRunningError as err:  # nothing was started: leave what runs alone
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    except (OSError, RuntimeError, TimeoutError) as err:
        cluster.down()
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    typer.echo(f"local cluster up: Redis {', '.join(f'{h}:{p}' for h, p in state.redis_addresses)}; "
               f"Sentinels on port {state.sentinel_port}; state in {dir}/")


@local_app.command("status")
def local_status(dir: LocalDir = DEFAULT_LOCAL_DIR, as_json: JsonOption = False) -> None:
    """Addresses, processes and roles; --json for other tools (passwords are given as files, never values)."""
    from devcluster.local_cluster import ClusterState, NoClusterError, node_status

    try:
        state = ClusterState.load(dir)
    except NoClusterError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    nodes = [node_status(state, n) for n in state.nodes]
    report = {"master_name": state.master_name, "redis_password_file": state.password_file,
              "sentinel_password_file": state.sentinel_password_file, "nodes": nodes}
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        for n in nodes:
            typer.echo(f"pod-{n['ordinal']} {n['host']}: redis {n['redis']} ({n['role']}), sentinel {n['sentinel']}")


@local_app.command("down")
def local_down(dir: LocalDir = DEFAULT_LOCAL_DIR) -> None:
    """Stop every process of the local cluster."""
    from devcluster.local_cluster import stop_all

    stop_all(dir.resolve())
    typer.echo("local cluster down")


backup_app = typer.Typer(no_args_is_help=True, help="Snapshots of the broker (the backup CronJob's logic).")
app.add_typer(backup_app, name="backup")


@backup_app.command("now")
def backup_now(spec: SpecOption = Path("cluster_spec.yaml"),
               local: Annotated[bool, typer.Option("--local", metavar="", help="Against the local cluster.")] = False,
               dir: LocalDir = DEFAULT_LOCAL_DIR,
               to: Annotated[Path | None, typer.Option("--to", help="Where the snapshots go (default: DIR/backups).")]
               = None) -> None:
    """Take a snapshot now, as the CronJob does: from a replica in sync, verified with redis-check-rdb, keeping
    backup.retention files. Prints the snapshot's path."""
    cluster_spec = _load(spec)
    if not local:
        from synth.naming import Names

        name = Names(cluster_spec).backup
        typer.echo(f"error: in Kubernetes the CronJob runs it: kubectl -n {cluster_spec.namespace} create job "
                   f"--from=cronjob/{name} {name}-now; the snapshot lands on PVC {name}. Or use --local.", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    cluster = _local_cluster(cluster_spec, dir)
    run = cluster.run_backup((to or cluster.base / "backups").resolve(), cluster_spec.backup.retention,
                             cluster_spec.backup.timeout_seconds)
    typer.echo(run.stderr, err=True, nl=False)
    if run.returncode != 0:
        raise typer.Exit(EXIT_FAILED)
    typer.echo(run.stdout.strip())


@app.command("restore")
def restore_cmd(snapshot: Annotated[Path, typer.Option("--snapshot", help="The snapshot file (`backup now` printed "
                                                       "its path).")],
                restore_id: Annotated[str, typer.Option("--id", help="Names this restore; the same id never runs "
                                                        "twice.")],
                spec: SpecOption = Path("cluster_spec.yaml"),
                local: Annotated[bool, typer.Option("--local", metavar="", help="On the local cluster.")] = False,
                dir: LocalDir = DEFAULT_LOCAL_DIR) -> None:
    """Bring every pod of the local cluster back to exactly SNAPSHOT (what the restore Job does in Kubernetes)."""
    cluster_spec = _load(spec)
    if not local:
        typer.echo("error: in Kubernetes a restore is a commit: add `restore: {snapshot: dump-....rdb, id: ...}` to "
                   "the spec, `make synth`, merge; the rendered Job runs it once. Or use --local.", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    from pydantic import ValidationError

    from synth.spec import Restore

    try:  # the same names a restore in the spec may have: the id becomes a file and a server's folder
        Restore(snapshot=snapshot.name, id=restore_id)
    except ValidationError as err:
        typer.echo(f"error: --snapshot/--id: {'; '.join(e['msg'] for e in err.errors())} (--id: lowercase letters, "
                   "digits and '-', at most 40; the snapshot: dump-<UTC time>Z.rdb as `backup now` printed it)", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    cluster = _local_cluster(cluster_spec, dir)
    run = cluster.run_restore(snapshot.resolve(), restore_id, cluster_spec.backup.timeout_seconds)
    typer.echo(run.stderr, err=True, nl=False)
    if run.returncode != 0:
        raise typer.Exit(EXIT_FAILED)


def _local_cluster(cluster_spec: ClusterSpec, dir: Path):
    """The local cluster running in DIR, or exit 2 saying there is none."""
    from devcluster.local_cluster import LocalCluster, NoClusterError

    try:
        return LocalCluster.attach(cluster_spec, dir.resolve())
    except NoClusterError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _load(spec: Path) -> ClusterSpec:
    from synth.spec_loader import SpecError, load_spec

    try:
        return load_spec(spec)
    except SpecError as err:
        _fail_on_bad_spec(err)
        raise


def main() -> None:
    app()
