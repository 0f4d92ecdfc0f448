# The smoke-check image: `redis-gitops-smoke smoke` is the entrypoint of the PostSync hook Job in dist/. It holds
# runtime/ and contracts/ only (no generator, gate or development harness).
# Runtime dependencies only (docker/smoke/requirements.txt); the tag comes from cluster_spec.yaml (smoke.image),
# CI builds it with: docker build -t "$(redis-gitops smoke-image)" .
# Newest 3.11 patch on bookworm (docker-library/python versions.json, 2026-06-23); bookworm keeps redis-tools 7.0.15.
FROM python:3.11.15-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# redis-cli: the failover check runs the pods' own preStop script (contracts/pod_scripts/prestop-redis.sh).
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-tools \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY docker/smoke/requirements.txt /tmp/smoke-requirements.txt
RUN pip install -r /tmp/smoke-requirements.txt
# Its own distribution (docker/smoke/pyproject.toml): runtime/ and contracts/, one script; and the connections
# that follow a master change, shared with Airflow's transport (airflow_broker/, its own distribution).
COPY docker/smoke/pyproject.toml ./
COPY contracts ./contracts
COPY runtime ./runtime
COPY airflow_broker ./airflow_broker
RUN pip install --no-deps ./airflow_broker . && rm -rf /app/build /app/*.egg-info /app/airflow_broker

# The Job's securityContext runs it as 10001 with a read-only root filesystem; match it here too.
USER 10001:10001
ENTRYPOINT ["redis-gitops-smoke"]
CMD ["smoke", "--json"]
