"""KEDA: scale Airflow's Celery workers on the length of their queues, read through Sentinel.

LLEN counts only waiting tasks (running ones sit in kombu's `unacked` hash), so the queue says when to add
workers, never when one is idle: minReplicaCount keeps a floor, and cooldownPeriod delays scale-down. The
Airflow chart's own KEDA trigger (queued + running task instances in the metadata database) sees running
tasks but needs the database; we scale on the broker the spec owns and leave the chart's KEDA off.
"""

from __future__ import annotations

from cdk8s_plus_33 import k8s
from constructs import Construct

from redis_gitops.contracts.paths import TLS_CA_FILE
from redis_gitops.synth.airflow_config import sentinel_addresses
from redis_gitops.synth.components.common import MISSING_CRD_OK, WAVE_OBSERVE, meta_fields
from redis_gitops.synth.components.custom import custom_resource
from redis_gitops.synth.naming import Names

KEDA_API = "keda.sh/v1alpha1"
USERNAME_KEY = "username"


def worker_autoscaling(scope: Construct, names: Names) -> None:
    spec, a = names.spec, names.spec.airflow
    keda = a.keda
    # KEDA's own user, on Redis (LLEN of the queues) and on the Sentinels (discovery only), with one password. The
    # username is no secret: a ConfigMap carries it (configMapTargetRef).
    k8s.KubeConfigMap(
        scope,
        "keda-username",
        data={USERNAME_KEY: keda.username},
        metadata=k8s.ObjectMeta(**meta_fields(names, names.airflow_workers, "autoscaling", WAVE_OBSERVE)),
    )
    custom_resource(
        scope,
        KEDA_API,
        "TriggerAuthentication",
        meta_fields(names, names.airflow_workers, "autoscaling", WAVE_OBSERVE, annotations=MISSING_CRD_OK),
        {
            "secretTargetRef": [
                {"parameter": "password", "name": keda.password.secret_name, "key": keda.password.key},
                {"parameter": "sentinelPassword", "name": keda.password.secret_name, "key": keda.password.key},
                # With TLS, KEDA verifies the Sentinels and Redis against the broker's CA (enableTLS below).
                *([{"parameter": "ca", "name": names.tls_secret, "key": TLS_CA_FILE}] if spec.tls.enabled else []),
            ],
            "configMapTargetRef": [
                {"parameter": "username", "name": names.airflow_workers, "key": USERNAME_KEY},
                {"parameter": "sentinelUsername", "name": names.airflow_workers, "key": USERNAME_KEY},
            ],
        },
    )
    custom_resource(
        scope,
        KEDA_API,
        "ScaledObject",
        meta_fields(names, names.airflow_workers, "autoscaling", WAVE_OBSERVE, annotations=MISSING_CRD_OK),
        {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": keda.workload.kind, "name": keda.workload.name},
            "minReplicaCount": keda.min_replica_count,
            "maxReplicaCount": keda.max_replica_count,
            "pollingInterval": keda.polling_interval,
            "cooldownPeriod": keda.cooldown_period,
            "triggers": [
                {
                    "type": "redis-sentinel",
                    "metadata": {
                        "addresses": ",".join(sentinel_addresses(spec)),
                        "sentinelMaster": spec.sentinel.master_name,
                        "listName": queue,
                        # One more worker per worker_concurrency waiting tasks (prefetch 1: a worker takes that many).
                        "listLength": str(a.worker_concurrency),
                        "activationListLength": "0",
                        "databaseIndex": str(a.database_index),
                        # TLS is on in the metadata, not as the TriggerAuthentication's `tls` (KEDA refuses both).
                        **({"enableTLS": "true", "unsafeSsl": "false"} if spec.tls.enabled else {}),
                    },
                    "authenticationRef": {"name": names.airflow_workers},
                }
                for queue in a.queues
            ],
        },
    )
