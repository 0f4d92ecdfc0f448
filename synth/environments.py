"""Environments: the base spec plus one small file per environment (`environments/<name>.yaml`), merged by the
rules below and validated like one spec, each problem reported in the file and at the line that holds the value.

Merge rules (docs/operate/environments.md): mappings merge key by key, at every depth; any other value, lists
included, replaces the base's whole (a list's items have no key to merge them by); `null` removes the key, so the
model's default applies. A repository without an `environments/` folder (or with no file in it) is one spec, as
before: rendered into `dist/` itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from redis_gitops.synth.spec import ClusterSpec
from redis_gitops.synth.spec_loader import (
    Locate,
    Problem,
    SpecError,
    locate_in,
    parse_yaml,
    problem_at,
    read_spec_text,
    validate_spec,
)

ENVIRONMENTS_DIR = "environments"
ENVIRONMENT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,28}[a-z0-9])?")
# Where an environment runs: two environments with the same place would render the same objects over each other.
PLACE_KEYS = ("namespace", "name")


@dataclass(frozen=True)
class Environment:
    """One rendering: `name` None for a repository without environments."""

    name: str | None
    spec: ClusterSpec
    source: str  # what the rendering depends on besides the code: the render cache's key
    locate: Locate

    def folder(self, out: Path) -> Path:
        return out / self.name if self.name else out

    @property
    def label(self) -> str:
        return f"environment {self.name}" if self.name else "the spec"


def environments_folder(spec_path: Path) -> Path:
    return Path(spec_path).parent / ENVIRONMENTS_DIR


def environment_files(spec_path: Path) -> list[Path]:
    folder = environments_folder(spec_path)
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def load_environments(spec_path: Path, only: str | None = None) -> list[Environment]:
    """Every environment the repository defines (or the one named `only`), validated; a spec without
    environments is one Environment named None."""
    spec_path = Path(spec_path)
    files = environment_files(spec_path)
    base_text = read_spec_text(spec_path)
    if not files:
        if only is not None:
            raise ValueError(f"--env {only}: {environments_folder(spec_path)} holds no environment file ({only}.yaml)")
        base = parse_yaml(base_text, str(spec_path))
        _refuse_environment_key(base, str(spec_path))
        spec = validate_spec(base, locate_in(str(spec_path), base), {str(spec_path): base_text.splitlines()})
        return [Environment(None, spec, base_text, locate_in(str(spec_path), base))]
    names = [f.stem for f in files]
    if only is not None and only not in names:
        raise ValueError(f"--env {only}: no such environment; the environments are {', '.join(names)}")
    base = parse_yaml(base_text, str(spec_path))
    _refuse_environment_key(base, str(spec_path))
    found: dict[Problem, list[str]] = {}  # each problem once, with the environments it appears in
    loaded: list[Environment] = []
    for file in files:
        if only is not None and file.stem != only:
            continue
        try:
            loaded.append(_load_one(spec_path, base, base_text, file))
        except SpecError as err:
            for problem in err.problems:
                found.setdefault(problem, []).append(file.stem)
    if found:
        raise SpecError([_in_environments(p, names, spec_path) for p, names in found.items()])
    _refuse_shared_places(loaded)
    return loaded


def _in_environments(problem: Problem, names: list[str], spec_path: Path) -> Problem:
    """A problem the base's value causes says in which environments (once, however many)."""
    if problem.file != str(spec_path):
        return problem
    which = f"environment {names[0]}" if len(names) == 1 else f"environments {', '.join(names)}"
    return Problem(problem.file, problem.line, problem.field, f"{problem.message} (in {which})")


def _overlay(file: Path) -> tuple[CommentedMap, str]:
    text = read_spec_text(file)
    overlay = parse_yaml(text, str(file), empty_ok=True)
    _refuse_environment_key(overlay, str(file))
    return overlay, text


def _load_one(spec_path: Path, base: CommentedMap, base_text: str, file: Path) -> Environment:
    name = file.stem
    if not ENVIRONMENT_NAME.fullmatch(name):
        raise SpecError(
            [
                Problem(
                    str(file),
                    0,
                    "",
                    f"'{name}' cannot name an environment (its folder in dist/ and its Argo CD Application): "
                    "rename the file to lowercase letters, digits and '-', at most 30 characters",
                )
            ]
        )
    overlay, text = _overlay(file)
    return _layered(spec_path, base, base_text, name, [Layer(file, overlay, text)])


@dataclass(frozen=True)
class Layer:
    """An environment's file to merge over the base; `skip`: its top-level keys left out."""

    file: Path
    data: CommentedMap
    text: str
    skip: tuple[str, ...] = ()


def _layered(spec_path: Path, base: CommentedMap, base_text: str, name: str, layers: list[Layer]) -> Environment:
    """The base with each layer merged over it in turn, validated as one spec named `name`."""
    origins: dict[tuple, tuple[str, int]] = {}
    _record(base, str(spec_path), (), origins, 1)
    merged: Any = base
    lines = {str(spec_path): base_text.splitlines()}
    for layer in layers:
        merged = merge(merged, layer.data, str(layer.file), (), origins, layer.skip)
        lines[str(layer.file)] = layer.text.splitlines()
    merged["environment"] = name

    def locate(loc: tuple) -> tuple[str, int]:
        for i in range(len(loc), -1, -1):
            if loc[:i] in origins:
                return origins[loc[:i]]
        return str(spec_path), 1

    spec = validate_spec(merged, locate, lines)
    return Environment(name, spec, json.dumps(merged, sort_keys=True, default=str), locate)


# What says where an environment runs rather than how: a promotion keeps the target's.
IDENTITY_KEYS = ("name", "namespace", "clusterDomain", "kubernetesVersion", "gitops", "restore")


def promote(spec_path: Path, source: str, target: str) -> tuple[Environment, Environment]:
    """(`target` as its files render it, `target` with `source`'s settings): the source's environment file merged
    over the target's, except the keys that say where the target runs (IDENTITY_KEYS)."""
    spec_path = Path(spec_path)
    folder = environments_folder(spec_path)
    for name in (source, target):
        if not (folder / f"{name}.yaml").is_file():
            raise ValueError(f"no environment {name}: {folder}/{name}.yaml does not exist")
    (now,) = load_environments(spec_path, only=target)
    base_text = read_spec_text(spec_path)
    base = parse_yaml(base_text, str(spec_path))
    target_overlay, target_text = _overlay(folder / f"{target}.yaml")
    source_overlay, source_text = _overlay(folder / f"{source}.yaml")
    layers = [
        Layer(folder / f"{target}.yaml", target_overlay, target_text),
        Layer(folder / f"{source}.yaml", source_overlay, source_text, skip=IDENTITY_KEYS),
    ]
    return now, _layered(spec_path, base, base_text, target, layers)


def merge(
    base: Any, overlay: Any, file: str, prefix: tuple, origins: dict[tuple, tuple[str, int]], skip: tuple = ()
) -> Any:
    """`overlay` over `base` by the module's rules; `origins` (location -> file, line) follows every value."""
    out = _plain(base)
    for key in overlay:
        if key in skip:
            continue
        where = prefix + (key,)
        line = overlay.lc.key(key)[0] + 1
        value = overlay[key]
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            origins[where] = (file, line)
            out[key] = merge(out[key], value, file, where, origins)
            continue
        _forget(origins, where)
        if value is None:
            out.pop(key, None)
            origins[where] = (file, line)  # a problem with the default that now applies points at the removal
        else:
            out[key] = _plain(value)
            _record(value, file, where, origins, line)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _record(node: Any, file: str, where: tuple, origins: dict[tuple, tuple[str, int]], line: int) -> None:
    origins[where] = (file, line)
    if isinstance(node, CommentedMap):
        for key in node:
            _record(node[key], file, where + (key,), origins, node.lc.key(key)[0] + 1)
    elif isinstance(node, CommentedSeq):
        for i, item in enumerate(node):
            _record(item, file, where + (i,), origins, node.lc.item(i)[0] + 1)


def _forget(origins: dict[tuple, tuple[str, int]], where: tuple) -> None:
    for loc in [loc for loc in origins if loc[: len(where)] == where]:
        del origins[loc]


def _refuse_environment_key(data: CommentedMap, filename: str) -> None:
    if "environment" in data:
        raise SpecError(
            [
                Problem(
                    filename,
                    data.lc.key("environment")[0] + 1,
                    "environment",
                    "an environment is named by its file (environments/<name>.yaml): remove this key",
                )
            ]
        )


def destination(spec: ClusterSpec) -> str:
    """The cluster an environment is synced to, as one comparable string."""
    d = spec.gitops.destination
    return d.name or d.server


def _refuse_shared_places(environments: list[Environment]) -> None:
    seen: dict[tuple, str] = {}
    problems = []
    for env in environments:
        place = (destination(env.spec), *(getattr(env.spec, k) for k in PLACE_KEYS))
        if place in seen:
            problems.append(
                problem_at(
                    env.locate,
                    ("namespace",),
                    f"environments {seen[place]} and {env.name} would run the same objects (cluster {place[0]}, "
                    f"namespace {env.spec.namespace}, name {env.spec.name}): give each its own namespace, name or "
                    "gitops.destination",
                )
            )
        seen.setdefault(place, env.name or "")
    if problems:
        raise SpecError(problems)
