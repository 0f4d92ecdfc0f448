"""The kubelet's part for Secrets on the local cluster. The local Secret store is one folder, one file per key
(`<dir>/secrets/<key>`); each container gets a folder of its own with the files its rendered projected volume
names (path <- key), fixed when the container starts from its pod's template. A Secret change reaches the files
of running containers (the kubelet's sync), never a running process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ruamel.yaml import YAML

from redis_gitops.contracts.paths import SECRETS_DIR


class MissingSecretKey(RuntimeError):
    """A container's template names a key the Secret does not hold: the kubelet would not start the pod."""


def projection(dist: Path, statefulset: str, container: str) -> dict[str, str]:
    """File path -> Secret key that `container` of the rendered StatefulSet finds under SECRETS_DIR."""
    doc = YAML(typ="safe").load((Path(dist) / f"{statefulset}-statefulset.yaml").read_text())
    pod = doc["spec"]["template"]["spec"]
    c = next(c for c in pod["containers"] if c["name"] == container)
    volume = next(m["name"] for m in c.get("volumeMounts") or [] if m["mountPath"] == SECRETS_DIR)
    sources = next(v for v in pod["volumes"] if v["name"] == volume)["projected"]["sources"]
    return {item["path"]: item["key"] for s in sources for item in (s.get("secret") or {}).get("items") or []}


def project(store: Path, folder: Path, items: dict[str, str]) -> None:
    """Write `folder` as the kubelet fills a projected volume: every item or nothing; its items kept beside it
    (`<folder>.items.json`) so that a later sync follows the container's own template."""
    missing = sorted(key for key in items.values() if not (store / key).is_file())
    if missing:
        raise MissingSecretKey(
            f"the Secret has no key {', '.join(missing)}: a pod whose template names it does not start "
            f"(add it to {store} first, as to the Secret in a cluster)"
        )
    staging = folder.with_name(folder.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700, parents=True)
    for path, key in items.items():
        target = staging / path
        target.write_bytes((store / key).read_bytes())
        target.chmod(0o400)
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    folder.with_name(folder.name + ".items.json").write_text(json.dumps(items, sort_keys=True))


def resync(store: Path, folder: Path) -> None:
    """The kubelet's periodic sync: the container's own items, with the Secret's current values."""
    items_file = folder.with_name(folder.name + ".items.json")
    if items_file.is_file():
        project(store, folder, json.loads(items_file.read_text()))
