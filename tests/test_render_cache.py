"""`check` takes a rendering it made before from the cache (synth/render_cache.py) and then never imports cdk8s
or starts Node.js; any change to what a rendering depends on is a miss, and a broken entry is only a miss."""

import os
import shutil
import subprocess
import sys

from conftest import ROOT

# The installed CLI, with cdk8s, jsii and constructs made unimportable: only a cache hit can pass.
WITHOUT_CDK8S = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("cdk8s", "cdk8s_plus_33", "constructs", "jsii"):
            raise ImportError(f"{name}: the cache should have answered")
sys.meta_path.insert(0, Block())
from redis_gitops.synth.main import main
sys.argv = ["redis-gitops", *sys.argv[1:]]
main()
"""


def cli(tmp_path, *args, block_cdk8s=False):
    argv = ["-c", WITHOUT_CDK8S] if block_cdk8s else ["-m", "redis_gitops.synth"]
    return subprocess.run(
        [sys.executable, *argv, *map(str, args)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "REDIS_GITOPS_CACHE": str(tmp_path / "cache")},
    )


def test_check_after_synth_needs_no_cdk8s(tmp_path):
    shutil.copy(ROOT / "cluster_spec.yaml", tmp_path)
    assert cli(tmp_path, "synth", "--out", tmp_path / "dist").returncode == 0
    run = cli(tmp_path, "check", "--out", tmp_path / "dist", block_cdk8s=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "check passed" in run.stdout


def test_a_changed_spec_is_rendered_again(tmp_path):
    shutil.copy(ROOT / "cluster_spec.yaml", tmp_path)
    assert cli(tmp_path, "synth", "--out", tmp_path / "dist").returncode == 0
    spec = tmp_path / "cluster_spec.yaml"
    spec.write_text(spec.read_text().replace("  quorum: 2 ", "  quorum: 3 ", 1))
    assert cli(tmp_path, "check", "--out", tmp_path / "dist", block_cdk8s=True).returncode != 0  # a miss
    run = cli(tmp_path, "check", "--out", tmp_path / "dist")
    assert run.returncode == 1 and "stale or hand-edited" in run.stderr, run.stdout + run.stderr


def test_a_broken_cache_entry_is_only_a_miss(tmp_path):
    shutil.copy(ROOT / "cluster_spec.yaml", tmp_path)
    assert cli(tmp_path, "synth", "--out", tmp_path / "dist").returncode == 0
    for entry in (tmp_path / "cache").glob("*.json"):
        entry.write_text("{not json")
    run = cli(tmp_path, "check", "--out", tmp_path / "dist")
    assert run.returncode == 0, run.stdout + run.stderr
