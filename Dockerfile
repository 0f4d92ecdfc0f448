# The smoke-check image: `redis-gitops smoke` is the entrypoint of the PostSync hook Job in dist/.
# Runtime dependencies only (docker/smoke-requirements.txt); the tag comes from cluster_spec.yaml (smoke.image),
# CI builds it with: docker build -t "$(redis-gitops smoke-image)" .
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# redis-cli: the failover check runs the pods' own preStop script (synth/pod_scripts/prestop-redis.sh).
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-tools \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY docker/smoke-requirements.txt /tmp/smoke-requirements.txt
RUN pip install -r /tmp/smoke-requirements.txt
COPY pyproject.toml README.md ./
COPY synth ./synth
COPY runtime ./runtime
RUN pip install --no-deps . && rm -rf /app/build /app/*.egg-info

# The Job's securityContext runs it as 10001 with a read-only root filesystem; match it here too.
USER 10001:10001
ENTRYPOINT ["redis-gitops"]
CMD ["smoke", "--json"]
