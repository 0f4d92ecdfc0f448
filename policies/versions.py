"""The engine and version the broker pods run: one the tested-versions table runs or lists as compatible."""

from __future__ import annotations

from redis_gitops.contracts.engines import TABLE_DOC, TESTED_VERSIONS, Support, engine_of, support
from redis_gitops.policies.manifests import Manifests
from redis_gitops.policies.model import Family, Hit, rule

RUN_HERE = ", ".join(f"{r.engine} {r.versions}" for r in TESTED_VERSIONS if r.support is Support.RUN)


@rule(
    "broker-tested-engine",
    Family.BROKER,
    f"Redis and Sentinel run an engine version of the tested-versions table ({TABLE_DOC}).",
)
def tested_engine(m: Manifests):
    for template, redis, path in m.redis_servers():
        image = str(redis.get("image", "")).split("@", 1)[0]
        repository, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
        engine = engine_of(repository)
        verdict, why = support(engine, tag)
        if verdict is Support.REFUSED:
            yield Hit(
                template.owner.ref,
                (*path, "image"),
                f"{image} is {engine} {tag or '(no tag)'}, which the tested-versions table ({TABLE_DOC}) "
                f"refuses: {why}",
                f"use a version the suite runs ({RUN_HERE}) or one the table lists as compatible; to run another "
                "anyway, waive broker-tested-engine on the StatefulSet with the reason (policy.waivers)",
            )
