"""The backup CronJob as rendered: hardened, the pod scripts' contract, its own PVC and NetworkPolicy, and
admitted to the broker's ports (it runs live in tests/test_backup.py)."""
from contracts import pod_env
from synth.app import render_manifests
from synth.spec import ClusterSpec


def cronjob(objects):
    return objects[("CronJob", "redis-backup")]


def test_the_cronjob_runs_backup_sh_never_twice_at_once_with_the_spec_schedule(objects, spec):
    cj = cronjob(objects)["spec"]
    assert cj["schedule"] == spec.backup.schedule and cj["concurrencyPolicy"] == "Forbid"
    [c] = cj["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert c["command"] == ["sh", "/scripts/backup.sh"] and c["image"] == spec.redis.image.reference
    names = {e["name"] for e in c["env"]}
    required = set(pod_env.POD_SCRIPT_ENV) - set(pod_env.OPTIONAL_POD_SCRIPT_ENV) - {"CONFIG_DIR", "DATA_DIR",
                                                                                    "HANDOVER_TIMEOUT_SECONDS"}
    assert required | set(pod_env.BACKUP_ENV) == names
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["BACKUP_RETENTION"] == str(spec.backup.retention)


def test_snapshots_land_on_a_pvc_of_their_own_that_argo_cd_never_prunes(objects, spec):
    pvc = objects[("PersistentVolumeClaim", "redis-backup")]
    assert pvc["spec"]["resources"]["requests"]["storage"] == spec.backup.size
    assert pvc["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"
    volumes = cronjob(objects)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"]
    assert {"name": "backups", "persistentVolumeClaim": {"claimName": "redis-backup"}} in volumes


def test_the_backup_pod_reaches_the_broker_and_nothing_reaches_it(objects):
    server = objects[("NetworkPolicy", "redis")]["spec"]["ingress"]
    backup_labels = cronjob(objects)["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert any(peer.get("podSelector", {}).get("matchLabels", {}).items() <= backup_labels.items()
               and "app.kubernetes.io/name" in peer.get("podSelector", {}).get("matchLabels", {})
               and peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "redis-backup"
               for rule in server for peer in rule.get("from", []))
    own = objects[("NetworkPolicy", "redis-backup")]["spec"]
    assert own["policyTypes"] == ["Ingress"] and "ingress" not in own


def test_backups_off_render_nothing(spec):
    data = spec.model_dump(by_alias=True)
    data["backup"]["enabled"] = False
    data["policy"]["waivers"] = [w for w in data["policy"]["waivers"] if w["kind"] != "CronJob"]
    synced, _ = render_manifests(ClusterSpec.model_validate(data))
    assert not [o for o in synced if "backup" in o["metadata"]["name"]]
