"""What a rendering says about the broker, read back from its objects as the gate reads them: the pods, the
Sentinels' quorum, the ports, TLS, persistence, the engine's version and what each client is given."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from redis_gitops.contracts.engines import engine_of, version_of
from redis_gitops.policies.manifests import Manifests


@dataclass(frozen=True)
class BrokerFacts:
    statefulset: str | None = None
    namespace: str | None = None
    replicas: int = 0
    quorum: int = 0
    master_name: str | None = None
    redis_port: int | None = None
    sentinel_port: int | None = None
    tls: bool = False
    appendonly: bool = True
    rdb_save: bool = True
    image: str = ""
    airflow: dict = field(default_factory=dict)  # option -> value, from dist/airflow/helm-values.yaml

    @property
    def engine(self) -> str:
        return engine_of(self.image.rsplit(":", 1)[0])

    @property
    def version(self) -> tuple[int, int, int] | None:
        return version_of(self.image.rsplit(":", 1)[-1]) if ":" in self.image else None


def _conf_value(manifests: Manifests, key: str, *prefix: str) -> list[str] | None:
    for conf in manifests.conf_files(key):
        d = conf.last(*prefix)
        if d is not None:
            return list(d.words[len(prefix) :])
    return None


def _port(manifests: Manifests, key: str) -> tuple[int | None, bool]:
    plain, tls = _conf_value(manifests, key, "port"), _conf_value(manifests, key, "tls-port")
    if tls and plain and plain[0] == "0":
        return int(tls[0]), True
    return (int(plain[0]) if plain else None), False


def airflow_options(values: dict | None) -> dict[str, str]:
    """The broker options Airflow is given, flattened: `config.<section>.<key>`, `env.<NAME>` and the
    broker_url command's own flags (`url --sentinels`, ...) one by one, so a change names what changed."""
    if not values:
        return {}
    out: dict[str, str] = {}
    for section, options in (values.get("config") or {}).items():
        for key, value in (options or {}).items():
            out[f"config.{section}.{key}"] = str(value)
    for item in values.get("env") or []:
        name, value = item.get("name", ""), str(item.get("value", ""))
        words = shlex.split(value)
        if "redis_gitops_airflow.broker_url" in words:
            command = words[words.index("redis_gitops_airflow.broker_url") + 1]
            flags = words[words.index(command) + 1 :]
            for flag, arg in zip(flags[::2], flags[1::2], strict=False):
                out[f"{command} {flag}"] = arg
        else:
            out[f"env.{name}"] = value
    for volume in values.get("volumes") or []:
        for source in (volume.get("projected") or {}).get("sources") or []:
            secret = source.get("secret") or {}
            keys = ",".join(i.get("key", "") for i in secret.get("items") or [])
            out[f"secret {secret.get('name')}"] = keys
    return out


def broker_facts(manifests: Manifests) -> BrokerFacts:
    statefulsets = [o for o in manifests.of_kind("StatefulSet") if _runs_redis(o.doc)]
    if not statefulsets:
        return BrokerFacts(airflow=airflow_options(manifests.airflow_values.doc if manifests.airflow_values else None))
    sts = statefulsets[0]
    monitor = _conf_value(manifests, "sentinel.conf", "sentinel", "monitor") or []
    redis_port, tls = _port(manifests, "redis.conf")
    sentinel_port, _ = _port(manifests, "sentinel.conf")
    save = _conf_value(manifests, "redis.conf", "save")
    containers = {c["name"]: c for c in sts.doc["spec"]["template"]["spec"]["containers"]}
    return BrokerFacts(
        statefulset=sts.ref.name,
        namespace=sts.ref.namespace,
        replicas=int(sts.doc["spec"].get("replicas", 1)),
        quorum=int(monitor[-1]) if monitor else 0,
        master_name=monitor[0] if monitor else None,
        redis_port=redis_port,
        sentinel_port=sentinel_port,
        tls=tls,
        appendonly=(_conf_value(manifests, "redis.conf", "appendonly") or ["no"])[0] == "yes",
        rdb_save=bool(save) and save != [""] and save != ['""'],
        image=containers["redis"].get("image", ""),
        airflow=airflow_options(manifests.airflow_values.doc if manifests.airflow_values else None),
    )


def _runs_redis(doc: dict) -> bool:
    containers = ((doc.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    return any(c.get("name") == "redis" for c in containers)
