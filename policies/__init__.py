"""The policy gate: pure rules over the manifests in dist/ (and the redis.conf/sentinel.conf inside them)."""
