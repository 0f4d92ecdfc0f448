"""Renderings kept by what they depend on: the spec's text, the generator's own files and the versions of the
libraries that render. `check` on a spec that `synth` (or an earlier `check`) already rendered then takes the
files from here and never starts Node.js or imports cdk8s, most of its time; any change to one of those inputs
is a miss and renders as before, so the gate judges exactly what a fresh rendering would give."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from importlib import metadata
from pathlib import Path

import redis_gitops.contracts
import redis_gitops.synth

CACHE_ENV = "REDIS_GITOPS_CACHE"
RENDERING_LIBRARIES = ("redis-gitops", "cdk8s", "cdk8s-plus-33", "constructs", "pydantic", "ruamel.yaml")


def cache_dir() -> Path:
    """$REDIS_GITOPS_CACHE, else $XDG_CACHE_HOME/redis-gitops, else ~/.cache/redis-gitops."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "redis-gitops"


def rendering_key(spec_text: str) -> str:
    return hashlib.sha256(_code_digest().encode() + spec_text.encode()).hexdigest()


@functools.cache
def _code_digest() -> str:
    """The generator's own files and the rendering libraries' versions: read once per process (environments
    render many specs with the same code)."""
    digest = hashlib.sha256()
    for package in (redis_gitops.synth, redis_gitops.contracts):
        root = Path(package.__file__).parent
        for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".sh") and p.is_file()):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    for name in RENDERING_LIBRARIES:
        try:
            digest.update(f"{name}=={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name} missing".encode())
    return digest.hexdigest()


def load(key: str) -> tuple[dict[str, str], dict[str, list]] | None:
    """(files, documents) as app.render gave them, or None (a miss, or an entry of an older layout)."""
    try:
        entry = json.loads((cache_dir() / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("files"), dict):
        return None
    return entry["files"], entry.get("documents") or {}


def store(key: str, files: dict[str, str], documents: dict[str, list]) -> None:
    """Written whole or not at all (a rename); a cache that cannot be written is no error."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".tmp") as f:
            json.dump({"files": files, "documents": documents}, f)
        os.replace(f.name, folder / f"{key}.json")
    except OSError:
        pass
