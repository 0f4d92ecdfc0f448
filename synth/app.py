"""Compose the charts and turn them into the files of dist/, deterministically."""

from __future__ import annotations

import json
import re
from typing import Any

from cdk8s import App, Chart

from redis_gitops.contracts.paths import AIRFLOW_HELM_VALUES
from redis_gitops.synth.airflow_config import helm_values
from redis_gitops.synth.components.autoscaling import worker_autoscaling
from redis_gitops.synth.components.backup import backup
from redis_gitops.synth.components.custom import plain_objects
from redis_gitops.synth.components.foundation import foundation, namespace
from redis_gitops.synth.components.gitops import application, flux
from redis_gitops.synth.components.monitoring import dashboard_config_map, prometheus_rule, service_monitor
from redis_gitops.synth.components.protection import disruption_budget, network_policy
from redis_gitops.synth.components.restore import restore
from redis_gitops.synth.components.services import services
from redis_gitops.synth.components.smoke import smoke_job
from redis_gitops.synth.components.statefulset import statefulset
from redis_gitops.synth.components.tls import certificate
from redis_gitops.synth.jsii_checks import skip_type_checks
from redis_gitops.synth.naming import Names
from redis_gitops.synth.output import HEADER, file_name
from redis_gitops.synth.spec import ClusterSpec
from redis_gitops.synth.yaml_text import to_yaml

skip_type_checks()

# Applied once by hand, never synced from dist/ itself: a folder per GitOps tool, by the objects' API group.
GITOPS_FOLDERS = {"argoproj.io": "argocd", "source.toolkit.fluxcd.io": "flux", "kustomize.toolkit.fluxcd.io": "flux"}


def render_manifests(spec: ClusterSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(objects Argo CD syncs, bootstrap objects), each a plain dict as Kubernetes reads it."""
    names = Names(spec)
    app = App()
    # A chart-level namespace would be stamped on the Namespace itself: cluster-scoped objects get their own chart.
    cluster_scoped = Chart(app, "cluster-scoped", disable_resource_name_hashes=True)
    namespace(cluster_scoped, names)
    broker = Chart(app, "broker", disable_resource_name_hashes=True)
    foundation(broker, names)
    services(broker, names)
    disruption_budget(broker, names)
    network_policy(broker, names)
    if spec.tls.enabled and spec.tls.cert_manager is not None:
        certificate(broker, names)
    statefulset(broker, names)
    if spec.monitoring.exporter.enabled and spec.monitoring.service_monitor.enabled:
        service_monitor(broker, names)
    if spec.monitoring.exporter.enabled and spec.monitoring.alerts.enabled:
        prometheus_rule(broker, names)
    if spec.monitoring.exporter.enabled and spec.monitoring.dashboard.enabled:
        dashboard_config_map(broker, names)
    if spec.smoke.enabled:
        smoke_job(broker, names)
    if spec.backup.enabled:
        backup(broker, names)
    if spec.restore is not None:
        restore(broker, names)
    if spec.airflow.enabled and spec.airflow.keda.enabled:
        worker_autoscaling(broker, names)
    bootstrap = Chart(app, "bootstrap", disable_resource_name_hashes=True)
    application(bootstrap, names)
    flux(bootstrap, names)
    synced = [*cluster_scoped.to_json(), *broker.to_json(), *plain_objects(broker)]
    _as_the_api_server_stores(synced)
    _annotate_waivers(spec, synced)
    return synced, [*bootstrap.to_json(), *plain_objects(bootstrap)]


def _as_the_api_server_stores(objects: list[dict[str, Any]]) -> None:
    """volumeClaimTemplates with the apiVersion and kind the API server adds: without them Argo CD shows the
    StatefulSet OutOfSync forever (argo-cd #4126). cdk8s's typed props cannot carry them, so they go in here."""
    for o in objects:
        if o["kind"] == "StatefulSet":
            for template in o["spec"].get("volumeClaimTemplates", []):
                template.update({"apiVersion": "v1", "kind": "PersistentVolumeClaim"})


class WaiverTargetError(ValueError):
    """A waiver in the spec names an object synth does not render."""

    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index


def _annotate_waivers(spec: ClusterSpec, objects: list[dict[str, Any]]) -> None:
    from redis_gitops.contracts.rules import CHECKOV_CHECK, CHECKOV_SKIP_PREFIX, WAIVER_PREFIX

    for i, w in enumerate(spec.policy.waivers):
        target = next((o for o in objects if o["kind"] == w.kind and o["metadata"]["name"] == w.name), None)
        if target is None and spec.environment:
            continue  # a waiver shared by environments applies where its object is rendered (pipeline.py checks one is)
        if target is None:
            rendered = ", ".join(sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects))
            raise WaiverTargetError(i, f"no {w.kind}/{w.name} is rendered: waive one of {rendered}")
        annotations = target["metadata"].setdefault("annotations", {})
        if re.match(CHECKOV_CHECK, w.rule):  # checkov's own annotation: checkov.io/skip1, skip2, ...
            n = 1 + sum(k.startswith(CHECKOV_SKIP_PREFIX) for k in annotations)
            annotations[f"{CHECKOV_SKIP_PREFIX}{n}"] = f"{w.rule}={w.reason}"
        else:
            annotations[WAIVER_PREFIX + w.rule] = w.reason


def render_files(spec: ClusterSpec) -> dict[str, str]:
    """Relative path -> content of every file dist/ must hold, and nothing else."""
    return render(spec)[0]


def render(spec: ClusterSpec) -> tuple[dict[str, str], dict[str, list[Any]]]:
    """(the files, each YAML file's documents as the files hold them): the gate judges the documents without
    parsing its own output again (policies/manifests.py)."""
    synced, bootstrap = render_manifests(spec)
    files: dict[str, str] = {}
    documents: dict[str, list[Any]] = {}
    for obj in synced:
        _add(files, documents, file_name(obj), obj)
    for obj in bootstrap:
        _add(files, documents, f"{GITOPS_FOLDERS[obj['apiVersion'].split('/')[0]]}/{file_name(obj)}", obj)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(file_name(o) for o in synced),
    }
    _add(files, documents, "kustomization.yaml", kustomization)
    if spec.airflow.enabled:
        _add(files, documents, AIRFLOW_HELM_VALUES, helm_values(spec))
    return dict(sorted(files.items())), documents


def _add(files: dict[str, str], documents: dict[str, list[Any]], path: str, obj: dict[str, Any]) -> None:
    if path in files:
        raise ValueError(f"two objects would be written to {path}: names must be unique per kind")
    files[path] = HEADER + to_yaml(obj)
    documents[path] = [json.loads(json.dumps(obj))]  # as JSON (and YAML) gives it back: lists, not tuples
