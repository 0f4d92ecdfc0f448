"""The PostSync smoke Job in dist/: an Argo CD hook, bounded, hardened, configured from the spec."""

from redis_gitops.synth.app import render_manifests
from redis_gitops.synth.spec import ClusterSpec


def job_of(objects, spec):
    return objects[("Job", f"{spec.name}-smoke")]


def env_of(job):
    [container] = job["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e for e in container["env"]}


def test_the_job_is_a_post_sync_hook_replaced_on_the_next_sync(objects, spec):
    annotations = {
        k: v for k, v in job_of(objects, spec)["metadata"]["annotations"].items() if k.startswith("argocd.argoproj.io/")
    }
    assert annotations == {
        "argocd.argoproj.io/hook": "PostSync",
        "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
    }


def test_the_job_is_bounded_in_time_and_retries(objects, spec):
    job = job_of(objects, spec)["spec"]
    assert (job["backoffLimit"], job["activeDeadlineSeconds"], job["ttlSecondsAfterFinished"]) == (0, 300, 86400)
    assert job["template"]["spec"]["restartPolicy"] == "Never"


def test_the_job_runs_the_spec_image_hardened(objects, spec):
    pod = job_of(objects, spec)["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == "ghcr.io/example/redis-gitops-smoke:0.1.0"
    assert container["args"] == ["smoke", "--json", "--celery"]
    sec = container["securityContext"]
    assert sec["readOnlyRootFilesystem"] and sec["runAsNonRoot"] and not sec["allowPrivilegeEscalation"]
    assert sec["capabilities"] == {"drop": ["ALL"]} and sec["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}


def test_passwords_come_from_secret_references_and_addresses_from_the_spec(objects, spec):
    """The Job's own user on Redis and on the Sentinels, one password file (mounted: test_password_files.py)."""
    env = env_of(job_of(objects, spec))
    assert env["REDIS_USERNAME"]["value"] == env["REDIS_SENTINEL_USERNAME"]["value"] == spec.smoke.username
    assert (
        env["REDIS_PASSWORD_FILE"]["value"] == env["REDIS_SENTINEL_PASSWORD_FILE"]["value"] == "/secrets/smoke-password"
    )
    assert env["REDIS_SENTINELS"]["value"].split(",")[0] == "redis-0.redis-headless.airflow.svc.cluster.local:26379"
    assert len(env["REDIS_NODES"]["value"].split(",")) == spec.redis.replicas
    assert env["REDIS_MAXMEMORY_POLICY"]["value"] == "noeviction"


def test_failover_in_the_spec_adds_the_flag(spec):
    data = spec.model_dump(by_alias=True)
    data["smoke"]["failover"] = True
    synced, _ = render_manifests(ClusterSpec.model_validate(data))
    [job] = [o for o in synced if o["kind"] == "Job"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["smoke", "--json", "--celery", "--failover"]
    # The hand-over needs the admin passwords: the Job holds them instead of its user, which is not rendered.
    env = env_of(job)
    assert "REDIS_USERNAME" not in env
    assert env["REDIS_PASSWORD_FILE"]["value"] == "/secrets/redis-password"
    assert env["REDIS_SENTINEL_PASSWORD_FILE"]["value"] == "/secrets/sentinel-password"
    [config] = [o for o in synced if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "redis-config"]
    assert "smoke.acl" not in config["data"] and "smoke.sentinel-acl" not in config["data"]


def test_disabling_smoke_removes_the_job_and_its_network_access(spec):
    data = spec.model_dump(by_alias=True)
    data["smoke"]["enabled"] = False
    data["policy"]["waivers"] = [w for w in data["policy"]["waivers"] if w["kind"] != "Job"]  # no Job to waive
    synced, _ = render_manifests(ClusterSpec.model_validate(data))
    assert not [o for o in synced if o["kind"] == "Job" or o["metadata"]["name"].endswith("-smoke")]
    [policy] = [o for o in synced if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == spec.name]
    assert "redis-smoke" not in str(policy)


def test_the_smoke_pod_is_never_counted_as_a_redis_pod(objects, spec, sts):
    pod_labels = job_of(objects, spec)["spec"]["template"]["metadata"]["labels"]
    server_selector = sts["spec"]["selector"]["matchLabels"]
    assert not server_selector.items() <= pod_labels.items()
    for (kind, _), obj in objects.items():
        if kind == "Service":
            assert not obj["spec"]["selector"].items() <= pod_labels.items()


def test_the_smoke_pod_may_reach_both_ports_and_is_itself_isolated(objects, spec):
    pod_labels = job_of(objects, spec)["spec"]["template"]["metadata"]["labels"]
    server = objects[("NetworkPolicy", spec.name)]["spec"]
    allowed = [
        r
        for r in server["ingress"]
        if any(
            p.get("podSelector", {}).get("matchLabels", {}).items() <= pod_labels.items()
            and "namespaceSelector" not in p
            for p in r["from"]
        )
    ]
    assert {p["port"] for r in allowed for p in r["ports"]} == {6379, 26379}
    own = objects[("NetworkPolicy", f"{spec.name}-smoke")]["spec"]
    assert own["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert own["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in own  # egress: the broker and DNS
