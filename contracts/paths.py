"""Where things are inside a pod: the generator mounts them there, the gate checks them, the scripts use them."""

DATA_DIR = "/data"  # the PersistentVolumeClaim
CONFIG_DIR = "/config"  # read-only templates (ConfigMap)
SCRIPTS_DIR = "/scripts"  # the pod scripts (ConfigMap)
REDIS_RUNTIME_DIR = "/run/redis"  # Redis's rendered config, in memory
SECRETS_DIR = "/secrets"  # the password files, projected read-only from the Secrets the spec references
TLS_DIR = "/tls"  # the certificate Secret (tls.crt, tls.key, ca.crt: cert-manager's layout), read-only
EXPORTER_DIR = "/run/exporter"  # redis_exporter's password file (JSON), written by its init container, in memory

# ACL users: `<role>.acl` in the config ConfigMap holds one user's rules; start-redis.sh appends the password
# from `<role>-password` in SECRETS_DIR (the Redis container mounts one for each).
AIRFLOW_ACL_FILE = "airflow.acl"
KEDA_ACL_FILE = "keda.acl"
EXPORTER_ACL_FILE = "exporter.acl"
SMOKE_ACL_FILE = "smoke.acl"
# The Sentinels' own user on Redis (`sentinel auth-user`): its password is the Sentinel password.
SENTINEL_MONITOR_ACL_FILE = "sentinel.acl"
# In the config ConfigMap: "<engine> <major>.<minor> <RDB format>" per line (contracts/engines.RDB_FORMAT), which
# the hand-over reads to keep the master on a server every replica can full-sync from.
RDB_FORMATS_FILE = "rdb-formats"
# A client's user on the Sentinels: `<role>.sentinel-acl`, the same password file as its Redis user
# (start-sentinel.sh appends it).
SENTINEL_ACL_SUFFIX = ".sentinel-acl"
# The password files under SECRETS_DIR (also what Airflow's pods mount and the local cluster's secrets folder holds).
AIRFLOW_PASSWORD_FILE = "airflow-password"
KEDA_PASSWORD_FILE = "keda-password"
EXPORTER_PASSWORD_FILE = "exporter-password"
SMOKE_PASSWORD_FILE = "smoke-password"
SENTINEL_PASSWORD_FILE = "sentinel-password"
REDIS_PASSWORD_FILE = "redis-password"
# During a rotation (a SecretRef's alsoAccept), the servers' containers also mount `<password file>.also`: a
# password Redis and Sentinel accept beside the one everything sends.
ALSO_ACCEPTED_SUFFIX = ".also"
# The backup upload's S3 credentials, as files in its SECRETS_DIR.
S3_ACCESS_KEY_ID_FILE = "s3-access-key-id"
S3_SECRET_ACCESS_KEY_FILE = "s3-secret-access-key"

# The files in TLS_DIR, as cert-manager writes a Certificate's Secret (a Secret the user provides must match).
TLS_CERT_FILE = "tls.crt"
TLS_KEY_FILE = "tls.key"
TLS_CA_FILE = "ca.crt"

# In dist/: values for the official Airflow Helm chart (not a Kubernetes object; Argo CD reads it as `$values`).
AIRFLOW_HELM_VALUES = "airflow/helm-values.yaml"


def acl_password_file(acl_file: str) -> str:
    """The password file the pod scripts read for an ACL file: airflow.acl (and airflow.sentinel-acl) ->
    airflow-password."""
    return acl_file.removesuffix(SENTINEL_ACL_SUFFIX).removesuffix(".acl") + "-password"


def sentinel_acl_file(acl_file: str) -> str:
    """The Sentinel user file of the client whose Redis ACL file this is: airflow.acl -> airflow.sentinel-acl."""
    return acl_file.removesuffix(".acl") + SENTINEL_ACL_SUFFIX
