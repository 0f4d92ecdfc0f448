"""`redis-gitops`: a thin typer layer over synth.pipeline. Exit codes: 0 ok, 1 check failed, 2 bad input."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import typer  # noqa: E402

from synth.pipeline import Result, check as run_check, synthesize  # noqa: E402
from synth.spec import ClusterSpec  # noqa: E402
from synth.spec_loader import SpecError  # noqa: E402

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Render and check a Redis Sentinel broker for Airflow, the GitOps way.")

SpecOption = Annotated[Path, typer.Option("--spec", help="The cluster spec file.")]
OutOption = Annotated[Path, typer.Option("--out", help="The folder of rendered manifests.")]


def _fail_on_bad_spec(err: SpecError) -> None:
    for problem in err.problems:
        typer.echo(f"error: {problem}", err=True)
    typer.echo(f"{len(err.problems)} problem(s) in the spec; nothing was written.", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _schema_line(result: Result) -> str:
    s = result.schema
    line = f"schema: {s.validated} objects checked against Kubernetes {result.spec.kubernetes_version} (strict)"
    if s.unchecked:
        line += f"; no schema at hand for {', '.join(s.unchecked)} (set REDIS_GITOPS_CRD_SCHEMAS)"
    return line + f", {len(s.errors)} error(s)"


@app.command()
def synth(spec: SpecOption = Path("cluster_spec.yaml"), out: OutOption = Path("dist")) -> None:
    """Render the spec into OUT atomically: OUT changes only when everything passed."""
    try:
        result = synthesize(spec, out)
    except SpecError as err:
        _fail_on_bad_spec(err)
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
    try:
        result = run_check(spec, out)
    except SpecError as err:
        _fail_on_bad_spec(err)
    if result.diff:
        typer.echo(result.diff, nl=False)
    for problem in result.problems:
        typer.echo(f"error: {problem}", err=True)
    typer.echo(f"drift: {result.changes.summary()}")
    typer.echo(_schema_line(result))
    if not result.ok:
        typer.echo("check FAILED", err=True)
        raise typer.Exit(EXIT_FAILED)
    typer.echo("check passed")


@app.command()
def schema(out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None) -> None:
    """Print the JSON Schema of the cluster spec (editors use it for completion and validation)."""
    text = json.dumps(ClusterSpec.model_json_schema(by_alias=True), indent=2, sort_keys=True) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        typer.echo(f"schema: wrote {out}")


def main() -> None:
    app()
