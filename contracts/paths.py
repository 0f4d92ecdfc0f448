"""Where things are inside a pod: the generator mounts them there, the gate checks them, the scripts use them."""

DATA_DIR = "/data"  # the PersistentVolumeClaim
CONFIG_DIR = "/config"  # read-only templates (ConfigMap)
SCRIPTS_DIR = "/scripts"  # the pod scripts (ConfigMap)
REDIS_RUNTIME_DIR = "/run/redis"  # Redis's rendered config, in memory

# In dist/: values for the official Airflow Helm chart (not a Kubernetes object; Argo CD reads it as `$values`).
AIRFLOW_HELM_VALUES = "airflow/helm-values.yaml"
