"""Schema validation of rendered objects, offline: every error of a document, not only the first.

Built-in kinds use the strict Kubernetes schemas shipped inside the kubernetes-validate wheel (their
`$ref`s resolve to the wheel's `_definitions.json`, never to the network). Custom resources use the
datree CRD catalog layout `<group>/<kind>_<version>.json`; the schemas of the resources we emit ship in
`synth/crd_schemas/`, so a fresh clone validates every object with no network and no folder beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from importlib import resources as package_files
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

CRD_SCHEMAS_ENV = "REDIS_GITOPS_CRD_SCHEMAS"
DATREE_CATALOG = "https://raw.githubusercontent.com/datreeio/CRDs-catalog/main"


@dataclass(frozen=True)
class SchemaError:
    file: str
    object: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.object}: {self.path or '<root>'}: {self.message}"


@dataclass
class SchemaReport:
    errors: list[SchemaError] = field(default_factory=list)
    validated: int = 0
    unchecked: list[str] = field(default_factory=list)  # custom resources with no schema at hand


def _schema_dir(kubernetes_version: str) -> str:
    return f"v{kubernetes_version}.0-local-strict"


@cache
def _builtin_validator(kubernetes_version: str, kind: str, api_version: str) -> jsonschema.Validator | None:
    group_version = api_version.split("/")
    group = group_version[0].split(".")[0] if len(group_version) == 2 else ""
    version = group_version[-1]
    name = f"{kind.lower()}-{group}-{version}.json" if group else f"{kind.lower()}-{version}.json"
    root = package_files.files("kubernetes_validate").joinpath(
        "kubernetes-json-schema", _schema_dir(kubernetes_version)
    )
    try:
        schema = json.loads(root.joinpath(name).read_text())
    except FileNotFoundError:
        return None
    definitions = json.loads(root.joinpath("_definitions.json").read_text())
    registry = Registry().with_resources(
        [
            (definitions["$id"], Resource.from_contents(definitions)),
            (schema["$id"], Resource.from_contents(schema)),
        ]
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)


@cache
def _crd_validator(folder: str, kind: str, api_version: str) -> jsonschema.Validator | None:
    group, _, version = api_version.partition("/")
    path = Path(folder) / group / f"{kind.lower()}_{version}.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)(schema)


BUNDLED_CRD_SCHEMAS = Path(__file__).resolve().parent / "crd_schemas"


class SchemaFolderError(ValueError):
    """$REDIS_GITOPS_CRD_SCHEMAS names no folder: refuse rather than silently validate less."""


def default_crd_folder() -> Path:
    """The CRD schema folder: $REDIS_GITOPS_CRD_SCHEMAS when set (it must exist), else the bundled one."""
    override = os.environ.get(CRD_SCHEMAS_ENV)
    if override:
        if not Path(override).is_dir():
            raise SchemaFolderError(
                f"{CRD_SCHEMAS_ENV}={override} is not a folder; unset it to use the bundled "
                f"schemas in {BUNDLED_CRD_SCHEMAS}"
            )
        return Path(override)
    return BUNDLED_CRD_SCHEMAS


def validate_objects(
    objects: list[tuple[str, dict[str, Any]]], kubernetes_version: str, crd_folder: Path | None = None
) -> SchemaReport:
    """Validate (file, object) pairs against the schemas of `kubernetes_version` ('1.33')."""
    report = SchemaReport()
    for file, obj in objects:
        kind, api_version = obj.get("kind", ""), obj.get("apiVersion", "")
        label = f"{kind}/{obj.get('metadata', {}).get('name', '?')}"
        validator = _builtin_validator(kubernetes_version, kind, api_version)
        if validator is None and crd_folder is not None:
            validator = _crd_validator(str(crd_folder), kind, api_version)
        if validator is None:
            if "." in api_version.split("/")[0]:
                report.unchecked.append(label)
                continue
            report.errors.append(
                SchemaError(
                    file,
                    label,
                    "",
                    f"no schema for {api_version} {kind} in Kubernetes {kubernetes_version}: unknown kind or version",
                )
            )
            continue
        report.validated += 1
        for err in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
            path = ".".join(str(p) for p in err.absolute_path)
            report.errors.append(SchemaError(file, label, path, err.message))
    return report


@dataclass
class KubeconformResult:
    ran: bool
    errors: list[SchemaError] = field(default_factory=list)
    note: str = ""


def run_kubeconform(folder: Path, kubernetes_version: str, crd_folder: Path | None = None) -> KubeconformResult:
    """kubeconform as a second opinion when it is on PATH (the GitHub workflow installs it). Without network it
    cannot fetch its schemas: that is reported as a note, not as invalid manifests."""
    binary = shutil.which("kubeconform")
    if binary is None:
        return KubeconformResult(False, note="kubeconform not on PATH")
    files = sorted(str(p) for p in folder.rglob("*.yaml") if p.name != "kustomization.yaml")
    args = [
        binary,
        "-strict",
        "-summary",
        "-output",
        "json",
        "-kubernetes-version",
        f"{kubernetes_version}.0",
        "-schema-location",
        "default",
    ]
    # Custom resources: the local catalog when there is one, else the datree catalog kubeconform can fetch.
    base = str(crd_folder) if crd_folder is not None else DATREE_CATALOG
    args += ["-schema-location", base + "/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"]
    proc = subprocess.run([*args, *files], capture_output=True, text=True, timeout=120)
    try:
        resources = json.loads(proc.stdout).get("resources") or []
    except json.JSONDecodeError:
        return KubeconformResult(True, note=f"kubeconform gave no JSON (exit {proc.returncode}): {proc.stderr[:200]}")
    result = KubeconformResult(True)
    unfetched = []
    for r in resources:
        status, msg = str(r.get("status", "")).lower(), str(r.get("msg", ""))
        label = f"{r.get('kind', '?')}/{r.get('name', '?')}"
        file = Path(str(r.get("filename", ""))).relative_to(folder).as_posix() if r.get("filename") else "?"
        if "invalid" in status:
            result.errors.append(SchemaError(file, label, "", f"kubeconform: {msg}"))
        elif "error" in status:
            if "schema" in msg.lower() and ("could not find" in msg.lower() or "failed downloading" in msg.lower()):
                unfetched.append(label)
            else:
                result.errors.append(SchemaError(file, label, "", f"kubeconform: {msg}"))
    if unfetched:
        result.note = f"kubeconform could not fetch schemas for {len(unfetched)} object(s) (offline?)"
    return result
