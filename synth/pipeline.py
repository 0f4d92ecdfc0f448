"""The two jobs the CLI and CI run: synthesise dist/ from the spec, and check dist/ against the spec.

Both return a result object and print nothing, so tests call them directly; I/O stays at the edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from redis_gitops.plan.model import Plan
from redis_gitops.policies.engine import PolicyReport, evaluate
from redis_gitops.policies.manifests import NOT_OBJECTS, Manifests, load_documents
from redis_gitops.synth import render_cache
from redis_gitops.synth.environments import Environment, load_environments, promote
from redis_gitops.synth.output import (
    HEADER,
    Changes,
    ForeignFilesError,
    compare,
    file_name,
    foreign_files,
    read_tree,
    replace_tree,
    unified_diff,
)
from redis_gitops.synth.promtool import PromtoolResult, check_rules_of
from redis_gitops.synth.spec_loader import SpecError, problem_at
from redis_gitops.synth.validation import (
    KubeconformResult,
    SchemaReport,
    default_crd_folder,
    run_kubeconform,
    validate_objects,
)


@dataclass
class Gate:
    """One environment's judgement by the gate: its rendered folder's schemas, rules and policies."""

    environment: Environment
    folder: Path
    schema: SchemaReport
    policy: PolicyReport
    manifests: Manifests
    kubeconform: KubeconformResult | None = None
    promtool: PromtoolResult | None = None


@dataclass
class Result:
    environments: list[Environment]
    changes: Changes
    schema: SchemaReport
    diff: str = ""
    problems: list[str] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def kubernetes_versions(self) -> list[str]:
        return sorted({e.spec.kubernetes_version for e in self.environments})


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


@dataclass(frozen=True)
class Rendering:
    files: dict[str, str]
    documents: dict[str, list]  # each YAML file's documents, as app.render made them


def render(env: Environment) -> Rendering:
    """The rendering of one environment: from the cache when these inputs were rendered before
    (render_cache.py), else by cdk8s (imported only then: it starts Node.js, once per process)."""
    return render_all([env])[env.name]


def render_all(environments: list[Environment]) -> dict[str | None, Rendering]:
    """Every environment's rendering, from the cache where it can (one Node.js start for those that miss)."""
    renderings: dict[str | None, Rendering] = {}
    for env in environments:
        key = render_cache.rendering_key(env.source)
        cached = render_cache.load(key)
        if cached is not None:
            renderings[env.name] = Rendering(*cached)
            continue
        from redis_gitops.synth.app import WaiverTargetError
        from redis_gitops.synth.app import render as render_spec

        try:
            files, documents = render_spec(env.spec)
        except WaiverTargetError as err:
            raise SpecError([problem_at(env.locate, ("policy", "waivers", err.index, "name"), str(err))]) from None
        render_cache.store(key, files, documents)
        renderings[env.name] = Rendering(files, documents)
    return renderings


def rendered_objects(rendering: Rendering) -> list[tuple[str, dict]]:
    """objects_of(rendering.files) without parsing them again."""
    return [
        (path, doc)
        for path, docs in sorted(rendering.documents.items())
        if path not in NOT_OBJECTS and path.endswith((".yaml", ".yml"))
        for doc in docs
        if doc
    ]


def refuse_unused_waivers(environments: list[Environment], renderings: dict[str | None, Rendering]) -> None:
    """A waiver environments share applies where its object is rendered (an environment without backups has no
    backup CronJob to waive), but one whose object no environment renders names nothing: a typo, refused."""
    if len(environments) == 1 and environments[0].name is None:
        return  # one spec: app.py refuses such a waiver while rendering
    used: set[tuple[str, str, str]] = set()
    for e in environments:
        for w in e.spec.policy.waivers:
            if file_name({"kind": w.kind, "metadata": {"name": w.name}}) in renderings[e.name].files:
                used.add((w.rule, w.kind, w.name))
    problems = []
    for e in environments:
        for i, w in enumerate(e.spec.policy.waivers):
            if (w.rule, w.kind, w.name) not in used:
                message = f"no environment renders {w.kind}/{w.name}: waive an object one of them renders"
                problems.append(problem_at(e.locate, ("policy", "waivers", i, "name"), message))
                used.add((w.rule, w.kind, w.name))  # once, not once per environment
    if problems:
        raise SpecError(problems)


def _prefix(env: Environment, files: dict[str, str], whole: bool) -> dict[str, str]:
    """An environment's files as the rendered folder holds them: under its own folder when every environment
    is rendered into one."""
    return {f"{env.name}/{p}": t for p, t in files.items()} if env.name and whole else files


def _merge_reports(reports: list[SchemaReport]) -> SchemaReport:
    merged = SchemaReport()
    for r in reports:
        merged.errors.extend(r.errors)
        merged.validated += r.validated
        merged.unchecked.extend(u for u in r.unchecked if u not in merged.unchecked)
    return merged


def synthesize(spec_path: Path, out: Path, crd_folder: Path | None = None, env: str | None = None) -> Result:
    """Render every environment (or the one named `env` into its own folder), validate, then swap into the
    folder; on any problem it is left exactly as it was. A bad spec raises SpecError, and a folder holding files
    this tool did not write ForeignFilesError, before anything is written. Rendering every environment also
    removes the folders of environments that are gone."""
    environments = load_environments(spec_path, only=env)
    target = out / env if env else out
    foreign = foreign_files(target, HEADER)
    if foreign:
        raise ForeignFilesError(target, foreign)
    files: dict[str, str] = {}
    reports = []
    renderings = render_all(environments)
    if env is None:
        refuse_unused_waivers(environments, renderings)
    for e in environments:
        objects = [(f"{e.name}/{f}" if e.name else f, o) for f, o in rendered_objects(renderings[e.name])]
        reports.append(validate_objects(objects, e.spec.kubernetes_version, crd_folder or default_crd_folder()))
        files.update(_prefix(e, renderings[e.name].files, whole=env is None))
    schema = _merge_reports(reports)
    changes = compare(files, read_tree(target))
    result = Result(environments, changes, schema, problems=[str(e) for e in schema.errors])
    if result.ok and not changes.clean:
        replace_tree(target, files)
    return result


def git_tree(ref: str, folder: Path) -> dict[str, str]:
    """A rendered folder as the commit `ref` holds it (relative path -> text), read with git in two processes
    (every file's blob at once); empty when the commit has no such folder (an environment added by this change).
    The folder is relative to where we are: the broker may live in a folder of the repository."""
    import subprocess

    prefix = folder.as_posix().strip("/") + "/"
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "-z", ref, "--", prefix], capture_output=True, text=True, check=False
    )
    if listing.returncode != 0:
        raise ValueError(f"git cannot read {ref}: {listing.stderr.strip()}")
    blobs = []  # (path under the folder, blob id)
    for entry in filter(None, listing.stdout.split("\0")):
        meta, path = entry.split("\t", 1)
        if meta.split()[1] == "blob":
            blobs.append((path[len(prefix) :], meta.split()[2]))
    if not blobs:
        return {}
    batch = subprocess.run(
        ["git", "cat-file", "--batch"],
        input="".join(f"{blob}\n" for _, blob in blobs).encode(),
        capture_output=True,
        check=True,
    ).stdout
    files, at = {}, 0
    for path, _ in blobs:  # each answer: "<id> blob <size>\n<content>\n"
        header_end = batch.index(b"\n", at)
        size = int(batch[at:header_end].split()[2])
        files[path] = batch[header_end + 1 : header_end + 1 + size].decode()
        at = header_end + 1 + size + 1
    return files


@dataclass
class EnvironmentPlan:
    environment: Environment
    plan: Plan


def plan_changes(
    spec_path: Path,
    base_ref: str | None = None,
    base_dist: Path | None = None,
    base_spec: Path | None = None,
    out: Path = Path("dist"),
    env: str | None = None,
    base_env: str | None = None,
) -> list[EnvironmentPlan]:
    """The plan of each environment (or the one named `env`) from what runs (a commit's rendered folder, a
    folder, or what a spec renders) to what the files render. With `base_env`, the plan of promoting `env`'s
    settings to `base_env` (promotion.py). Every rendering comes from one process: at most one Node.js start."""
    from redis_gitops.plan.planner import make_plan

    if base_env is not None:
        if env is None:
            raise ValueError("--base-env needs --env: the environment whose settings are promoted")
        target, promoted = promote(spec_path, env, base_env)
        plan = make_plan(render(target).files, render(promoted).files, _acknowledged(promoted))
        return [EnvironmentPlan(promoted, plan)]
    environments = load_environments(spec_path, only=env)
    if base_dist is not None and not base_dist.is_dir():
        raise ValueError(f"{base_dist} is not a folder")

    def running(folder: Path) -> dict[str, str]:
        return read_tree(folder) if base_dist is not None else git_tree(base_ref or "origin/main", folder)

    single = running(base_dist or out) if environments[0].name and base_spec is None else {}
    single = single if "kustomization.yaml" in single else {}  # what runs was rendered without environments
    plans = []
    for e in environments:
        if base_spec is not None:
            (base_env_spec,) = load_environments(base_spec, only=e.name) if e.name else load_environments(base_spec)
            base = render(base_env_spec).files
        else:
            base = running(e.folder(base_dist or out))
            if not base and e.name is None:
                raise ValueError(f"{base_ref or 'origin/main'} holds no {out}/: give --base-dist or --base-spec")
        takes_over = bool(single) and not base and _same_place(e, single)
        plan = make_plan(single if takes_over else base, render(e).files, _acknowledged(e))
        if takes_over:
            moved(plan, e, out, _acknowledged(e))
        plans.append(EnvironmentPlan(e, plan))
    return plans


def _same_place(env: Environment, files: dict[str, str]) -> bool:
    """The environment runs the objects a rendering without environments ran (its StatefulSet, same namespace)."""
    from redis_gitops.synth.naming import Names

    objects = [o for _, o in objects_of({p: t for p, t in files.items() if p.endswith("-statefulset.yaml")})]
    return any(
        o["metadata"]["name"] == Names(env.spec).statefulset and o["metadata"].get("namespace") == env.spec.namespace
        for o in objects
    )


def moved(plan: Plan, env: Environment, out: Path, acknowledged: dict[str, str]) -> None:
    """The broker that ran from `out/` runs from `out/<env>/` after the merge: the old Application or Flux
    Kustomization still syncs `out/`, which then holds only folders, and with prune deletes the broker."""
    from redis_gitops.plan.model import Finding, Verdict

    plan.risks.append(
        Finding(
            code="environments-layout",
            object=f"{out}/ -> {out}/{env.name}/",
            field="gitops.path",
            verdict=Verdict.DISRUPTIVE,
            what=f"the broker's objects move to {out}/{env.name}/; the Argo CD Application (or Flux Kustomization) "
            f"that syncs {out}/ finds no manifests there and, with prune, deletes the running broker and its "
            "queued tasks",
            procedure="before merging, remove the old Application without deleting what it manages (`argocd app "
            "delete <its name> --cascade=false`; Flux: `suspend` the Kustomization, set prune: false, delete it); "
            f"merge; then apply {out}/{env.name}/argocd/ (or flux/): the new Application adopts the running "
            "objects, same names and namespace, with the changes this plan lists",
            data_loss_risk=True,
            acknowledged=acknowledged.get("environments-layout", ""),
        )
    )
    if plan.verdict.rank < Verdict.DISRUPTIVE.rank:
        plan.verdict = Verdict.DISRUPTIVE


def _acknowledged(env: Environment) -> dict[str, str]:
    return {a.change: a.reason for a in env.spec.policy.acknowledge}


def plan_change(
    spec_path: Path,
    base_ref: str | None = None,
    base_dist: Path | None = None,
    base_spec: Path | None = None,
    out: Path = Path("dist"),
) -> Plan:
    """The plan of a spec without environments (plan_changes' only plan)."""
    (only,) = plan_changes(spec_path, base_ref, base_dist, base_spec, out)
    return only.plan


def synth_command(spec_path: Path, out: Path) -> str:
    """The command that renders this spec into this folder: `make synth` for the repository's own pair."""
    if Path(spec_path) == Path("cluster_spec.yaml") and Path(out) == Path("dist"):
        return "`make synth`"
    return f"`redis-gitops synth --spec {spec_path} --out {out}`"


def _judge(env: Environment, folder: Path, files: dict[str, str], rendering: Rendering, crds: Path) -> Gate:
    # The folder parsed once for every check below; a file exactly as rendered is not parsed at all.
    same = {p: docs for p, docs in rendering.documents.items() if files.get(p) == rendering.files.get(p)}
    manifests = Manifests.from_files(files, parsed=same)
    schema = validate_objects(manifests.documents, env.spec.kubernetes_version, crds)
    gate = Gate(env, folder, schema, evaluate(manifests), manifests)
    gate.kubeconform = run_kubeconform(folder, env.spec.kubernetes_version, crds) if folder.is_dir() else None
    return gate


def check(spec_path: Path, out: Path, crd_folder: Path | None = None) -> Result:
    """The pull-request gate: the rendered folder must be exactly what the spec renders (every environment, and
    no folder of one that is gone), every object must be valid, and the policies must pass on each environment's
    folder as it is (so a hand edit is judged, not only the generator's output)."""
    environments = load_environments(spec_path)
    whole = render_all(environments)
    refuse_unused_waivers(environments, whole)
    expected: dict[str, str] = {}
    for e in environments:
        expected.update(_prefix(e, whole[e.name].files, whole=True))
    actual = read_tree(out)
    changes = compare(expected, actual)
    crds = crd_folder or default_crd_folder()
    gates = []
    for e in environments:
        folder = e.folder(out)
        prefix = f"{e.name}/" if e.name else ""
        files = {p[len(prefix) :]: t for p, t in actual.items() if p.startswith(prefix)}
        gates.append(_judge(e, folder, files, whole[e.name], crds))
    for gate, promtool in zip(gates, check_rules_of([g.manifests.documents for g in gates]), strict=True):
        gate.promtool = promtool
    result = Result(
        environments,
        changes,
        _merge_reports([g.schema for g in gates]),
        diff=unified_diff(expected, actual, out.as_posix()),
        gates=gates,
    )
    if not changes.clean:
        result.problems.append(
            f"{out} is stale or hand-edited ({changes.summary()}): run {synth_command(spec_path, out)} and commit"
        )
    for g in gates:
        result.problems.extend(str(e) for e in g.schema.errors)
        if g.kubeconform is not None:
            result.problems.extend(str(e) for e in g.kubeconform.errors)
        if g.promtool is not None:
            result.problems.extend(g.promtool.errors)
        if not g.policy.ok:
            result.problems.append(f"{len(g.policy.errors)} policy error(s) in {g.folder}: see the findings above")
    return result
