"""The two jobs the CLI and CI run: synthesise dist/ from the spec, and check dist/ against the spec.

Both return a result object and print nothing, so tests call them directly; I/O stays at the edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from redis_gitops.policies.engine import PolicyReport, evaluate
from redis_gitops.policies.manifests import NOT_OBJECTS, Manifests, load_documents
from redis_gitops.synth import render_cache
from redis_gitops.synth.output import (
    HEADER,
    Changes,
    ForeignFilesError,
    compare,
    foreign_files,
    read_tree,
    replace_tree,
    unified_diff,
)
from redis_gitops.synth.promtool import PromtoolResult, check_rules
from redis_gitops.synth.spec import ClusterSpec
from redis_gitops.synth.spec_loader import SpecError, load_spec, problem_at
from redis_gitops.synth.validation import (
    KubeconformResult,
    SchemaReport,
    default_crd_folder,
    run_kubeconform,
    validate_objects,
)


@dataclass
class Result:
    spec: ClusterSpec
    changes: Changes
    schema: SchemaReport
    diff: str = ""
    problems: list[str] = field(default_factory=list)
    policy: PolicyReport | None = None
    kubeconform: KubeconformResult | None = None
    promtool: PromtoolResult | None = None
    manifests: Manifests | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def objects_of(files: dict[str, str]) -> list[tuple[str, dict]]:
    """Every Kubernetes object in the files, with the file it came from."""
    out = []
    for path, text in files.items():
        if path in NOT_OBJECTS or not path.endswith((".yaml", ".yml")):
            continue
        for doc in load_documents(path, text, typ="safe"):
            if doc:
                out.append((path, doc))
    return out


def _render(spec: ClusterSpec, spec_path: Path) -> dict[str, str]:
    """The rendering of this spec: from the cache when these inputs were rendered before (render_cache.py),
    else by cdk8s (imported only then: it starts Node.js)."""
    key = render_cache.rendering_key(Path(spec_path).read_text())
    files = render_cache.load(key)
    if files is not None:
        return files
    from redis_gitops.synth.app import WaiverTargetError, render_files

    try:
        files = render_files(spec)
    except WaiverTargetError as err:
        raise SpecError([problem_at(spec_path, ("policy", "waivers", err.index, "name"), str(err))]) from None
    render_cache.store(key, files)
    return files


def synthesize(spec_path: Path, out: Path, crd_folder: Path | None = None) -> Result:
    """Render, validate, then swap into `out`; on any problem `out` is left exactly as it was.
    A bad spec raises SpecError, and an `out` holding files this tool did not write ForeignFilesError, before
    anything is written."""
    spec = load_spec(spec_path)
    foreign = foreign_files(out, HEADER)
    if foreign:
        raise ForeignFilesError(out, foreign)
    files = _render(spec, spec_path)
    schema = validate_objects(objects_of(files), spec.kubernetes_version, crd_folder or default_crd_folder())
    changes = compare(files, read_tree(out))
    result = Result(spec, changes, schema, problems=[str(e) for e in schema.errors])
    if result.ok and not changes.clean:
        replace_tree(out, files)
    return result


def git_tree(ref: str, folder: Path) -> dict[str, str]:
    """A rendered folder as the commit `ref` holds it (relative path -> text), read with git."""
    import subprocess

    prefix = folder.as_posix().strip("/") + "/"
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", ref, "--", prefix], capture_output=True, text=True, check=False
    )
    if listing.returncode != 0:
        raise ValueError(f"git cannot read {ref}: {listing.stderr.strip()}")
    files = {}
    for path in listing.stdout.splitlines():
        shown = subprocess.run(["git", "show", f"{ref}:{path}"], capture_output=True, text=True, check=True)
        files[path[len(prefix) :]] = shown.stdout
    if not files:
        raise ValueError(f"{ref} holds no {prefix}: give --base-dist or --base-spec")
    return files


def plan_change(
    spec_path: Path,
    base_ref: str | None = None,
    base_dist: Path | None = None,
    base_spec: Path | None = None,
    out: Path = Path("dist"),
):
    """The plan from what runs (a commit's rendered folder, a folder, or what a spec renders) to what this
    spec renders. Both renderings come from one process: at most one Node.js start."""
    from redis_gitops.plan.planner import make_plan

    spec = load_spec(spec_path)
    if base_spec is not None:
        base = _render(load_spec(base_spec), base_spec)
    elif base_dist is not None:
        if not base_dist.is_dir():
            raise ValueError(f"{base_dist} is not a folder")
        base = read_tree(base_dist)
    else:
        base = git_tree(base_ref or "origin/main", out)
    head = _render(spec, spec_path)
    return make_plan(base, head, {a.change: a.reason for a in spec.policy.acknowledge})


def synth_command(spec_path: Path, out: Path) -> str:
    """The command that renders this spec into this folder: `make synth` for the repository's own pair."""
    if Path(spec_path) == Path("cluster_spec.yaml") and Path(out) == Path("dist"):
        return "`make synth`"
    return f"`redis-gitops synth --spec {spec_path} --out {out}`"


def check(spec_path: Path, out: Path, crd_folder: Path | None = None) -> Result:
    """The pull-request gate: dist/ must be exactly what the spec renders, every object must be valid, and
    the policies must pass on dist/ as it is (so a hand edit is judged, not only the generator's output)."""
    spec = load_spec(spec_path)
    expected, actual = _render(spec, spec_path), read_tree(out)
    changes = compare(expected, actual)
    crds = crd_folder or default_crd_folder()
    manifests = Manifests.from_files(actual)  # dist/ parsed once, for every check below
    schema = validate_objects(manifests.documents, spec.kubernetes_version, crds)
    result = Result(spec, changes, schema, diff=unified_diff(expected, actual, out.as_posix()))
    result.kubeconform = run_kubeconform(out, spec.kubernetes_version, crds) if out.is_dir() else None
    if not changes.clean:
        result.problems.append(
            f"{out} is stale or hand-edited ({changes.summary()}): run {synth_command(spec_path, out)} and commit"
        )
    result.problems.extend(str(e) for e in schema.errors)
    if result.kubeconform is not None:
        result.problems.extend(str(e) for e in result.kubeconform.errors)
    result.promtool = check_rules(manifests.documents)
    if result.promtool is not None:
        result.problems.extend(result.promtool.errors)
    result.manifests = manifests
    result.policy = evaluate(manifests)
    if not result.policy.ok:
        result.problems.append(f"{len(result.policy.errors)} policy error(s) in {out}: see the findings above")
    return result
