"""The backup CronJob as rendered: hardened, the pod scripts' contract, its own PVC and NetworkPolicy, and
admitted to the broker's ports (it runs live in tests/test_backup.py)."""

from redis_gitops.contracts import pod_env
from redis_gitops.synth.app import render_manifests
from redis_gitops.synth.spec import ClusterSpec


def cronjob(objects):
    return objects[("CronJob", "redis-backup")]


def test_the_cronjob_runs_backup_sh_never_twice_at_once_with_the_spec_schedule(objects, spec):
    cj = cronjob(objects)["spec"]
    assert cj["schedule"] == spec.backup.schedule and cj["concurrencyPolicy"] == "Forbid"
    [c] = cj["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert c["command"] == ["sh", "/scripts/backup.sh"] and c["image"] == spec.redis.image.reference
    names = {e["name"] for e in c["env"]}
    required = (
        set(pod_env.POD_SCRIPT_ENV)
        - set(pod_env.OPTIONAL_POD_SCRIPT_ENV)
        - {"CONFIG_DIR", "DATA_DIR", "HANDOVER_TIMEOUT_SECONDS"}
    )
    engine = {"ENGINE"} if spec.redis.engine != "redis" else set()  # the engine's binaries: valkey-check-rdb
    assert required | engine | set(pod_env.BACKUP_ENV) == names
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
    assert any(
        peer.get("podSelector", {}).get("matchLabels", {}).items() <= backup_labels.items()
        and "app.kubernetes.io/name" in peer.get("podSelector", {}).get("matchLabels", {})
        and peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "redis-backup"
        for rule in server
        for peer in rule.get("from", [])
    )
    own = objects[("NetworkPolicy", "redis-backup")]["spec"]
    assert own["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in own  # egress: the broker and DNS


def test_backups_off_render_nothing(spec):
    data = spec.model_dump(by_alias=True)
    data["backup"]["enabled"] = False
    data["policy"]["waivers"] = [w for w in data["policy"]["waivers"] if w["kind"] != "CronJob"]
    synced, _ = render_manifests(ClusterSpec.model_validate(data))
    assert not [o for o in synced if "backup" in o["metadata"]["name"]]


S3 = {
    "endpoint": "https://s3.eu-west-1.amazonaws.com",
    "bucket": "my-redis-backups",
    "prefix": "airflow/",
    "pathStyle": False,
    "accessKeyId": {"secretName": "redis-backup-s3", "key": "access-key-id"},
    "secretAccessKey": {"secretName": "redis-backup-s3", "key": "secret-access-key"},
}


def with_s3(spec, **extra):
    data = spec.model_dump(by_alias=True)
    data["backup"]["s3"] = {**S3, **extra}
    synced, _ = render_manifests(ClusterSpec.model_validate(data))
    return next(o for o in synced if o["kind"] == "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_with_s3_the_snapshot_is_taken_first_then_uploaded_by_rclone_with_credentials_as_files(spec):
    pod = with_s3(spec)
    [backup] = pod["initContainers"]
    [upload] = pod["containers"]
    assert backup["name"] == "backup" and backup["command"] == ["sh", "/scripts/backup.sh"]
    assert upload["image"] == "rclone/rclone:1.75.2" and upload["command"] == ["sh", "/scripts/backup-upload.sh"]
    env = {e["name"]: e["value"] for e in upload["env"]}
    assert set(env) - {"HOME"} == set(pod_env.BACKUP_UPLOAD_ENV)
    assert env["S3_ENDPOINT"] == S3["endpoint"] and env["S3_BUCKET"] == "my-redis-backups"
    assert env["S3_PREFIX"] == "airflow/" and env["S3_PATH_STYLE"] == "false"
    assert env["S3_RETENTION"] == str(spec.backup.retention)  # the bucket keeps as many as the volume by default
    assert not any("valueFrom" in e for e in upload["env"])  # credentials never as environment variables
    [creds] = [v for v in pod["volumes"] if v["name"] == "s3-credentials"]
    items = {
        i["path"]: (s["secret"]["name"], i["key"]) for s in creds["projected"]["sources"] for i in s["secret"]["items"]
    }
    assert items == {
        "s3-access-key-id": ("redis-backup-s3", "access-key-id"),
        "s3-secret-access-key": ("redis-backup-s3", "secret-access-key"),
    }
    mounts = {m["name"]: m for m in upload["volumeMounts"]}
    assert mounts["s3-credentials"]["readOnly"] and mounts["backups"]["readOnly"]
    assert upload["securityContext"]["readOnlyRootFilesystem"] and upload["securityContext"]["runAsNonRoot"]
    assert with_s3(spec, retention=30)["containers"][0]["env"][-2] == {"name": "S3_RETENTION", "value": "30"}
