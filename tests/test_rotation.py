"""Every password the broker uses rotated on a running local cluster, in the three commits the docs give
(`alsoAccept` the new key; send the new key, accept both; accept only the new key), applied with `local apply`
under a writer confirming with WAIT 1 and a Celery worker configured by Airflow's provider, with Airflow
redeployed with the new key between the second and third commits: nothing refused, nothing lost."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import redis
from test_local_apply import _render as render_edited

from redis_gitops.contracts.paths import AIRFLOW_PASSWORD_FILE
from redis_gitops.devcluster.apply import apply
from redis_gitops.devcluster.local_cluster import LocalCluster
from redis_gitops.faults.airflow_worker import run as run_worker
from redis_gitops.faults.load import confirmed_writes

from conftest import ROOT

# spec path of each SecretRef -> its key today
PASSWORDS = {
    ("auth", "redisPassword"): "redis-password",
    ("auth", "sentinelPassword"): "sentinel-password",
    ("airflow", "password"): "airflow-password",
    ("airflow", "keda", "password"): "keda-password",
    ("monitoring", "exporter", "password"): "exporter-password",
    ("smoke", "password"): "smoke-password",
}


@pytest.fixture(scope="module")
def cluster(spec, tmp_path_factory):
    with LocalCluster(spec, ROOT / "dist", tmp_path_factory.mktemp("rotation-cluster"), subnet=94) as c:
        yield c


def step(tmp_path: Path, name: str, refs: dict[str, str | None], send_new: bool):
    """The spec with every password's key and alsoAccept set for one step of the rotation, rendered."""

    def edit(doc):
        for path, key in PASSWORDS.items():
            node = doc
            for part in path[:-1]:
                node = node.setdefault(part, {})
            ref = {"secretName": "redis-auth", "key": f"{key}-2" if send_new else key}
            if refs.get(key):
                ref["alsoAccept"] = refs[key]
            node[path[-1]] = ref
        doc["policy"]["acknowledge"] = [{"change": "secret-key-added", "reason": "the new keys are in the Secret"}]

    return render_edited(tmp_path, name, edit)


def airflow_files(tmp_path: Path, name: str, password: str) -> Path:
    """Airflow's own mounted password file, as its Helm release gives it (a deploy changes it)."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / AIRFLOW_PASSWORD_FILE).write_text(password)
    return folder


@pytest.mark.faults  # make faults: three rolls under load, about 3 minutes
def test_every_password_rotates_in_three_commits_with_no_client_refused(cluster, tmp_path):
    cluster.wait_until_healthy(60)
    log_sizes = {p: p.stat().st_size for p in cluster.base.glob("pod-*/*.log")}
    store = cluster.secret_store
    old = {key: (store / key).read_text() for key in PASSWORDS.values()}
    for key in PASSWORDS.values():  # the operator adds the new keys to the Secret first
        (store / f"{key}-2").write_text(secrets.token_urlsafe(24))
        (store / f"{key}-2").chmod(0o600)
    new = {key: (store / f"{key}-2").read_text() for key in PASSWORDS.values()}
    one, one_dist = step(tmp_path, "one", {k: f"{k}-2" for k in PASSWORDS.values()}, send_new=False)
    two, two_dist = step(tmp_path, "two", {k: k for k in PASSWORDS.values()}, send_new=True)
    three, three_dist = step(tmp_path, "three", {}, send_new=True)

    applied = []

    def rotate_first_two(c):
        applied.append(apply(c, one, one_dist))
        c.wait_until_healthy(60)
        applied.append(apply(c, two, two_dist))

    # Commits 1 and 2, with Airflow and the writer on the old passwords (accepted all along).
    with confirmed_writes(cluster) as before_deploy:
        first = run_worker(
            cluster,
            rotate_first_two,
            count=900,
            rate=10.0,
            fault_after=2.0,
            secrets_dir=airflow_files(tmp_path, "airflow-old", old["airflow-password"]),
        )
    # Airflow's deploy: its pods restart with the new key. The cluster's own helpers send the new one too.
    cluster.state.password_file = str(store / "redis-password-2")
    cluster.state.sentinel_password_file = str(store / "sentinel-password-2")
    cluster.state.save()
    with confirmed_writes(cluster) as after_deploy:
        second = run_worker(
            cluster,
            lambda c: applied.append(apply(c, three, three_dist)),
            count=400,
            rate=10.0,
            fault_after=2.0,
            secrets_dir=airflow_files(tmp_path, "airflow-new", new["airflow-password"]),
        )
    log_a, lost_a, log_b, lost_b = before_deploy.log, before_deploy.lost, after_deploy.log, after_deploy.lost

    refused = [e for run in (first, second) for e in run.errors_in_worker_log if "WRONGPASS" in e or "NOAUTH" in e]
    # The broker's own clients (replication, the Sentinels, the hand-over) log a refused password too.
    for path in sorted(cluster.base.glob("pod-*/*.log")):
        with path.open("rb") as f:
            f.seek(log_sizes.get(path, 0))
            text = f.read().decode(errors="replace")
        refused += [line for line in text.splitlines() if any(w in line for w in ("WRONGPASS", "NOAUTH", "to AUTH"))]
    print(
        f"rotation: {[a.pods for a in applied]} replaced, {[a.handovers for a in applied]} hand-overs; writer "
        f"{len(log_a.acknowledged)}+{len(log_b.acknowledged)} acknowledged, {len(lost_a)}+{len(lost_b)} lost, "
        f"errors {log_a.errors()} / {log_b.errors()}; worker {first.executed}+{second.executed} run of "
        f"{first.published}+{second.published}, {len(first.publish_errors) + len(second.publish_errors)} publish "
        f"errors, {len(refused)} WRONGPASS/NOAUTH in its log or the pods'"
    )
    assert [a.pods for a in applied] == [("redis-2", "redis-1", "redis-0")] * 3
    assert [[c.changes[0][:11] for c in a.plan.clients if c.client.startswith("password ")] for a in applied] == [
        ["step 1 of 3"] * 6,
        ["step 2 of 3"] * 6,
        ["step 3 of 3"] * 6,
    ]
    assert not lost_a and not lost_b
    assert first.publish_errors == [] and second.publish_errors == [] and not refused
    assert first.missing == [] and second.missing == []
    assert not [e for e in (*log_a.errors(), *log_b.errors()) if "WRONGPASS" in e or "NOAUTH" in e]
    # Only the new passwords open the broker now.
    master = cluster.address(cluster.master())
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(master, cluster.state.redis_port, password=old["redis-password"]).ping()
    assert redis.Redis(master, cluster.state.redis_port, password=new["redis-password"]).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(master, cluster.state.sentinel_port, password=old["sentinel-password"]).ping()
    user = cluster.spec.airflow.username
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(master, cluster.state.redis_port, username=user, password=old["airflow-password"]).ping()
