"""The cluster spec: the single source of truth every manifest, config file and check derives from.

Keys are camelCase in YAML (as in Kubernetes); unknown keys are refused. Rules that tie several
fields together live in `cross_field_violations`, so each violation can name the exact field.
"""

from __future__ import annotations

import ipaddress
import re
import types
from typing import Annotated, Literal, Union
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from redis_gitops.contracts.bounds import (
    AUTO_MAXMEMORY_RATIO,
    DNS_LABEL,
    DNS_SUBDOMAIN,
    DOWN_AFTER_MS,
    FAILOVER_TIMEOUT_MS,
    IMAGE_TAG,
    MAX_MAXMEMORY_RATIO,
    MAX_REASON_CHARS,
    MAX_REPLICAS,
    MIN_UID,
    SAFE_AOF_FSYNC,
    failover_timeout_ok,
    percent,
    quorum_ok,
    sentinel_count_ok,
    strict_majority,
)
from redis_gitops.contracts.client_acl import SENTINEL_MONITOR_USER
from redis_gitops.contracts.defaults import (
    DEFAULT_HANDOVER_TIMEOUT_SECONDS,
    DEFAULT_MASTER_NAME,
    DEFAULT_MAX_WRITE_OUTAGE_SECONDS,
)
from redis_gitops.contracts.engines import engine_of, version_of
from redis_gitops.contracts.quantity import QUANTITY, memory_bytes, parse_quantity
from redis_gitops.contracts.rules import CHECKOV_CHECK, RULE_IDS
from redis_gitops.contracts.transitions import ACKNOWLEDGEABLE

EVICTING_POLICIES = (
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
)
SUPPORTED_KUBERNETES = (25, 37)  # minor versions whose schemas kubernetes-validate ships

# What the validators below check, said in JSON Schema too, so an editor shows the same errors as the loader.
DURATION = r"^[0-9]+(ms|s|m|h)$"  # a Prometheus duration
LABEL_SCHEMA = {"pattern": DNS_LABEL.pattern, "maxLength": 63}
SUBDOMAIN_SCHEMA = {"pattern": DNS_SUBDOMAIN.pattern, "maxLength": 253}
UID_SCHEMA = {"minimum": MIN_UID}


class Model(BaseModel):
    """Base for every section: camelCase keys, unknown keys refused, immutable once loaded."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=False, extra="forbid", frozen=True, validate_default=True
    )

    @field_validator("*", mode="before")
    @classmethod
    def scalars_as_yaml_typed_them(cls, value: object, info: ValidationInfo) -> object:
        """One strictness for every field: a number, a true/false and a text are taken as YAML typed them, never
        converted (pydantic's lax mode would read "3" as 3, true as 1 and 1 as true)."""
        wanted = _scalar_types(cls.model_fields[info.field_name].annotation)
        if not wanted or value is None or isinstance(value, (dict, list, tuple)):
            return value
        if bool in wanted and not isinstance(value, bool):
            raise PydanticCustomError("bool_strict", "expected true or false, not {value}", {"value": repr(value)})
        numbers = wanted & {int, float}
        what = "a number" if float in numbers else "a whole number"
        if numbers and isinstance(value, bool):
            raise PydanticCustomError(
                "bool_for_number", "expected {what}, not {value}", {"what": what, "value": str(value).lower()}
            )
        if numbers and str not in wanted and isinstance(value, str) and NUMBER_TEXT.fullmatch(value.strip()):
            raise PydanticCustomError(
                "quoted_number",
                "expected {what}, not the text {value}: write it without quotes",
                {"what": what, "value": repr(value)},
            )
        return value


NUMBER_TEXT = re.compile(r"[-+]?[0-9]+(\.[0-9]*)?")


def _scalar_types(annotation: object) -> set[type]:
    """The scalar types a field's annotation admits (int | None -> {int}); empty for models and collections."""
    if annotation in (int, float, bool, str):
        return {annotation}
    if getattr(annotation, "__origin__", None) is Annotated:
        return _scalar_types(annotation.__origin__)
    if isinstance(annotation, types.UnionType) or getattr(annotation, "__origin__", None) is Union:
        return set().union(*(_scalar_types(a) for a in annotation.__args__ if a is not type(None)))
    return set()


def _dns_label(value: str, what: str, max_len: int = 63) -> str:
    if len(value) > max_len or not DNS_LABEL.fullmatch(value):
        raise PydanticCustomError(
            "dns_label",
            "{what} {value} is not a valid Kubernetes name: use at most {max_len} lowercase letters, digits "
            "and '-', starting and ending with a letter or digit",
            {"what": what, "value": repr(value), "max_len": max_len},
        )
    return value


def _dns_subdomain(value: str | None, what: str) -> str | None:
    if value is not None and (len(value) > 253 or not DNS_SUBDOMAIN.fullmatch(value)):
        raise PydanticCustomError(
            "dns_subdomain",
            "{what} {value} is not a valid Kubernetes name: use lowercase letters, digits, '-' and '.', each "
            "part starting and ending with a letter or digit (at most 253 characters)",
            {"what": what, "value": repr(value)},
        )
    return value


class Image(Model):
    """A container image at an explicit version: `latest` or a missing tag makes rollouts unreproducible."""

    repository: str = Field(description="The image's registry and name.")
    tag: str = Field(
        json_schema_extra={"pattern": f"^{IMAGE_TAG}$", "not": {"const": "latest"}},
        description="An explicit version (`latest` is refused).",
    )
    digest: str | None = Field(
        None, pattern=r"^sha256:[a-f0-9]{64}$", description="Also pin the content: the image is pulled as tag@digest."
    )
    pull_policy: Literal["IfNotPresent", "Always", "Never"] = Field(
        "IfNotPresent", description="IfNotPresent: a pod restarts without the registry (the gate warns on Always)."
    )

    @field_validator("tag")
    @classmethod
    def explicit_version(cls, tag: str) -> str:
        if tag in ("", "latest") or not re.fullmatch(IMAGE_TAG, tag):
            raise PydanticCustomError(
                "image_tag", "image tag {tag} is not an explicit version: pin one such as '8.1.8'", {"tag": repr(tag)}
            )
        return tag

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")


class CpuMemory(Model):
    cpu: str = Field(json_schema_extra={"pattern": QUANTITY.pattern}, description="A CPU quantity: 100m, 1.")
    memory: str = Field(json_schema_extra={"pattern": QUANTITY.pattern}, description="A memory quantity: 256Mi, 1Gi.")

    @field_validator("cpu", "memory", mode="before")
    @classmethod
    def quantity(cls, value: object) -> str:
        text = str(value)
        try:
            parse_quantity(text)
        except ValueError as err:
            raise PydanticCustomError("quantity", "{reason}", {"reason": str(err)}) from None
        return text


class Resources(Model):
    """Requests and limits, both required: an unbounded broker is the first thing the OOM killer takes."""

    requests: CpuMemory = Field(description="What the scheduler reserves.")
    limits: CpuMemory = Field(description="The most the container may use (memory: the kernel kills above it).")

    @model_validator(mode="after")
    def requests_within_limits(self) -> Resources:
        for field in ("cpu", "memory"):
            if parse_quantity(getattr(self.requests, field)) > parse_quantity(getattr(self.limits, field)):
                raise PydanticCustomError(
                    "requests_above_limits",
                    "requests.{field} ({req}) is above limits.{field} ({lim}): lower the request or raise the limit",
                    {"field": field, "req": getattr(self.requests, field), "lim": getattr(self.limits, field)},
                )
        return self

    @property
    def memory_limit_bytes(self) -> int:
        return memory_bytes(self.limits.memory)


class RedisServer(Model):
    image: Image = Image(repository="valkey/valkey", tag="8.1.8")
    replicas: int = Field(
        3,
        description="Redis pods; each also runs a Sentinel, so this is the Sentinel count too.",
        json_schema_extra={"minimum": 3, "maximum": MAX_REPLICAS, "not": {"multipleOf": 2}},
    )
    port: int = Field(6379, ge=1, le=65535, description="Redis's port (TLS-only when tls.enabled).")
    resources: Resources = Resources(
        requests=CpuMemory(cpu="250m", memory="1Gi"), limits=CpuMemory(cpu="1", memory="1Gi")
    )
    maxmemory: str = Field("auto", description="'auto' (75% of the memory limit) or a quantity such as 768Mi.")
    maxmemory_policy: Literal["noeviction", *EVICTING_POLICIES] = Field(  # type: ignore[valid-type]
        "noeviction", description="Must be noeviction: an evicting broker silently drops queued tasks."
    )

    @property
    def engine(self) -> str:
        """redis or valkey, from the image (contracts/engines.py: the tested-versions table's engines)."""
        return engine_of(self.image.repository)

    @property
    def version(self) -> tuple[int, int, int] | None:
        return version_of(self.image.tag)

    min_replicas_to_write: int = Field(
        1, ge=0, description="A master with fewer replicas in sync refuses writes: bounds what a partition can lose."
    )
    min_replicas_max_lag_seconds: int = Field(
        10, ge=1, description="A replica older than this does not count for minReplicasToWrite."
    )
    startup_timeout_seconds: int = Field(600, ge=30, description="Time allowed for loading a large AOF at start.")
    handover_timeout_seconds: int = Field(
        DEFAULT_HANDOVER_TIMEOUT_SECONDS,
        ge=5,
        description="Longest the preStop hand-over may pause writes and wait for a new master.",
    )

    @field_validator("replicas")
    @classmethod
    def odd_majority_possible(cls, replicas: int) -> int:
        if not sentinel_count_ok(replicas):
            raise PydanticCustomError(
                "sentinel_count",
                "{n} Redis pods means {n} Sentinels; Sentinels need an odd count of at least 3 so a majority "
                "survives one loss, and at most {max}: use 3 or 5",
                {"n": replicas, "max": MAX_REPLICAS},
            )
        return replicas

    @field_validator("maxmemory")
    @classmethod
    def auto_or_quantity(cls, value: str) -> str:
        if value != "auto":
            try:
                memory_bytes(value)
            except ValueError as err:
                raise PydanticCustomError("quantity", "{reason}; or use 'auto'", {"reason": str(err)}) from None
        return value

    @property
    def maxmemory_bytes(self) -> int:
        if self.maxmemory == "auto":
            return int(self.resources.memory_limit_bytes * AUTO_MAXMEMORY_RATIO)
        return memory_bytes(self.maxmemory)


class Sentinel(Model):
    master_name: str = Field(
        DEFAULT_MASTER_NAME,
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="The name the Sentinels monitor the master under; clients ask for it.",
    )
    quorum: int = Field(
        2, ge=1, description="Sentinels that must agree the master is down: a strict majority of the pods."
    )
    port: int = Field(26379, ge=1, le=65535, description="Sentinel's port.")
    down_after_milliseconds: int = Field(
        5000,
        ge=DOWN_AFTER_MS[0],
        le=DOWN_AFTER_MS[1],
        description="How long a master may not answer before it is judged down (5000: ~6 s of write outage "
        "on a crash).",
    )
    failover_timeout_milliseconds: int = Field(
        60_000,
        ge=FAILOVER_TIMEOUT_MS[0],
        le=FAILOVER_TIMEOUT_MS[1],
        description="Longest a failover may take; more than twice downAfterMilliseconds.",
    )
    parallel_syncs: int = Field(
        1, ge=1, description="Replicas resyncing at once after a failover (1: the others keep serving)."
    )
    resources: Resources = Resources(
        requests=CpuMemory(cpu="50m", memory="64Mi"), limits=CpuMemory(cpu="200m", memory="128Mi")
    )


class SecretRef(Model):
    """Where a password lives: the name and key of an existing Kubernetes Secret, never the value."""

    secret_name: str = Field(description="An existing Secret in the namespace (created outside git).")
    key: str = Field(
        pattern=r"^[-._a-zA-Z0-9]{1,253}$",
        description="The key in that Secret's data: the password every client and pod sends.",
    )
    also_accept: str | None = Field(
        None,
        pattern=r"^[-._a-zA-Z0-9]{1,253}$",
        description="During a rotation: another key of the same Secret whose password the servers accept too (never "
        "sent). Three commits rotate a password with no client refused: add the new key here, then swap `key` "
        "and `alsoAccept`, then remove `alsoAccept` (docs/operate/rotation.md); `plan` refuses a step that skips one.",
    )

    @model_validator(mode="after")
    def also_accept_differs(self) -> SecretRef:
        if self.also_accept == self.key:
            raise PydanticCustomError("also_accept_same", "alsoAccept names the same key as key: name the other one")
        return self

    @model_validator(mode="before")
    @classmethod
    def no_literal_passwords(cls, data: object) -> object:
        if isinstance(data, (str, int, float)) or isinstance(data, dict) and {"password", "value"} & set(data):
            raise PydanticCustomError(
                "secret_literal",
                "passwords never go in the spec (it is committed to git): create a Secret in the cluster and "
                "give its secretName and key here",
            )
        return data

    @field_validator("secret_name")
    @classmethod
    def valid_name(cls, value: str) -> str:
        return _dns_label(value, "secretName", 253)


class Auth(Model):
    redis_password: SecretRef
    sentinel_password: SecretRef


class RdbRule(Model):
    seconds: int = Field(ge=1)
    changes: int = Field(ge=1)


class Aof(Model):
    enabled: bool = Field(True, description="Keep the append-only file (the gate requires it).")
    fsync: Literal["always", "everysec", "no"] = Field(
        "everysec",
        description="everysec loses at most about a second on a node crash; always loses nothing and is slower.",
    )


def _storage_quantity(value: str) -> str:
    try:
        memory_bytes(value)
    except ValueError as err:
        raise PydanticCustomError("quantity", "{reason}", {"reason": str(err)}) from None
    return value


StorageSize = Annotated[str, AfterValidator(_storage_quantity)]  # a volume size: 10Gi, 500Mi


class Persistence(Model):
    size: StorageSize = Field(
        "10Gi",
        description="The data volume: room for the dataset at maxmemory, a snapshot and an AOF rewrite "
        "(at least 2 x maxmemory).",
    )
    storage_class_name: str = Field(
        "local-path", json_schema_extra=SUBDOMAIN_SCHEMA, description="The StorageClass of the data volumes."
    )

    @field_validator("storage_class_name")
    @classmethod
    def storage_class(cls, value: str) -> str:
        return _dns_subdomain(value, "storageClassName")

    access_mode: Literal["ReadWriteOnce", "ReadWriteOncePod"] = Field(
        "ReadWriteOnce", description="ReadWriteOnce (or ReadWriteOncePod): one pod per volume."
    )
    rdb_save: tuple[RdbRule, ...] = Field(
        (
            RdbRule(seconds=3600, changes=1),
            RdbRule(seconds=300, changes=100),
            RdbRule(seconds=60, changes=10000),
        ),
        description="RDB snapshot rules: after `changes` writes within `seconds`.",
    )
    aof: Aof = Field(Aof(), description="The append-only file: every acknowledged task survives a restart.")


class Exporter(Model):
    """redis_exporter, twice per pod: one for Redis (with the Celery queue lengths), one for Sentinel (whose
    metrics need the Sentinel port and password)."""

    enabled: bool = Field(True, description="Run the two redis_exporter sidecars (Redis's and Sentinel's).")
    image: Image = Image(repository="oliver006/redis_exporter", tag="v1.62.0")
    port: int = Field(9121, ge=1, le=65535, description="Redis's exporter.")
    sentinel_port: int = Field(9355, ge=1, le=65535, description="Sentinel's exporter.")
    username: str | None = Field(
        "exporter",
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="The exporter's own read-only ACL user on Redis (null: the default user, which can do anything).",
    )
    password: SecretRef = SecretRef.model_validate({"secretName": "redis-auth", "key": "exporter-password"})
    extra_args: tuple[str, ...] = Field(
        (),
        description="More redis_exporter flags, e.g. "
        "--check-single-keys=db0=mylist (the ACL user must be able to read the keys).",
    )
    resources: Resources = Resources(
        requests=CpuMemory(cpu="25m", memory="32Mi"), limits=CpuMemory(cpu="100m", memory="64Mi")
    )


class ServiceMonitorSpec(Model):
    enabled: bool = Field(True, description="Render the ServiceMonitor.")
    interval: str = Field("30s", pattern=DURATION, description="Scrape interval.")
    labels: dict[str, str] = Field(
        {"release": "prometheus"}, description="The labels your Prometheus Operator selects ServiceMonitors by."
    )


class Alerts(Model):
    """The PrometheusRule. Thresholds the spec already holds (the replica lag bound, maxmemory) come from there."""

    enabled: bool = Field(True, description="Render the PrometheusRule.")
    labels: dict[str, str] = Field(
        {"release": "prometheus"}, description="The labels your Prometheus Operator selects PrometheusRules by."
    )
    memory_ratio: float = Field(0.9, gt=0, lt=1, description="Alert when used memory passes this share of maxmemory.")
    queue_backlog: int = Field(
        100,
        ge=1,
        description="Alert when a Celery queue holds more tasks than this and keeps growing for queueBacklogFor.",
    )
    queue_backlog_for: str = Field(
        "10m",
        pattern=DURATION,
        description="How long a queue must keep growing past queueBacklog before the alert fires.",
    )
    runbook_url: str = Field(
        "https://github.com/example/airflow-redis/blob/main/docs/runbooks/",
        description="Each alert's runbook_url: a folder ending in '/' holding one page per alert (`<Alert>.md`, "
        "as docs/runbooks/ does), or one page of your own for every alert.",
    )


class Dashboard(Model):
    """Grafana dashboard in a ConfigMap, for kube-prometheus-stack's Grafana sidecar."""

    enabled: bool = Field(True, description="Render the Grafana dashboard ConfigMap.")
    labels: dict[str, str] = Field({"grafana_dashboard": "1"}, description="The label the sidecar looks for.")


class Monitoring(Model):
    exporter: Exporter = Exporter()
    service_monitor: ServiceMonitorSpec = Field(
        ServiceMonitorSpec(), description="A Prometheus Operator ServiceMonitor over both exporters."
    )
    alerts: Alerts = Alerts()
    dashboard: Dashboard = Dashboard()
    namespace: str = Field(
        "monitoring",
        json_schema_extra=LABEL_SCHEMA,
        description="Where Prometheus runs: the NetworkPolicy lets it scrape the exporters.",
    )

    @field_validator("namespace")
    @classmethod
    def monitoring_namespace(cls, value: str) -> str:
        return _dns_label(value, "namespace")


class ClientPeer(Model):
    """Pods allowed to reach Redis and Sentinel; an empty namespaceSelector means the cluster's namespace."""

    namespace_selector: dict[str, str] = {}
    pod_selector: dict[str, str] = Field(
        min_length=1, description="At least one label: an empty selector admits every pod of the namespace."
    )


class Network(Model):
    clients: tuple[ClientPeer, ...] = (ClientPeer.model_validate({"podSelector": {"tier": "airflow"}}),)


class Scheduling(Model):
    pod_anti_affinity: Literal["required", "preferred"] = Field(
        "required",
        description="required: never two Redis pods on one node (the gate requires it); preferred: best effort.",
    )
    zone_spread: Literal["DoNotSchedule", "ScheduleAnyway"] = Field(
        "ScheduleAnyway",
        description="Spread the pods across zones: DoNotSchedule refuses to place a pod that would unbalance them.",
    )
    node_selector: dict[str, str] = Field({}, description="Run the broker's pods only on nodes with these labels.")
    priority_class_name: str | None = Field(
        None,
        json_schema_extra=SUBDOMAIN_SCHEMA,
        description="A PriorityClass for the broker's pods (a broker outage stops every task).",
    )

    @field_validator("priority_class_name")
    @classmethod
    def priority_class(cls, value: str | None) -> str | None:
        return _dns_subdomain(value, "priorityClassName")


class Security(Model):
    run_as_user: int = Field(
        10001,
        json_schema_extra=UID_SCHEMA,
        description="The UID every container runs as (at least 10000: above host users).",
    )
    run_as_group: int = Field(10001, json_schema_extra=UID_SCHEMA, description="The GID every container runs as.")
    fs_group: int = Field(10001, json_schema_extra=UID_SCHEMA, description="The group that owns the volumes.")
    # Pod Security Admission level enforced on the namespace (warn and audit are always `restricted`, which
    # our pods meet). The namespace is Airflow's: `restricted` would also refuse Airflow's pods that fall short.
    pod_security_enforce: Literal["restricted", "baseline", "privileged"] = Field(
        "baseline",
        description="The Pod Security level enforced on the namespace (Airflow's pods share it); warn and audit "
        "are restricted.",
    )

    @field_validator("run_as_user", "run_as_group", "fs_group")
    @classmethod
    def unprivileged(cls, uid: int) -> int:
        if uid < MIN_UID:
            raise PydanticCustomError(
                "low_uid", "id {uid} may collide with a host user: use {min} or above", {"uid": uid, "min": MIN_UID}
            )
        return uid


class Smoke(Model):
    """The PostSync hook Job: after every sync it runs `redis-gitops smoke` from this image."""

    enabled: bool = Field(
        True, description="Render the smoke Job (Argo CD's PostSync hook; applied with the broker by Flux)."
    )
    image: Image = Image(repository="ghcr.io/example/redis-gitops-smoke", tag="0.1.0")
    failover: bool = Field(
        False,
        description="Also hand mastership over on every sync: ~1.5 s of write latency. "
        "The Job then holds the admin passwords (the hand-over needs them) instead of its user.",
    )
    username: str = Field(
        "smoke",
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="The Job's own ACL user on Redis (its health key, INFO, the probe queue) "
        "and on the Sentinels (discovery and CKQUORUM), unless `failover` is on.",
    )
    password: SecretRef = SecretRef.model_validate({"secretName": "redis-auth", "key": "smoke-password"})
    celery_round_trip: bool = Field(
        True,
        description="Also publish to a probe queue with kombu through Sentinel "
        "and consume it back, as Airflow's Celery does.",
    )
    max_write_outage_seconds: float = Field(
        DEFAULT_MAX_WRITE_OUTAGE_SECONDS,
        gt=0,
        le=60,
        description="With failover: the check fails when writers wait longer than this.",
    )
    wait_seconds: int = Field(
        240,
        ge=0,
        le=3000,
        description="How long the checks wait for the broker to be "
        "healthy (under Flux the Job starts with the broker; under Argo CD it starts after).",
    )
    active_deadline_seconds: int = Field(300, ge=60, le=3600, description="The Job's time limit.")
    backoff_limit: int = Field(0, ge=0, le=5, description="Retries; a failed check usually fails again.")
    ttl_seconds_after_finished: int = Field(86400, ge=0, description="How long the finished Job (and its logs) stays.")
    resources: Resources = Resources(
        requests=CpuMemory(cpu="50m", memory="64Mi"), limits=CpuMemory(cpu="500m", memory="128Mi")
    )


def smoke_user(spec: ClusterSpec) -> bool:
    """The smoke Job runs as its own ACL user, except with `failover` (its hand-over needs the admin passwords)."""
    return spec.smoke.enabled and not spec.smoke.failover


def _reason(description: str):
    """A reason a reviewer reads: a sentence, bounded (waivers and acknowledgements alike)."""
    return Field(min_length=10, max_length=MAX_REASON_CHARS, description=description)


class PolicyWaiver(Model):
    """Waive one policy rule on one rendered object; synth writes it as an annotation the gate reads."""

    rule: str
    kind: str = Field(pattern=r"^[A-Z][A-Za-z]+$")
    name: str
    reason: str = _reason("Why the rule does not apply here; shown in every report.")

    @field_validator("rule")
    @classmethod
    def known_rule(cls, value: str) -> str:
        if value not in RULE_IDS and not re.fullmatch(CHECKOV_CHECK.strip("^$"), value):
            close = [r for r in RULE_IDS if value.split("-")[0] == r.split("-")[0]] or list(RULE_IDS)
            raise PydanticCustomError(
                "unknown_rule",
                "unknown policy rule '{rule}': known rules include {known} (or a checkov check such as CKV_K8S_15)",
                {"rule": value, "known": ", ".join(close)},
            )
        return value


class S3Copy(Model):
    """A copy of each verified snapshot in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, GCS's S3 API...),
    off the cluster: the backup volume still holds the copies a restore reads."""

    endpoint: str = Field(pattern=r"^https?://[^\s/]+(/\S*)?$", description="The S3 API endpoint URL.")
    bucket: str = Field(
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description="The bucket the snapshots are copied to."
    )
    prefix: str = Field("", pattern=r"^([A-Za-z0-9!_.*'()-]+/)*$", description="Folder in the bucket, ending in '/'.")
    region: str = Field("", pattern=r"^[a-z0-9-]*$", description="Empty: the endpoint's default.")
    path_style: bool = Field(
        True,
        description="https://endpoint/bucket/key (MinIO, Ceph, most services); false "
        "for virtual-hosted buckets (https://bucket.endpoint/key, AWS S3's preferred style).",
    )
    access_key_id: SecretRef
    secret_access_key: SecretRef
    retention: int | None = Field(
        None, ge=1, le=10000, description="Snapshots kept in the bucket; default: backup.retention."
    )
    image: Image = Image(repository="rclone/rclone", tag="1.75.2")
    resources: Resources = Resources(
        requests=CpuMemory(cpu="50m", memory="64Mi"), limits=CpuMemory(cpu="500m", memory="256Mi")
    )

    @field_validator("endpoint")
    @classmethod
    def https_off_the_node(cls, value: str) -> str:
        """The credentials and every snapshot (task payloads) travel to this address: TLS only, and never the
        node's own or link-local addresses (cloud metadata services answer there)."""
        parsed = urlsplit(value)
        host = (parsed.hostname or "").strip("[]")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if parsed.scheme != "https":
            raise PydanticCustomError(
                "s3_endpoint",
                "endpoint {v} is not https: the S3 credentials and every "
                "snapshot would cross the network in clear; use https://",
                {"v": value},
            )
        if address is not None and (address.is_link_local or address.is_loopback or address.is_unspecified):
            raise PydanticCustomError(
                "s3_endpoint",
                "endpoint {v} is a loopback or link-local address (the node "
                "itself, or a cloud metadata service): give the storage service's name",
                {"v": value},
            )
        return value


class Backup(Model):
    """Scheduled RDB snapshots taken from a replica (never the master), verified, kept on a PVC of their own
    and, with `s3`, copied to a bucket."""

    enabled: bool = Field(False, description="Render the backup CronJob, its volume and its NetworkPolicy.")
    schedule: str = Field(
        "17 */6 * * *",
        pattern=r"^\S+ \S+ \S+ \S+ \S+$",
        description="Cron schedule (five fields, the CronJob's timeZone is UTC).",
    )
    retention: int = Field(7, ge=1, le=1000, description="How many snapshots to keep; older ones are deleted.")
    size: StorageSize = Field("20Gi", description="The backup volume: room for `retention` snapshots.")
    storage_class_name: str | None = Field(
        None, json_schema_extra=SUBDOMAIN_SCHEMA, description="Default: persistence.storageClassName."
    )
    timeout_seconds: int = Field(600, ge=30, description="Longest one snapshot transfer may take.")
    wait_seconds: int = Field(
        60,
        ge=0,
        le=3600,
        description="How long to wait for a replica in sync (one may be "
        "restarting in a rolling update) before refusing to load the master.",
    )
    resources: Resources = Resources(
        requests=CpuMemory(cpu="50m", memory="64Mi"), limits=CpuMemory(cpu="500m", memory="128Mi")
    )
    s3: S3Copy | None = None

    @field_validator("storage_class_name")
    @classmethod
    def storage_class(cls, value: str | None) -> str | None:
        return _dns_subdomain(value, "storageClassName")


class Restore(Model):
    """Bring every pod back to one snapshot on the backup volume, once: a Job named after `id` runs restore.sh."""

    snapshot: str = Field(
        pattern=r"^dump-[0-9]{8}T[0-9]{6,9}Z\.rdb$",
        description="A file on the backup volume, as `backup now` or the backup Job printed it.",
    )
    id: str = Field(
        pattern=r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$",
        description="Names this restore: its Job, and the marker that keeps it from running twice.",
    )


class IssuerRef(Model):
    name: str = Field(description="The issuer's name.")
    kind: Literal["Issuer", "ClusterIssuer"] = Field(
        "Issuer", description="Issuer (in the namespace) or ClusterIssuer."
    )
    group: str = Field("cert-manager.io", description="The issuer's API group.")

    @field_validator("name")
    @classmethod
    def valid_name(cls, value: str) -> str:
        return _dns_subdomain(value, "issuerRef.name")


class CertManager(Model):
    """A cert-manager Certificate rendered into dist/, naming every pod, both Services and the loopback address."""

    issuer_ref: IssuerRef = Field(description="The cert-manager issuer that signs the broker's certificate.")
    duration: str = Field("2160h", pattern=r"^[0-9]+h$", description="Requested lifetime (hours).")
    renew_before: str = Field(
        "720h",
        pattern=r"^[0-9]+h$",
        description="Renew this long before expiry. The "
        "pods read their certificate at start: roll them within this window.",
    )


class Tls(Model):
    """TLS on every connection: Redis and Sentinel listen on TLS only (their plain ports are off), replication and
    Sentinel's own links use it, and every client of ours verifies the server against the CA."""

    enabled: bool = Field(
        False, description="TLS only on every port: Redis, Sentinel, replication and every rendered client."
    )
    secret_name: str | None = Field(
        None,
        description="Secret with tls.crt, tls.key and ca.crt (cert-manager's "
        "layout). Default: <name>-tls, which certManager fills when set.",
    )
    cert_manager: CertManager | None = Field(
        None, description="Render a cert-manager Certificate; without it you provide the Secret."
    )

    @field_validator("secret_name")
    @classmethod
    def valid_name(cls, value: str | None) -> str | None:
        return None if value is None else _dns_label(value, "tls.secretName", 253)


class Acknowledgement(Model):
    """A change `plan` stops at (`check --base`), acknowledged: the gate passes it and prints its procedure."""

    change: str = Field(description="The change's code, as the plan names it (docs/review/plan.md lists them).")
    reason: str = _reason("Why, and that the procedure the plan gives is followed; shown in every plan.")

    @field_validator("change")
    @classmethod
    def known_change(cls, value: str) -> str:
        if value not in ACKNOWLEDGEABLE:
            raise PydanticCustomError(
                "unknown_change",
                "unknown change '{change}': the plan stops at {known}",
                {"change": value, "known": ", ".join(ACKNOWLEDGEABLE)},
            )
        return value


class Policy(Model):
    waivers: tuple[PolicyWaiver, ...] = ()
    acknowledge: tuple[Acknowledgement, ...] = Field(
        (),
        description="Changes from the running broker that `check --base` refuses unless acknowledged here: "
        "remove them once merged.",
    )


class KedaWorkload(Model):
    """The Airflow worker workload KEDA scales (the official chart: StatefulSet `<release>-worker`)."""

    kind: Literal["StatefulSet", "Deployment"] = Field(
        "StatefulSet", description="The kind of Airflow's worker workload."
    )
    name: str = Field(
        "airflow-worker", description="The name of Airflow's worker workload (the official chart: airflow-worker)."
    )

    @field_validator("name")
    @classmethod
    def valid_name(cls, value: str) -> str:
        return _dns_subdomain(value, "keda.workload.name")


class Keda(Model):
    """Scale Airflow's Celery workers on the length of their queues (KEDA's redis-sentinel scaler)."""

    enabled: bool = Field(True, description="Render the ScaledObject and TriggerAuthentication for Airflow's workers.")
    workload: KedaWorkload = KedaWorkload()
    username: str = Field(
        "keda",
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="KEDA's own ACL user on Redis (LLEN of the queues) and on the Sentinels (discovery only).",
    )
    password: SecretRef = SecretRef.model_validate({"secretName": "redis-auth", "key": "keda-password"})
    min_replica_count: int = Field(
        1,
        ge=0,
        description="Keep >= 1: LLEN counts only waiting tasks, so a worker "
        "busy with running ones would otherwise be scaled away.",
    )
    max_replica_count: int = Field(10, ge=1, description="The most workers KEDA scales to.")
    polling_interval: int = Field(15, ge=1, description="Seconds between two LLEN reads.")
    cooldown_period: int = Field(
        300, ge=0, description="Seconds after the last active trigger before scaling to minReplicaCount."
    )
    operator_namespace: str = Field(
        "keda", json_schema_extra=LABEL_SCHEMA, description="Where the KEDA operator runs; the NetworkPolicy admits it."
    )


class Airflow(Model):
    """Airflow's side of the broker: its ACL user, queues and worker settings, and what is generated for it
    (Helm values, AIRFLOW__ variables, airflow.cfg sections, KEDA objects)."""

    enabled: bool = Field(True, description="Render Airflow's side: its users, its configuration, KEDA.")
    username: str = Field(
        "airflow",
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="Airflow's own ACL user on Redis: the queues, nothing dangerous.",
    )
    password: SecretRef = SecretRef.model_validate({"secretName": "redis-auth", "key": "airflow-password"})
    queues: tuple[str, ...] = Field(
        ("default",),
        min_length=1,
        description="Celery queues Airflow uses (`[operators] default_queue` first); KEDA scales on their lengths.",
    )
    database_index: int = Field(
        0, ge=0, le=15, description="The Redis database Celery uses (its ACL user may select only it)."
    )
    worker_concurrency: int = Field(16, ge=1, le=256, description="Celery worker processes per pod.")
    visibility_timeout_seconds: int = Field(
        21600,
        ge=60,
        description="After this long an unacknowledged task is delivered again: longer than "
        "your longest task, short enough that a task held by a lost worker is not stuck for a day.",
    )
    operation_timeout_seconds: float = Field(
        1.0,
        ge=0.5,
        le=30,
        description="Airflow's `[celery] operation_timeout`: how long one publish attempt may take before Airflow "
        "sends the task again. Bounds each Sentinel lookup (half of it) and each publish confirmation (a quarter).",
    )
    confirm_publishes: bool = Field(
        True,
        description="A publish counts as done only once `redis.minReplicasToWrite` replicas hold it (WAIT in the "
        "same round trip), so a master cut off from its replicas cannot acknowledge a task that then vanishes. "
        'Off: faster by one replica round trip, and a partition can lose tasks published "ok".',
    )
    secrets_mount_path: str = Field(
        "/opt/airflow/secrets/redis-broker",
        pattern=r"^/[A-Za-z0-9._/-]+$",
        description="Where the Airflow pods mount the broker passwords as files.",
    )
    keda: Keda = Keda()

    @field_validator("secrets_mount_path")
    @classmethod
    def plain_absolute_path(cls, value: str) -> str:
        if any(part in ("", ".", "..") for part in value.split("/")[1:]):
            raise PydanticCustomError(
                "mount_path",
                "secretsMountPath {v} must be a plain absolute path (no '.', "
                "'..' or '//' parts): the Airflow pods mount the passwords exactly there",
                {"v": value},
            )
        return value

    @field_validator("queues")
    @classmethod
    def queue_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for q in value:
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", q):
                raise PydanticCustomError(
                    "queue_name",
                    "queue {q} is not a Celery queue name Airflow accepts: use letters, digits, '_', '.' and '-'",
                    {"q": repr(q)},
                )
        if len(set(value)) != len(value):
            raise PydanticCustomError("queue_dup", "queues are listed twice: {value}", {"value": list(value)})
        return value


IN_CLUSTER = "https://kubernetes.default.svc"  # Argo CD's name for the cluster it runs in


class Destination(Model):
    """The cluster an environment is synced to: Argo CD's destination (a registered cluster's `name` or its API
    `server`); for Flux, which runs in each cluster, a kubeconfig Secret when one Flux applies to another."""

    server: str = Field(
        IN_CLUSTER, pattern=r"^https://.+", description="The cluster's API server, as Argo CD knows it."
    )
    name: str | None = Field(
        None, description="Or the cluster's name in Argo CD (instead of server); it wins over server."
    )
    kube_config_secret: str | None = Field(
        None,
        json_schema_extra=LABEL_SCHEMA,
        description="Flux: the Secret (in flux_namespace) holding the kubeconfig of the cluster to apply to.",
    )


class GitOps(Model):
    repo_url: str = Field(
        pattern=r"^(https://|ssh://|git@).+", description="The Git repository Argo CD or Flux reads dist/ from."
    )
    path: str = Field("dist", description="The folder of the rendered manifests in that repository.")
    target_revision: str = Field("main", description="The branch, tag or commit to sync.")
    argocd_namespace: str = Field("argocd", description="Where Argo CD runs (the Application goes there).")
    project: str = Field("default", description="The Argo CD project of the Application.")
    flux_namespace: str = Field(
        "flux-system",
        json_schema_extra=LABEL_SCHEMA,
        description="Where the Flux GitRepository and Kustomization in dist/flux/ go.",
    )
    destination: Destination = Destination()
    automated: bool = Field(
        True, description="Argo CD syncs every commit on its own (false: a person presses Sync, as for prod often)."
    )
    sync_options: tuple[str, ...] = Field(
        (), description="Argo CD sync options of the Application (e.g. ServerSideApply=true)."
    )


class ClusterSpec(Model):
    """One Redis Sentinel cluster serving as the Celery broker of Airflow."""

    name: str = Field(
        "redis",
        json_schema_extra={**LABEL_SCHEMA, "maxLength": 40},
        description="Prefix of every object's name (redis-0, redis-headless, ...).",
    )
    namespace: str = Field(
        "airflow", json_schema_extra=LABEL_SCHEMA, description="Where the broker runs: Airflow's namespace."
    )
    kubernetes_version: str = Field(
        "1.33",
        pattern=r"^1\.[0-9]+$",
        json_schema_extra={
            "pattern": "^1\\.("
            + "|".join(str(m) for m in range(SUPPORTED_KUBERNETES[0], SUPPORTED_KUBERNETES[1] + 1))
            + ")$"
        },
        description="The schemas every object is validated against (strict, offline).",
    )
    cluster_domain: str = Field(
        "cluster.local", json_schema_extra=SUBDOMAIN_SCHEMA, description="The cluster's DNS domain, in pod names."
    )
    redis: RedisServer = RedisServer()
    sentinel: Sentinel = Sentinel()
    auth: Auth
    persistence: Persistence = Persistence()
    monitoring: Monitoring = Monitoring()
    network: Network = Network()
    scheduling: Scheduling = Scheduling()
    security: Security = Security()
    smoke: Smoke = Smoke()
    airflow: Airflow = Airflow()
    backup: Backup = Backup()
    restore: Restore | None = None
    tls: Tls = Tls()
    policy: Policy = Policy()
    gitops: GitOps
    environment: SkipJsonSchema[str | None] = Field(
        None, description="Set from the environment file's name (environments/<name>.yaml); never written."
    )

    @field_validator("name")
    @classmethod
    def name_leaves_room_for_suffixes(cls, value: str) -> str:
        # "-headless" and the StatefulSet's controller-revision hash must still fit in 63 characters.
        return _dns_label(value, "name", 40)

    @field_validator("namespace")
    @classmethod
    def namespace_label(cls, value: str) -> str:
        return _dns_label(value, "namespace")

    @field_validator("cluster_domain")
    @classmethod
    def cluster_domain_name(cls, value: str) -> str:
        return _dns_subdomain(value, "clusterDomain")

    @field_validator("kubernetes_version")
    @classmethod
    def supported_version(cls, value: str) -> str:
        low, high = SUPPORTED_KUBERNETES
        if not low <= int(value.split(".")[1]) <= high:
            raise PydanticCustomError(
                "k8s_version",
                "Kubernetes {v} has no schemas here: use 1.{low} to 1.{high}",
                {"v": value, "low": low, "high": high},
            )
        return value

    @model_validator(mode="after")
    def cross_field_rules(self) -> ClusterSpec:
        violations = cross_field_violations(self)
        if violations:
            raise PydanticCustomError(
                "spec_rules",
                "{summary}",
                {"summary": "; ".join(msg for _, msg in violations), "violations": violations},
            )
        return self


def cross_field_violations(spec: ClusterSpec) -> list[tuple[tuple[str, ...], str]]:
    """Rules that tie several fields together, each reported at the field a user should change."""
    out: list[tuple[tuple[str, ...], str]] = []
    n = spec.redis.replicas
    if not quorum_ok(spec.sentinel.quorum, n):
        out.append(
            (
                ("sentinel", "quorum"),
                f"quorum {spec.sentinel.quorum} with {n} Sentinels is not a strict majority: "
                f"use {strict_majority(n)} (more than half of {n}, at most {n})",
            )
        )
    limit = spec.redis.resources.memory_limit_bytes
    if spec.redis.maxmemory_bytes > limit * MAX_MAXMEMORY_RATIO:
        out.append(
            (
                ("redis", "maxmemory"),
                f"maxmemory {spec.redis.maxmemory} is above {percent(MAX_MAXMEMORY_RATIO)} of the redis memory limit "
                f"({spec.redis.resources.limits.memory}); the kernel kills Redis during a rewrite or a replica "
                f"sync: lower maxmemory to at most {int(limit * MAX_MAXMEMORY_RATIO)} bytes or use 'auto'",
            )
        )
    if spec.redis.maxmemory_policy != "noeviction":
        out.append(
            (
                ("redis", "maxmemoryPolicy"),
                f"maxmemoryPolicy {spec.redis.maxmemory_policy} lets Redis evict Celery's queues and bindings, "
                "silently dropping tasks: a broker must use noeviction",
            )
        )
    if spec.redis.min_replicas_to_write > n - 1:
        out.append(
            (
                ("redis", "minReplicasToWrite"),
                f"minReplicasToWrite {spec.redis.min_replicas_to_write} needs more replicas than the "
                f"{n - 1} there are: every write would fail; use at most {n - 1}",
            )
        )
    if not failover_timeout_ok(spec.sentinel.failover_timeout_milliseconds, spec.sentinel.down_after_milliseconds):
        out.append(
            (
                ("sentinel", "failoverTimeoutMilliseconds"),
                f"failoverTimeoutMilliseconds {spec.sentinel.failover_timeout_milliseconds} must exceed twice "
                f"downAfterMilliseconds ({spec.sentinel.down_after_milliseconds}) or failovers abort early",
            )
        )
    ports = {"redis.port": spec.redis.port, "sentinel.port": spec.sentinel.port}
    if spec.monitoring.exporter.enabled:
        ports |= {
            "monitoring.exporter.port": spec.monitoring.exporter.port,
            "monitoring.exporter.sentinelPort": spec.monitoring.exporter.sentinel_port,
        }
    for later, port in list(ports.items())[2:]:
        first = next(name for name, p in ports.items() if p == port)
        if first != later:
            out.append(
                (
                    tuple(later.split(".")),
                    f"{later} {port} is {first} too: every container of the pod needs its own port",
                )
            )
    if spec.redis.port == spec.sentinel.port:
        out.append(
            (
                ("sentinel", "port"),
                f"Sentinel's port {spec.sentinel.port} is Redis's port too: the pod "
                "cannot listen on both; give Sentinel its own (26379 by default)",
            )
        )
    waived = {w.rule for w in spec.policy.waivers}
    aof = spec.persistence.aof
    for field, bad, rule, why in (
        (
            "enabled",
            not aof.enabled,
            "persistence-aof",
            "without AOF a crash loses every write since the last RDB snapshot",
        ),
        (
            "fsync",
            aof.enabled and aof.fsync not in SAFE_AOF_FSYNC,
            "persistence-aof",
            f"fsync {aof.fsync!r} lets a crash lose acknowledged writes: use one of {', '.join(SAFE_AOF_FSYNC)}",
        ),
    ):
        if bad and rule not in waived:
            out.append(
                (
                    ("persistence", "aof", field),
                    f"{why}; the gate refuses it ({rule}): change it, or add a policy waiver of {rule} with a reason",
                )
            )
    if spec.scheduling.pod_anti_affinity != "required" and "quorum-anti-affinity" not in waived:
        out.append(
            (
                ("scheduling", "podAntiAffinity"),
                "with 'preferred' one node can hold a majority of the pods "
                "and its loss stops the broker; the gate refuses it (quorum-anti-affinity): use 'required', or "
                "add a policy waiver of quorum-anti-affinity with a reason",
            )
        )
    if spec.smoke.wait_seconds + 30 > spec.smoke.active_deadline_seconds:
        out.append(
            (
                ("smoke", "waitSeconds"),
                f"waitSeconds {spec.smoke.wait_seconds} leaves the checks less than "
                f"30 s of the Job's activeDeadlineSeconds ({spec.smoke.active_deadline_seconds}): lower it, or "
                "raise activeDeadlineSeconds",
            )
        )
    if spec.restore is not None and not spec.backup.enabled:
        out.append(
            (
                ("restore",),
                "a restore reads its snapshot from the backup volume: enable backup (the PVC "
                "holding the snapshot) or remove the restore section",
            )
        )
    keda = spec.airflow.keda
    if spec.airflow.enabled and keda.enabled and keda.min_replica_count > keda.max_replica_count:
        out.append(
            (
                ("airflow", "keda", "minReplicaCount"),
                f"minReplicaCount {keda.min_replica_count} is above maxReplicaCount {keda.max_replica_count}",
            )
        )
    users: dict[str, str] = {}
    for path, name in (
        ("airflow.username", spec.airflow.username if spec.airflow.enabled else None),
        ("airflow.keda.username", keda.username if spec.airflow.enabled and keda.enabled else None),
        (
            "monitoring.exporter.username",
            spec.monitoring.exporter.username if spec.monitoring.exporter.enabled else None,
        ),
        ("smoke.username", spec.smoke.username if smoke_user(spec) else None),
    ):
        if name is None:
            continue
        if name == "default":
            out.append(
                (
                    tuple(path.split(".")),
                    f"{path} 'default' is Redis's and Sentinel's admin user, which the "
                    "broker's own pods hold: give this client a user of its own",
                )
            )
        elif name == SENTINEL_MONITOR_USER:
            out.append(
                (
                    tuple(path.split(".")),
                    f"{path} {name!r} is the Sentinels' own user on Redis: give this client a user of its own",
                )
            )
        elif name in users:
            out.append(
                (
                    tuple(path.split(".")),
                    f"{path} {name!r} is {users[name]} too: each client gets its own "
                    "user, so that each holds only what it sends",
                )
            )
        users.setdefault(name, path)
    if memory_bytes(spec.persistence.size) < 2 * spec.redis.maxmemory_bytes:
        out.append(
            (
                ("persistence", "size"),
                f"persistence size {spec.persistence.size} cannot hold a dataset at maxmemory plus an AOF "
                f"rewrite: use at least {2 * spec.redis.maxmemory_bytes} bytes",
            )
        )
    return out
