"""`redis-gitops`: a thin typer layer over synth.pipeline and runtime. Exit codes: 0 ok, 1 failed, 2 bad input.

Heavy imports (cdk8s, pydantic, ruamel) happen inside the commands that need them, so the smoke image runs
`redis-gitops smoke` with only redis-py and typer installed.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from redis_gitops.plan.report import PlanFormat
from redis_gitops.runtime.cli import DEFAULT_LOCAL_DIR, EXIT_BAD_INPUT, EXIT_FAILED, LocalHooks, local_hooks, register

if TYPE_CHECKING:
    from redis_gitops.synth.pipeline import Result
    from redis_gitops.synth.spec import ClusterSpec
    from redis_gitops.synth.spec_loader import SpecError

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"redis-gitops {version('redis-gitops')}")
        raise typer.Exit()


SpecOption = Annotated[Path, typer.Option("--spec", help="The cluster spec file.")]
OutOption = Annotated[Path, typer.Option("--out", help="The folder of rendered manifests.")]
EnvOption = Annotated[
    str | None,
    typer.Option("--env", help="Only this environment (environments/ENV.yaml over the spec), in OUT/ENV."),
]


class ReportFormat(StrEnum):
    """policies/report.py's formats (a test holds them equal), as choices `--help` lists."""

    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"


class AirflowFormat(StrEnum):
    CFG = "cfg"
    ENV = "env"


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
    versions = ", ".join(result.kubernetes_versions)
    line = f"schema: {s.validated} objects checked against Kubernetes {versions} (strict)"
    if s.unchecked:
        line += f"; no schema at hand for {', '.join(s.unchecked)} (set REDIS_GITOPS_CRD_SCHEMAS)"
    return line + f", {len(s.errors)} error(s)"


def _need_nodejs() -> None:
    """cdk8s's generator runs on Node.js, started when cdk8s is imported: without it, say so in one line."""
    import shutil

    if shutil.which("node") is None:
        typer.echo(
            "error: Node.js not found on PATH: cdk8s runs its generator on it. On Debian: apt-get install -y nodejs",
            err=True,
        )
        raise typer.Exit(EXIT_BAD_INPUT)


def synth(spec: SpecOption = Path("cluster_spec.yaml"), out: OutOption = Path("dist"), env: EnvOption = None) -> None:
    """Render the spec into OUT atomically (each environment into OUT/NAME; an environment that is gone loses its
    folder): OUT changes only when everything passed."""
    _need_nodejs()
    from redis_gitops.synth.output import ForeignFilesError
    from redis_gitops.synth.pipeline import synthesize
    from redis_gitops.synth.spec_loader import SpecError
    from redis_gitops.synth.validation import SchemaFolderError

    try:
        result = synthesize(spec, out, env=env)
    except SpecError as err:
        _fail_on_bad_spec(err)
    except SchemaFolderError as err:
        _fail_on_bad_schema_folder(err)
    except (ForeignFilesError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not result.ok:
        for problem in result.problems:
            typer.echo(f"error: {problem}", err=True)
        typer.echo(f"rendered objects are invalid; {out} was left untouched.", err=True)
        raise typer.Exit(EXIT_FAILED)
    c = result.changes
    named = [e.name for e in result.environments if e.name]
    target = f"{out}/{env}" if env else out
    which = f" ({len(named)} environment(s): {', '.join(named)})" if named and not env else ""
    typer.echo(
        f"synth: {spec} -> {target}/{which}: {len(c.added) + len(c.changed) + len(c.unchanged)} files ({c.summary()})"
    )
    for label, paths in (("added", c.added), ("changed", c.changed), ("removed", c.removed)):
        for path in paths:
            typer.echo(f"  {label}: {path}")
    typer.echo(_schema_line(result))


def check(
    spec: SpecOption = Path("cluster_spec.yaml"),
    out: OutOption = Path("dist"),
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            help="Also plan the change from this commit's rendered folder (e.g. origin/main) and fail on a "
            "refused, disruptive or data-losing change the spec does not acknowledge (policy.acknowledge).",
        ),
    ] = None,
    base_dist: Annotated[Path | None, typer.Option("--base-dist", help="As --base, from this rendered folder.")] = None,
) -> None:
    """Fail when OUT differs from what the spec renders, or holds an invalid object; with --base, also when the
    change from what runs is refused or disruptive and not acknowledged."""
    _need_nodejs()
    from redis_gitops.policies.manifests import ManifestError
    from redis_gitops.synth.pipeline import check as run_check
    from redis_gitops.synth.spec_loader import SpecError
    from redis_gitops.synth.validation import SchemaFolderError

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
    from redis_gitops.policies.report import as_table

    for gate in result.gates:
        if gate.environment.name:
            typer.echo(f"== environment {gate.environment.name} ({gate.folder}) ==")
        if gate.kubeconform is not None and gate.kubeconform.ran:
            k = gate.kubeconform
            typer.echo(f"kubeconform: {len(k.errors)} error(s)" + (f"; {k.note}" if k.note else ""))
        if gate.promtool is not None:
            typer.echo(
                f"rules: promtool check rules: {gate.promtool.rules} rule(s), {len(gate.promtool.errors)} error(s)"
            )
        typer.echo(as_table(gate.policy, gate.manifests, gate.folder.as_posix()), nl=False)
    for problem in result.problems:  # after the findings they point at
        typer.echo(f"error: {problem}", err=True)
    transition_ok = True
    if base is not None or base_dist is not None:
        transition_ok = _transition_gate(spec, base, base_dist, out)
    if not result.ok or not transition_ok:
        typer.echo("check FAILED", err=True)
        raise typer.Exit(EXIT_FAILED)
    typer.echo("check passed")


def _transition_gate(spec: Path, base: str | None, base_dist: Path | None, out: Path) -> bool:
    """The plan from what runs: refused, disruptive or data-losing changes pass only when acknowledged."""
    from redis_gitops.plan.report import PlanFormat, render_environments

    plans = _plan_or_exit(spec, base, base_dist, None, out)
    typer.echo(render_environments([(p.environment.name, p.plan) for p in plans], PlanFormat.TEXT), nl=False)
    unacknowledged = [(p.environment, f) for p in plans for f in p.plan.unacknowledged]
    for env, f in unacknowledged:
        where = f"environments/{env.name}.yaml or the spec" if env.name else "the spec"
        typer.echo(
            f"error: {f.verdict} change {f.object}: {f.field}: follow the procedure above, then acknowledge it in "
            f"{where} (policy.acknowledge: [{{change: {f.code}, reason: ...}}])",
            err=True,
        )
    return not unacknowledged


def plan(
    spec: SpecOption = Path("cluster_spec.yaml"),
    base: Annotated[
        str | None, typer.Option("--base", help="What runs: this git commit's rendered folder (default origin/main).")
    ] = None,
    base_dist: Annotated[Path | None, typer.Option("--base-dist", help="What runs: this rendered folder.")] = None,
    base_spec: Annotated[Path | None, typer.Option("--base-spec", help="What runs: what this spec renders.")] = None,
    out: OutOption = Path("dist"),
    fmt: Annotated[
        PlanFormat, typer.Option("--format", help="text, markdown (a PR comment) or json.")
    ] = PlanFormat.TEXT,
    output: Annotated[Path | None, typer.Option("--output", help="Write here instead of stdout.")] = None,
    env: EnvOption = None,
    base_env: Annotated[
        str | None,
        typer.Option("--base-env", help="With --env: what promoting ENV's settings to this environment would do."),
    ] = None,
) -> None:
    """Say what merging SPEC does to the running broker: objects, pods that roll and their hand-overs, what
    Kubernetes refuses, which clients must change and when, what data is at risk. Exit 0 whatever the verdict
    (the gate is `check --base`)."""
    if sum(x is not None for x in (base, base_dist, base_spec, base_env)) > 1:
        typer.echo("error: give one of --base, --base-dist, --base-spec, --base-env", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    plans = _plan_or_exit(spec, base, base_dist, base_spec, out, env, base_env)
    from redis_gitops.plan.report import render_environments, worst_verdict

    text = render_environments([(p.environment.name, p.plan) for p in plans], fmt)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        typer.echo(f"plan: {worst_verdict([p.plan for p in plans])}; {fmt} written to {output}")


def _plan_or_exit(
    spec: Path,
    base: str | None,
    base_dist: Path | None,
    base_spec: Path | None,
    out: Path,
    env: str | None = None,
    base_env: str | None = None,
):
    from redis_gitops.synth.pipeline import plan_changes
    from redis_gitops.synth.spec_loader import SpecError

    try:
        return plan_changes(spec, base, base_dist, base_spec, out, env, base_env)
    except SpecError as err:
        _fail_on_bad_spec(err)
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def policy(
    dist: OutOption = Path("dist"),
    fmt: Annotated[ReportFormat, typer.Option("--format", help="The report's format.")] = ReportFormat.TABLE,
    output: Annotated[Path | None, typer.Option("--output", help="Write here instead of stdout.")] = None,
) -> None:
    """Run the policy rules on the rendered folder as it is (each environment's folder in it, when it holds
    environments); exit 1 on any error-severity finding."""
    from redis_gitops.policies.engine import evaluate
    from redis_gitops.policies.manifests import ManifestError, Manifests
    from redis_gitops.policies.report import render_folders

    if not dist.is_dir():
        typer.echo(f"error: {dist} is not a folder: run `make synth` first", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    folders = (
        [dist]
        if (dist / "kustomization.yaml").is_file()
        else sorted(p for p in dist.iterdir() if (p / "kustomization.yaml").is_file())
    )
    parts = []
    for folder in folders or [dist]:
        try:
            manifests = Manifests.load(folder)
        except ManifestError as err:
            typer.echo(f"error: {folder}/{err}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        if not manifests.of_kind("StatefulSet"):
            typer.echo(
                f"error: {folder} holds no StatefulSet: not a rendered broker (run `make synth`, or point "
                "--out at its output)",
                err=True,
            )
            raise typer.Exit(EXIT_BAD_INPUT)
        parts.append((evaluate(manifests), manifests, folder.as_posix()))
    text = render_folders(fmt, parts)
    errors = sum(len(report.errors) for report, _, _ in parts)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        typer.echo(f"policy: {errors} error(s); {fmt} report written to {output}")
    raise typer.Exit(0 if errors == 0 else EXIT_FAILED)


def docs(
    spec: SpecOption = Path("cluster_spec.yaml"),
    out: Annotated[Path, typer.Option("--out", help="The documentation folder.")] = Path("docs"),
    env: EnvOption = None,
) -> None:
    """Write the generated documentation pages (the spec reference, every rule, one runbook per alert); with
    environments, from ENV (default: the first)."""
    from redis_gitops.synth.docs import GENERATED, RUNBOOKS, generated_pages

    pages = generated_pages(load_or_exit(spec, env, first=True))
    for rel, text in pages.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text)
    # A runbook of an alert that no longer exists goes (only pages this command wrote: they carry its header).
    for stale in sorted((out / RUNBOOKS).glob("*.md")):
        if stale.relative_to(out).as_posix() not in pages and stale.read_text().startswith(GENERATED):
            stale.unlink()
    typer.echo(f"docs: {len(pages)} generated page(s) in {out}")


def schema(
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    environment: Annotated[
        bool,
        typer.Option(
            "--environment", metavar="", help="The schema of an environment's file (nothing required, null allowed)."
        ),
    ] = False,
) -> None:
    """Print the JSON Schema of the cluster spec (editors use it for completion and validation)."""
    from redis_gitops.synth.starter_kit import environment_schema_text, schema_text

    text = environment_schema_text() if environment else schema_text()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        typer.echo(f"schema: wrote {out}")


def init(
    folder: Annotated[Path, typer.Argument(help="Where the broker's files go: a folder of your GitOps repository.")],
    repo_url: Annotated[
        str, typer.Option("--repo-url", help="The repository Argo CD or Flux reads (the spec's gitops.repoUrl).")
    ],
) -> None:
    """Start a broker in the repository you already have: the starter spec and its schema, environments/, a
    Makefile fragment (redis-synth, redis-check, redis-plan) and a workflow calling ours (gate, plan comment,
    policy report). Refuses to overwrite anything."""
    import subprocess
    from importlib.metadata import version

    from redis_gitops.synth.starter_kit import starter_files

    folder.mkdir(parents=True, exist_ok=True)
    top = subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
    )
    root = Path(top.stdout.strip()) if top.returncode == 0 else folder.resolve()
    inside = folder.resolve().relative_to(root.resolve()).as_posix()
    try:
        files = starter_files(
            inside,
            repo_url,
            version("redis-gitops"),
            has_makefile=(folder / "Makefile").exists(),
            has_gitignore=(folder / ".gitignore").exists(),
        )
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    there = sorted(p for p in files if (root / p).exists())
    if there:
        typer.echo(f"error: {', '.join(there)} exist(s) already; nothing was written", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
        typer.echo(f"  wrote {rel}")
    typer.echo(
        f"init: edit {inside}/cluster_spec.yaml (and add environments/<name>.yaml files), run `make -C {inside} "
        "synth`, commit everything with dist/, and apply each dist/.../argocd/ Application once."
    )


def smoke_image(spec: SpecOption = Path("cluster_spec.yaml"), env: EnvOption = None) -> None:
    """Print the smoke image reference the Job in dist/ uses (CI tags its `docker build` with it)."""
    image = load_or_exit(spec, env).smoke.image
    typer.echo(f"{image.repository}:{image.tag}")


def airflow_config(
    ctx: typer.Context,
    spec: SpecOption = Path("cluster_spec.yaml"),
    form: Annotated[
        AirflowFormat, typer.Option("--format", help="cfg: airflow.cfg sections; env: AIRFLOW__ variables.")
    ] = AirflowFormat.CFG,
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            metavar="",
            help="For the local cluster (`redis-gitops local up`): its addresses, "
            "passwords written in, usable as is. Never for a real cluster.",
        ),
    ] = False,
    dir: Annotated[
        Path, typer.Option("--dir", help="With --local: where the local cluster keeps its state.")
    ] = DEFAULT_LOCAL_DIR,
    env: EnvOption = None,
) -> None:
    """Print Airflow's broker configuration for this spec. Without --local the passwords are read at run time
    from files mounted from the Secrets (`_cmd` options); dist/airflow/helm-values.yaml carries the same."""
    from redis_gitops.synth.airflow_config import cfg_sections, cfg_sections_with_passwords, cfg_text, environment

    cluster_spec = load_or_exit(spec, env)
    if not local:
        sections = cfg_sections(cluster_spec)
    else:
        hooks = local_hooks(ctx)
        if hooks is None:
            typer.echo("error: --local needs the development install (redis-gitops with devcluster)", err=True)
            raise typer.Exit(EXIT_BAD_INPUT)
        try:
            sentinels, password, ca_file = hooks.airflow(dir)
        except ValueError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        sections = cfg_sections_with_passwords(cluster_spec, sentinels, password, ca_file)
    if form == "cfg":
        typer.echo(cfg_text(sections), nl=False)
    else:
        for name, value in environment(sections).items():
            typer.echo(f"{name}={shlex.quote(value)}")


def load_or_exit(spec: Path, env: str | None = None, first: bool = False) -> ClusterSpec:
    """The spec (the environment named `env` where the repository has environments; with `first`, the first
    one when none is named), or exit 2 with every problem in it."""
    from redis_gitops.synth.environments import load_environments
    from redis_gitops.synth.spec_loader import SpecError

    try:
        environments = load_environments(spec, only=env)
    except SpecError as err:
        _fail_on_bad_spec(err)
        raise
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if len(environments) > 1 and not first:
        typer.echo(
            f"error: the repository has environments ({', '.join(e.name or '' for e in environments)}): "
            "name one with --env",
            err=True,
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    return environments[0].spec


def rendered_folder(out: Path, env: str | None) -> Path:
    """Where an environment's rendering lives: OUT/ENV (OUT itself without environments)."""
    return out / env if env else out


# The product's commands, by name: `create_app` adds them to an app (the runtime's `smoke` and `monitor` too).
COMMANDS = {
    "synth": synth,
    "check": check,
    "plan": plan,
    "policy": policy,
    "docs": docs,
    "schema": schema,
    "smoke-image": smoke_image,
    "init": init,
    "airflow-config": airflow_config,
}


def create_app(local: LocalHooks | None = None, extend: Iterable[Callable[[typer.Typer], None]] = ()) -> typer.Typer:
    """The `redis-gitops` app: the product's commands; with `local` (the development harness's hooks) their
    `--local` variants work, and each of `extend` adds its own commands (devcluster's `local`, `backup`,
    `restore`). Nothing here imports the development harness."""
    app = typer.Typer(
        rich_markup_mode=None,  # plain help: `-h, --help`, flags without a `<bool>` placeholder
        add_completion=False,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
        help="Render and check a Redis Sentinel broker for Airflow, the GitOps way.",
    )

    @app.callback()
    def _main(
        ctx: typer.Context,
        _: Annotated[
            bool,
            typer.Option("--version", callback=_version, is_eager=True, metavar="", help="Print the version and exit."),
        ] = False,
    ) -> None:
        """Render and check a Redis Sentinel broker for Airflow, the GitOps way."""
        ctx.obj = local

    for name, command in COMMANDS.items():
        app.command(name)(command)
    register(app)
    for add in extend:
        add(app)
    return app


# The product's commands alone (what the tests drive in-process); the installed `redis-gitops` is
# synth/main.py's app, with the development commands.
app = create_app()
