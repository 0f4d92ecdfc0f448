"""A restore is a commit: the spec's `restore` section renders a Job named after its id, in a sync wave after
the StatefulSet, that runs restore.sh with the snapshot from the backup volume (it runs live in
tests/test_restore.py)."""

import pytest
from pydantic import ValidationError

from redis_gitops.contracts import pod_env
from redis_gitops.policies.engine import evaluate
from redis_gitops.policies.manifests import Manifests
from redis_gitops.synth.app import render_files
from redis_gitops.synth.spec import ClusterSpec

SNAPSHOT = "dump-20261126T161200123Z.rdb"


def with_restore(spec, **restore):
    data = spec.model_dump(by_alias=True)
    data["restore"] = {"snapshot": SNAPSHOT, "id": "incident-42", **restore}
    return ClusterSpec.model_validate(data)


@pytest.fixture(scope="module")
def restored(spec):
    files = render_files(with_restore(spec))
    manifests = Manifests.from_files(files)
    return {(o.kind, o.ref.name): o.doc for o in manifests.objects}, manifests


def test_the_restore_job_runs_restore_sh_after_the_statefulset_with_the_snapshot(restored, spec):
    objects, _ = restored
    job = objects[("Job", "redis-restore-incident-42")]
    assert int(job["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) > int(
        objects[("StatefulSet", "redis")]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
    )
    [c] = job["spec"]["template"]["spec"]["containers"]
    assert c["command"] == ["sh", "/scripts/restore.sh"]
    env = {e["name"]: e for e in c["env"]}
    assert env["RESTORE_SNAPSHOT"]["value"] == f"/backups/{SNAPSHOT}" and env["RESTORE_ID"]["value"] == "incident-42"
    assert env["SELF_HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"  # the pods replicate from it
    required = (
        set(pod_env.POD_SCRIPT_ENV) - set(pod_env.OPTIONAL_POD_SCRIPT_ENV) - {"DATA_DIR", "HANDOVER_TIMEOUT_SECONDS"}
    )
    engine = {"ENGINE"} if spec.redis.engine != "redis" else set()  # the engine's binaries: valkey-server
    assert required | engine | set(pod_env.RESTORE_ENV) == set(env)


def test_only_the_redis_pods_reach_the_restore_pod_and_it_reaches_them(restored):
    objects, _ = restored
    own = objects[("NetworkPolicy", "redis-restore")]["spec"]
    [rule] = own["ingress"]
    assert rule["from"] == [{"podSelector": objects[("StatefulSet", "redis")]["spec"]["selector"]}]
    server = objects[("NetworkPolicy", "redis")]["spec"]["ingress"]
    assert any(
        p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name") == "redis-restore"
        for r in server
        for p in r["from"]
    )


def test_the_gate_passes_a_spec_with_a_restore(restored):
    _, manifests = restored
    assert evaluate(manifests).errors == []


def test_a_restore_needs_the_backup_volume_and_a_snapshot_name(spec):
    data = with_restore(spec).model_dump(by_alias=True)
    data["backup"]["enabled"] = False
    data["policy"]["waivers"] = [w for w in data["policy"]["waivers"] if w["kind"] != "CronJob"]
    with pytest.raises(ValidationError, match="a restore reads its snapshot from the backup volume"):
        ClusterSpec.model_validate(data)
    with pytest.raises(ValidationError, match="snapshot"):
        with_restore(spec, snapshot="../../etc/passwd")
