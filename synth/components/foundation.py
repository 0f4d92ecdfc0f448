"""Namespace, ServiceAccount and the ConfigMaps the pods read their config and scripts from."""
from __future__ import annotations

from importlib import resources as package_files

from cdk8s_plus_33 import k8s
from constructs import Construct

from synth.components.common import WAVE_FOUNDATION, meta
from synth.naming import Names
from synth.redis_config import redis_conf, sentinel_conf

POD_SCRIPTS = ("lib.sh", "start-redis.sh", "start-sentinel.sh", "prestop-redis.sh", "probe.sh")


def pod_script(name: str) -> str:
    return package_files.files("synth").joinpath("pod_scripts", name).read_text()


def namespace(scope: Construct, names: Names) -> None:
    k8s.KubeNamespace(scope, "namespace", metadata=meta(names, names.spec.namespace, "namespace",
                                                            WAVE_FOUNDATION, namespaced=False))


def foundation(scope: Construct, names: Names) -> None:
    k8s.KubeServiceAccount(
        scope, "service-account",
        metadata=meta(names, names.service_account, "server", WAVE_FOUNDATION),
        automount_service_account_token=False,  # Redis never talks to the API server
    )
    k8s.KubeConfigMap(
        scope, "config",
        metadata=meta(names, names.config_map, "config", WAVE_FOUNDATION),
        data={"redis.conf": redis_conf(names.spec), "sentinel.conf": sentinel_conf(names.spec)},
    )
    k8s.KubeConfigMap(
        scope, "scripts",
        metadata=meta(names, names.scripts_config_map, "config", WAVE_FOUNDATION),
        data={name: pod_script(name) for name in POD_SCRIPTS},
    )
