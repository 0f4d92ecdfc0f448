"""Two renderings as objects, matched by kind, namespace and name, and the paths where each pair differs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis_gitops.policies.manifests import NOT_OBJECTS, load_documents

Key = tuple[str, str | None, str]  # kind, namespace, name


@dataclass(frozen=True)
class Rendered:
    file: str
    doc: dict

    @property
    def kind(self) -> str:
        return self.doc.get("kind", "")

    @property
    def name(self) -> str:
        return (self.doc.get("metadata") or {}).get("name", "")

    @property
    def namespace(self) -> str | None:
        return (self.doc.get("metadata") or {}).get("namespace")

    @property
    def annotations(self) -> dict:
        return (self.doc.get("metadata") or {}).get("annotations") or {}

    def at(self, *path: str) -> Any:
        node: Any = self.doc
        for part in path:
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node


def index(files: dict[str, str]) -> dict[Key, Rendered]:
    """Every Kubernetes object of a rendering, by key (the Airflow values and kustomization.yaml are not objects)."""
    out: dict[Key, Rendered] = {}
    for path, text in sorted(files.items()):
        if path in NOT_OBJECTS or not path.endswith((".yaml", ".yml")):
            continue
        for doc in load_documents(path, text, typ="safe"):
            if isinstance(doc, dict) and doc.get("kind"):
                obj = Rendered(path, doc)
                out[(obj.kind, obj.namespace, obj.name)] = obj
    return out


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """The paths where a and b differ; list items with a `name` are matched by it (containers, env, volumes)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                out.append(sub)
            else:
                out += differences(a[key], b[key], sub)
        return out
    if isinstance(a, list) and isinstance(b, list) and _named(a) and _named(b):
        return differences({i["name"]: i for i in a}, {i["name"]: i for i in b}, path) if a != b else []
    return [] if a == b else [path]


def _named(items: list) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)
