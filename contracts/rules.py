"""The gate's rule ids and its waiver annotation: the spec checks waivers against these, the generator writes
the annotations, the gate registers exactly these rules (an unknown id fails at import)."""

WAIVER_PREFIX = "policies.redis-gitops.io/waive-"

RULE_IDS = (
    "api-dns-names",
    "api-object-size",
    "api-selector-matches-template",
    "api-service-target-ports",
    "api-port-ranges",
    "api-pdb-fields",
    "api-job-restart-policy",
    "api-statefulset-service",
    "auth-redis-password-from-secret",
    "auth-sentinel-own-redis-user",
    "auth-sentinel-password",
    "auth-passwords-as-files",
    "auth-no-secret-literals",
    "auth-protected-mode",
    "auth-acl-dangerous-commands",
    "auth-acl-client-scope",
    "broker-noeviction",
    "broker-maxmemory",
    "broker-no-replica-service",
    "broker-namespace-in-names",
    "broker-readiness-probes",
    "broker-tested-engine",
    "persistence-aof",
    "persistence-rdb",
    "persistence-data-volume",
    "persistence-access-mode",
    "persistence-size",
    "quorum-sentinel-count",
    "quorum-majority",
    "quorum-same-master",
    "quorum-anti-affinity",
    "quorum-disruption-budget",
    "quorum-timings",
    "resources-requests-limits",
    "resources-maxmemory-headroom",
    "security-non-root",
    "security-read-only-root",
    "security-no-privilege-escalation",
    "security-drop-all-capabilities",
    "security-seccomp",
    "security-no-service-account-token",
    "security-image-version",
    "security-image-digest",
    "security-pull-policy",
    "security-network-policy",
    "keda-trigger-sentinels",
    "keda-trigger-queues",
    "keda-secret-refs",
    "airflow-broker-url",
    "airflow-master-name",
    "security-tls-only",
    "security-tls-clients",
)

# checkov's Kubernetes checks: a spec waiver may name one; synth renders it as checkov's own skip annotation.
CHECKOV_CHECK = r"^CKV2?_K8S_[0-9]+$"
CHECKOV_SKIP_PREFIX = "checkov.io/skip"

# The gate's rules that check what a checkov check checks: a spec waiver (or a hand-written `checkov.io/skipN:
# CHECK=reason`) of the check also waives the rule, with the same reason, so one decision serves both tools.
# (checkov's CKV_K8S_15 wants imagePullPolicy Always; the gate's security-pull-policy warns on exactly that.)
CHECKOV_EQUIVALENT = {
    "CKV_K8S_43": "security-image-digest",
    "CKV_K8S_35": "auth-passwords-as-files",
    "CKV_K8S_9": "broker-readiness-probes",
}
