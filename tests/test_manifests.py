"""The synthesised objects have the shape an HA, hardened Sentinel broker needs."""

import re

from redis_gitops.synth.naming import Names

from conftest import SPEC, pod_specs, without_policy


def containers(sts):
    return {c["name"]: c for c in sts["spec"]["template"]["spec"]["containers"]}


def test_every_object_has_an_explicit_name_and_no_cdk8s_labels(objects):
    for (kind, name), obj in objects.items():
        assert re.fullmatch(r"[a-z0-9-]+", name), (kind, name)
        labels = obj["metadata"].get("labels", {})
        assert not any(k.startswith("cdk8s.io") for k in labels), (kind, name)
        assert labels["app.kubernetes.io/managed-by"] == "redis-gitops"


def test_statefulset_selector_matches_the_pod_labels_and_has_no_version(sts):
    selector = sts["spec"]["selector"]["matchLabels"]
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert "app.kubernetes.io/version" not in selector


def test_three_pods_each_with_redis_sentinel_and_their_exporters(sts, spec):
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["serviceName"] == f"{spec.name}-headless"
    assert set(containers(sts)) == {"redis", "sentinel", "exporter", "sentinel-exporter"}
    assert containers(sts)["redis"]["image"] == "valkey/valkey:8.1.8"


def test_data_lives_on_a_persistent_volume_claim(sts):
    [claim] = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["storageClassName"] == "local-path"
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    mounts = {m["name"]: m["mountPath"] for m in containers(sts)["redis"]["volumeMounts"]}
    assert mounts["data"] == "/data"
    assert all(v["name"] != "data" for v in sts["spec"]["template"]["spec"]["volumes"])


def test_pods_are_hardened(sts):
    pod = sts["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] >= 10000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in pod["containers"]:
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["runAsUser"] >= 10000
        assert set(c["resources"]["requests"]) == set(c["resources"]["limits"]) == {"cpu", "memory"}


def test_passwords_come_only_from_secret_references(sts, files):
    """Secret values reach the pods only as mounted files (tests/test_password_files.py); env names a path."""
    for c in containers(sts).values():
        for env in c["env"]:
            if "PASSWORD" in env["name"]:
                assert env["name"].endswith("_FILE") and env["value"].startswith("/"), env
    assert not any("kind: Secret\n" in text for text in files.values())
    assert not any(
        re.search(r"^\s*(requirepass|masterauth|sentinel auth-pass)\s", text, re.M) for text in files.values()
    )


def test_redis_pods_never_share_a_node_and_spread_over_zones(sts):
    pod = sts["spec"]["template"]["spec"]
    [term] = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]
    [spread] = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"


def test_probes_tolerate_a_long_aof_load(sts, spec):
    redis = containers(sts)["redis"]
    startup = redis["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= spec.redis.startup_timeout_seconds
    assert redis["livenessProbe"]["exec"]["command"][-1] == "redis-alive"  # LOADING counts as alive
    assert redis["readinessProbe"]["exec"]["command"][-1] == "redis-ready"
    assert containers(sts)["sentinel"]["readinessProbe"]["exec"]["command"][-1] == "sentinel-ready"
    assert containers(sts)["sentinel"]["livenessProbe"]["exec"]["command"][-1] == "sentinel"


def test_master_hands_over_before_it_stops(sts, spec):
    redis = containers(sts)["redis"]
    assert redis["lifecycle"]["preStop"]["exec"]["command"] == ["sh", "/scripts/prestop-redis.sh"]
    grace = sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > spec.redis.handover_timeout_seconds


def test_pods_announce_stable_dns_names(sts, spec):
    env = {e["name"]: e.get("value") for e in containers(sts)["sentinel"]["env"]}
    assert env["SELF_HOST"] == "$(POD_NAME).redis-headless.airflow.svc.cluster.local"
    assert env["PEER_HOSTS"].split() == Names(spec).pod_fqdns
    assert "redis-2.redis-headless.airflow.svc.cluster.local" in env["PEER_HOSTS"]


def test_config_map_holds_the_rendered_configs(objects):
    data = objects[("ConfigMap", "redis-config")]["data"]
    assert "maxmemory-policy noeviction" in data["redis.conf"]
    assert "appendonly yes" in data["redis.conf"] and "appendfsync everysec" in data["redis.conf"]
    assert "min-replicas-to-write 1" in data["redis.conf"]
    # A returning replica's full sync starts within a second (at once when both replicas wait for it).
    assert "repl-diskless-sync-delay 1" in data["redis.conf"]
    assert "repl-diskless-sync-max-replicas 2" in data["redis.conf"]
    assert "sentinel monitor mymaster __MASTER_HOST__ 6379 2" in data["sentinel.conf"]
    assert "sentinel resolve-hostnames yes" in data["sentinel.conf"]
    assert "sentinel announce-hostnames yes" in data["sentinel.conf"]


def test_headless_service_publishes_not_ready_pods(objects):
    headless = objects[("Service", "redis-headless")]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert {p["name"] for p in headless["ports"]} == {"redis", "sentinel", "metrics", "sentinel-metrics"}
    assert [p["port"] for p in objects[("Service", "redis-sentinel")]["spec"]["ports"]] == [26379]


def test_no_service_sends_a_plain_redis_client_to_a_replica(objects):
    """A ClusterIP Service over all pods would land a client that does not speak Sentinel on a read-only
    replica two times in three: Redis is reached through Sentinel only (or a pod's own DNS name)."""
    for (kind, name), obj in objects.items():
        if kind == "Service" and obj["spec"].get("clusterIP") != "None":
            assert 6379 not in [p["port"] for p in obj["spec"]["ports"]], name


def test_sentinels_stay_reachable_while_their_pod_is_not_ready(objects):
    """Pod readiness includes the Redis container (a replica resyncing is not ready); Sentinel must still be
    reachable then, above all while the Sentinels elect a new master and every replica's link is down."""
    assert objects[("Service", "redis-sentinel")]["spec"]["publishNotReadyAddresses"] is True


def test_at_most_one_pod_may_be_disrupted(objects, sts):
    pdb = objects[("PodDisruptionBudget", "redis")]["spec"]
    assert pdb["maxUnavailable"] == 1 and "minAvailable" not in pdb
    assert pdb["selector"] == sts["spec"]["selector"]


def test_network_policy_admits_only_airflow_the_cluster_monitoring_keda_the_smoke_job_and_backups(objects, sts):
    policy = objects[("NetworkPolicy", "redis")]["spec"]
    assert policy["podSelector"] == sts["spec"]["selector"]
    sources = [peer for rule in policy["ingress"] for peer in rule["from"]]
    assert {"podSelector": {"matchLabels": {"tier": "airflow"}}} in sources
    assert {"podSelector": sts["spec"]["selector"]} in sources
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}} in sources
    assert {
        "podSelector": {"matchLabels": {"app.kubernetes.io/instance": "redis", "app.kubernetes.io/name": "redis-smoke"}}
    } in sources
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}} in sources
    assert {
        "podSelector": {
            "matchLabels": {"app.kubernetes.io/instance": "redis", "app.kubernetes.io/name": "redis-backup"}
        }
    } in sources
    assert len(sources) == 6


def test_keda_scales_the_airflow_workers_on_every_queue_through_every_sentinel(objects, spec):
    so = objects[("ScaledObject", "redis-airflow-workers")]["spec"]
    assert so["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "airflow-worker"}
    assert [t["metadata"]["listName"] for t in so["triggers"]] == list(spec.airflow.queues)
    meta = so["triggers"][0]["metadata"]
    assert meta["addresses"].split(",") == [
        f"redis-{i}.redis-headless.airflow.svc.cluster.local:26379" for i in range(3)
    ]
    assert meta["sentinelMaster"] == "mymaster" and meta["listLength"] == str(spec.airflow.worker_concurrency)
    assert so["minReplicaCount"] >= 1  # LLEN cannot see running tasks: never scale busy workers to zero
    auth = objects[("TriggerAuthentication", "redis-airflow-workers")]["spec"]
    # KEDA's own user on Redis and on the Sentinels: never Airflow's, never the Sentinel admin password.
    keda_password = {"name": "redis-auth", "key": "keda-password"}
    assert {r["parameter"]: {"name": r["name"], "key": r["key"]} for r in auth["secretTargetRef"]} == {
        "password": keda_password,
        "sentinelPassword": keda_password,
    }
    assert {r["parameter"] for r in auth["configMapTargetRef"]} == {"username", "sentinelUsername"}
    assert objects[("ConfigMap", "redis-airflow-workers")]["data"] == {"username": "keda"}


def test_service_monitor_scrapes_both_exporters_and_labels_which_server_they_watch(objects):
    sm = objects[("ServiceMonitor", "redis")]
    assert sm["metadata"]["labels"]["release"] == "prometheus"
    endpoints = {e["port"]: e["relabelings"] for e in sm["spec"]["endpoints"]}
    assert endpoints == {
        "metrics": [{"action": "replace", "targetLabel": "server", "replacement": "redis"}],
        "sentinel-metrics": [{"action": "replace", "targetLabel": "server", "replacement": "sentinel"}],
    }
    headless_labels = objects[("Service", "redis-headless")]["metadata"]["labels"]
    assert sm["spec"]["selector"]["matchLabels"].items() <= headless_labels.items()


def test_argocd_application_syncs_dist_with_prune_and_self_heal(objects, spec):
    app = objects[("Application", "airflow-redis")]
    assert app["metadata"]["namespace"] == "argocd"
    assert app["spec"]["source"] == {"repoURL": spec.gitops.repo_url, "path": "dist", "targetRevision": "main"}
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


def test_sync_waves_put_config_before_the_statefulset(objects):
    def wave(kind, name):
        return int(objects[(kind, name)]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])

    assert wave("ConfigMap", "redis-config") < wave("StatefulSet", "redis")
    assert wave("ConfigMap", "redis-scripts") < wave("StatefulSet", "redis")
    assert wave("Namespace", "airflow") < wave("Service", "redis-headless") < wave("StatefulSet", "redis")
    assert "namespace" not in objects[("Namespace", "airflow")]["metadata"]


def test_a_config_change_rolls_the_pods(spec):
    from redis_gitops.synth.components.statefulset import config_checksum

    changed = spec.model_copy(update={"sentinel": spec.sentinel.model_copy(update={"down_after_milliseconds": 6000})})
    assert config_checksum(Names(spec)) != config_checksum(Names(changed))


def test_a_changed_acl_rolls_the_pods_too(spec):
    """The ACL files are read at start like redis.conf: a new queue must reach Redis."""
    from redis_gitops.synth.components.statefulset import config_checksum

    changed = spec.model_copy(update={"airflow": spec.airflow.model_copy(update={"queues": ("default", "etl")})})
    assert config_checksum(Names(spec)) != config_checksum(Names(changed))


def test_disabling_the_exporter_removes_it_everywhere(spec):
    from redis_gitops.synth.app import render_files

    monitoring = spec.monitoring.model_copy(
        update={"exporter": spec.monitoring.exporter.model_copy(update={"enabled": False})}
    )
    files = render_files(spec.model_copy(update={"monitoring": monitoring}))
    assert "redis-servicemonitor.yaml" not in files
    assert "redis_exporter" not in files["redis-statefulset.yaml"]
    assert "9121" not in files["redis-networkpolicy.yaml"] and "9355" not in files["redis-networkpolicy.yaml"]
    assert (
        "exporter" not in files["redis-statefulset.yaml"] and "exporter.acl" not in files["redis-config-configmap.yaml"]
    )


def test_argo_cd_keeps_the_statefulset_in_sync(objects, sts):
    """The API server adds apiVersion, kind and status to volumeClaimTemplates (Argo CD #4126, #11143,
    #16707): render the first two as it stores them, and ignore what it adds on its own."""
    for template in sts["spec"]["volumeClaimTemplates"]:
        assert template["apiVersion"] == "v1" and template["kind"] == "PersistentVolumeClaim"
    app = objects[("Application", "airflow-redis")]
    ignored = [d for d in app["spec"]["ignoreDifferences"] if d["kind"] == "StatefulSet"]
    assert ignored and ignored[0]["group"] == "apps" and ignored[0]["name"] == sts["metadata"]["name"]
    assert ".spec.volumeClaimTemplates[]?.status" in ignored[0]["jqPathExpressions"]


def test_argo_cd_never_prunes_or_deletes_the_shared_namespace(objects, spec):
    ns = objects[("Namespace", spec.namespace)]
    options = ns["metadata"]["annotations"]["argocd.argoproj.io/sync-options"].split(",")
    assert "Prune=false" in options and "Delete=false" in options


def test_the_namespace_carries_pod_security_admission_labels(objects, spec):
    """Warn and audit at `restricted` (what our pods meet); enforce what the spec says (default `baseline`:
    the namespace is Airflow's, and enforcing `restricted` would refuse Airflow's own pods if they fall short)."""
    labels = objects[("Namespace", spec.namespace)]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce"] == spec.security.pod_security_enforce == "baseline"
    version = f"v{spec.kubernetes_version}"
    assert {labels[f"pod-security.kubernetes.io/{m}-version"] for m in ("warn", "audit", "enforce")} == {version}


RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def test_every_pod_meets_the_restricted_pod_security_standard(objects):
    """The `restricted` profile's rules (kubernetes.io/docs/concepts/security/pod-security-standards)."""
    templates = [o["spec"]["template"] for o in objects.values() if o["kind"] in ("StatefulSet", "Job")]
    assert len(templates) == 2
    for t in templates:
        pod = t["spec"]
        assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
        assert {next(iter(set(v) - {"name"})) for v in pod.get("volumes", [])} <= RESTRICTED_VOLUMES
        pod_sc = pod.get("securityContext", {})
        for c in pod["containers"] + pod.get("initContainers", []):
            sc = c.get("securityContext", {})
            assert sc.get("allowPrivilegeEscalation") is False, c["name"]
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, c["name"]
            assert sc.get("privileged") in (None, False) and not c.get("ports", [{}])[0].get("hostPort")
            assert sc["capabilities"]["drop"] == ["ALL"] and set(sc["capabilities"].get("add", [])) <= {
                "NET_BIND_SERVICE"
            }
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
            assert seccomp in ("RuntimeDefault", "Localhost"), c["name"]


def test_every_long_running_container_has_a_readiness_probe(sts):
    """checkov CKV_K8S_9; the exporter's answers on the same /health its liveness probe uses."""
    for c in sts["spec"]["template"]["spec"]["containers"]:
        assert c.get("readinessProbe"), c["name"]
    exporter = next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "exporter")
    assert exporter["readinessProbe"]["httpGet"] == {"path": "/health", "port": "metrics"}


def test_the_exporter_answers_its_probe_path(sts, tmp_path):
    """Debian's redis_exporter, started as the container would be, answers the probe path with 200."""
    import socket
    import subprocess
    import time
    import urllib.request

    exporter = next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "exporter")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        ["prometheus-redis-exporter", "-web.listen-address", f"127.0.0.1:{port}", "-redis.addr", "redis://127.0.0.1:1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                url = f"http://127.0.0.1:{port}{exporter['readinessProbe']['httpGet']['path']}"
                with urllib.request.urlopen(url, timeout=1) as reply:
                    assert reply.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_flux_gets_a_git_repository_and_a_kustomization_from_the_gitops_section(files, spec):
    """For Flux users: applied once by hand like the Argo CD Application, never part of dist/'s own
    kustomization. The Job is immutable, so the Kustomization forces a changed one to be recreated; it waits
    for the broker's health."""
    from ruamel.yaml import YAML

    load = YAML(typ="safe").load
    repo = load(files["flux/airflow-redis-gitrepository.yaml"])
    kust = load(files["flux/airflow-redis-kustomization.yaml"])
    g = spec.gitops
    assert repo["kind"] == "GitRepository" and repo["metadata"]["namespace"] == g.flux_namespace
    assert repo["spec"]["url"] == g.repo_url and repo["spec"]["ref"] == {"branch": g.target_revision}
    assert kust["kind"] == "Kustomization" and kust["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
    assert kust["spec"]["sourceRef"] == {"kind": "GitRepository", "name": repo["metadata"]["name"]}
    assert kust["spec"]["path"] == f"./{g.path}"
    assert kust["spec"]["prune"] is True and kust["spec"]["force"] is True and kust["spec"]["wait"] is True
    listed = load(files["kustomization.yaml"])["resources"]
    assert not any(r.startswith(("flux/", "argocd/")) for r in listed)


def test_a_spec_waiver_of_a_checkov_check_becomes_its_skip_annotation(spec):
    """checkov reads `checkov.io/skipN: CHECK=reason` on the object; the gate ignores checks it does not own."""
    from redis_gitops.synth.app import render_manifests
    from redis_gitops.synth.spec_loader import parse_spec

    text = without_policy(SPEC.read_text()) + (
        "\npolicy:\n  waivers:\n"
        "    - {rule: CKV_K8S_15, kind: StatefulSet, name: redis,\n"
        "       reason: 'IfNotPresent: restarts never wait on a registry'}\n"
        "    - {rule: CKV_K8S_43, kind: StatefulSet, name: redis, reason: 'pinned by tag; see image.digest'}\n"
    )
    synced, _ = render_manifests(parse_spec(text))
    sts = next(o for o in synced if o["kind"] == "StatefulSet")
    annotations = sts["metadata"]["annotations"]
    assert annotations["checkov.io/skip1"] == "CKV_K8S_15=IfNotPresent: restarts never wait on a registry"
    assert annotations["checkov.io/skip2"] == "CKV_K8S_43=pinned by tag; see image.digest"


def test_an_image_may_be_pinned_by_digest(spec):
    from redis_gitops.synth.app import render_manifests
    from redis_gitops.synth.spec_loader import parse_spec

    digest = "sha256:" + "a" * 64
    text = SPEC.read_text().replace('    tag: "8.1.8" ', f'    tag: "8.1.8"\n    digest: "{digest}" ', 1)
    synced, _ = render_manifests(parse_spec(text))
    sts = next(o for o in synced if o["kind"] == "StatefulSet")
    redis_container = next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "redis")
    assert redis_container["image"] == f"valkey/valkey:8.1.8@{digest}"


def test_every_pod_can_read_its_secret_files_as_its_non_root_user(objects):
    """Secret files are root-owned; at mode 0440 a non-root user reads them only as the pod's fsGroup (the
    smoke Job had none: its password files were unreadable in a real cluster)."""
    checked = 0
    for name, pod in pod_specs(objects):
        for volume in pod.get("volumes", []):
            source = volume.get("secret") or volume.get("projected")
            if source is None or source.get("defaultMode", 0o644) & 0o004:
                continue
            checked += 1
            sec = pod["securityContext"]
            assert sec["runAsNonRoot"] and sec.get("fsGroup") is not None, (name, volume["name"])
            assert source["defaultMode"] & 0o040, (name, volume["name"])  # the group may read
    assert checked >= 4


def test_every_pod_of_ours_may_connect_only_to_the_broker_and_dns(objects, spec):
    """Egress: a Redis pod told to follow a forged master, or a compromised Job, reaches nothing else."""
    broker = {"podSelector": {"matchLabels": objects[("StatefulSet", spec.name)]["spec"]["selector"]["matchLabels"]}}
    for name in ("redis", "redis-smoke", "redis-backup"):
        policy = objects[("NetworkPolicy", name)]["spec"]
        assert policy["policyTypes"] == ["Ingress", "Egress"], name
        assert policy["egress"] == [
            {"to": [broker], "ports": [{"protocol": "TCP", "port": 6379}, {"protocol": "TCP", "port": 26379}]},
            {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        ], name


def test_the_backup_upload_may_also_reach_the_s3_endpoints_port(spec_text, tmp_path):
    from redis_gitops.synth.app import render_manifests
    from redis_gitops.synth.spec_loader import parse_spec

    s3 = (
        "  size: 20Gi\n  s3:\n    endpoint: https://minio.storage.svc:9000\n    bucket: my-redis-backups\n"
        "    accessKeyId: {secretName: s3, key: id}\n    secretAccessKey: {secretName: s3, key: secret}\n"
    )
    synced, _ = render_manifests(parse_spec(spec_text.replace("  size: 20Gi\n", s3, 1)))
    policy = next(o for o in synced if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "redis-backup")
    assert policy["spec"]["egress"][-1] == {"ports": [{"protocol": "TCP", "port": 9000}]}
