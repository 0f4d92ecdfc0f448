"""The repository's spec on another engine: the same file with `redis.image` set to the official image of the
version the tested-versions table runs, rendered into a folder of its own (the suite's Valkey runs, make faults'
second engine)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from redis_gitops.contracts.engines import OFFICIAL_IMAGE, run_here
from redis_gitops.synth.spec import ClusterSpec
from redis_gitops.synth.spec_loader import load_spec


def spec_text_on(spec_text: str, engine: str) -> str:
    """`spec_text` (YAML, comments kept) with the image of the version of `engine` the suite runs."""
    yaml = YAML(typ="rt")
    data = yaml.load(spec_text)
    image = data.setdefault("redis", {}).setdefault("image", {})
    image["repository"], image["tag"] = OFFICIAL_IMAGE[engine], run_here(engine)
    image.pop("digest", None)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def render_on(spec_path: Path, engine: str, folder: Path) -> tuple[ClusterSpec, Path]:
    """(the spec, its dist/) for `engine`, under `folder`, rendered by the product's own `synth` command (the
    harness runs it, never imports the generator); a bad rendering raises with its output."""
    folder.mkdir(parents=True, exist_ok=True)
    spec_file, dist = folder / f"cluster_spec.{engine}.yaml", folder / "dist"
    spec_file.write_text(spec_text_on(Path(spec_path).read_text(), engine))
    synth = [sys.executable, "-m", "redis_gitops.synth", "synth", "--spec", str(spec_file), "--out", str(dist)]
    done = subprocess.run(synth, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the spec on {engine} does not render:\n{done.stdout}{done.stderr}")
    return load_spec(spec_file), dist
