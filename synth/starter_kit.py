"""`redis-gitops init`: the files a team adds to the GitOps repository it already has to keep a broker there
(the starter spec, its JSON Schema, the environments' folder, a Makefile fragment and a workflow calling ours),
as a pure function from where and what to the files' text. The starter spec is the repository's own example
(`cluster_spec.yaml` is a link to `synth/starter/cluster_spec.yaml`), so the two never differ."""

from __future__ import annotations

import json
import re
from importlib import resources

from redis_gitops.synth.spec import ClusterSpec

# Where redis-gitops itself lives (GitHub owner/name): the pinned install and the reusable workflow come from it.
TOOL_REPOSITORY = "example/airflow-redis"
REUSABLE_WORKFLOW = ".github/workflows/gate.yml"
DOCS = f"https://github.com/{TOOL_REPOSITORY}/blob/main/docs/operate/environments.md"
VENV = ".venv-redis-gitops"  # the Makefile fragment's install, never committed


def tool_source(version: str) -> str:
    """What pip installs: this version, from git, with the exact pins of its pyproject.toml."""
    return f"redis-gitops @ git+https://github.com/{TOOL_REPOSITORY}@v{version}"


def schema_text() -> str:
    """The spec's JSON Schema, as `redis-gitops schema` writes it."""
    return json.dumps(ClusterSpec.model_json_schema(by_alias=True), indent=2, sort_keys=True) + "\n"


def environment_schema_text() -> str:
    """The JSON Schema of an environment's file: the spec's, with nothing required (the base holds the rest) and
    `null` allowed for every key (it removes the key: environments.py's merge rules)."""
    schema = ClusterSpec.model_json_schema(by_alias=True)
    schema["title"] = "An environment's file (environments/<name>.yaml) over cluster_spec.yaml"
    return json.dumps(_partial(schema), indent=2, sort_keys=True) + "\n"


def _partial(node):
    if isinstance(node, list):
        return [_partial(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _partial(v) for k, v in node.items() if k != "required"}
    if isinstance(node.get("properties"), dict):
        out["properties"] = {k: {"anyOf": [_partial(v), {"type": "null"}]} for k, v in node["properties"].items()}
    return out


def _starter(name: str) -> str:
    return resources.files("redis_gitops.synth").joinpath("starter", name).read_text()


def starter_spec(repo_url: str, synced_path: str) -> str:
    """The example spec, syncing `synced_path` of `repo_url`."""
    text = _starter("cluster_spec.yaml")
    text, urls = re.subn(r"(?m)^(  repoUrl: )\S+", lambda m: m.group(1) + repo_url, text)
    text, paths = re.subn(r"(?m)^(  path: )dist\b", lambda m: m.group(1) + synced_path, text)
    if (urls, paths) != (1, 1):  # the example changed shape: say so rather than write a spec that syncs the wrong place
        raise ValueError("the starter spec has no single gitops repoUrl and path to set")
    return text


def starter_files(folder: str, repo_url: str, version: str, has_makefile: bool, has_gitignore: bool) -> dict[str, str]:
    """Path from the repository's root -> text. `folder`: where the broker's files go, from the root ('.' for the
    root itself)."""
    prefix = "" if folder in ("", ".") else folder.strip("/") + "/"
    source = tool_source(version)
    slug = re.sub(r"[^a-z0-9]+", "-", folder.lower()).strip("-")
    workflow = (
        _starter("workflow.yml")
        .replace("__FOLDER_GLOB__", f"{prefix}**")
        .replace("__FOLDER__", folder if prefix else ".")
        .replace("__WORKFLOW__", f"{TOOL_REPOSITORY}/{REUSABLE_WORKFLOW}@v{version}")
        .replace("__TOOL_SOURCE__", source)
    )
    files = {
        f"{prefix}cluster_spec.yaml": starter_spec(repo_url, f"{prefix}dist"),
        f"{prefix}cluster_spec.schema.json": schema_text(),
        f"{prefix}environment.schema.json": environment_schema_text(),
        f"{prefix}environments/README.md": _starter("environments.md").replace("__DOCS__", DOCS),
        f"{prefix}redis-gitops.mk": _starter("redis-gitops.mk").replace("__TOOL_SOURCE__", source),
        f".github/workflows/redis-broker{'-' + slug if slug else ''}.yml": workflow,
    }
    if not has_makefile:
        files[f"{prefix}Makefile"] = _starter("Makefile")
    if not has_gitignore:
        files[f"{prefix}.gitignore"] = f"{VENV}/\n"
    return files
