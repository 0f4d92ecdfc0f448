"""redis-gitops: from one cluster spec to proven Kubernetes manifests for a Redis Sentinel broker."""
