"""Airflow's side (dist/airflow/helm-values.yaml): the broker URL in a form kombu reads, no password in it, and
the master name the Sentinels monitor."""

from __future__ import annotations

import json
import re

from redis_gitops.policies.manifests import Manifests
from redis_gitops.policies.model import Family, Hit, rule
from redis_gitops.policies.quorum import monitors

PASSWORD_IN_URL = re.compile(r"://[^/@;]*:[^/@;]+@")


def _section(values, name: str) -> dict:
    return ((values.doc.get("config") or {}).get(name)) or {}


@rule(
    "airflow-broker-url",
    Family.BROKER,
    "Airflow's broker URL is `sentinel://` per Sentinel, its sentinel_kwargs JSON, and no password is written in.",
)
def broker_url(m: Manifests):
    v = m.airflow_values
    if v is None:
        return
    env = {str(e.get("name")): e for e in v.doc.get("env") or []}
    for i, (name, e) in enumerate(env.items()):
        if (
            name in ("AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__SENTINEL_KWARGS")
            and "value" in e
        ):
            yield Hit(
                v.ref,
                ("env", i),
                f"{name} is written into the values: its password ends up in git",
                f"use {name}_CMD reading a mounted Secret (make synth renders it)",
            )
    celery, options = _section(v, "celery"), _section(v, "celery_broker_transport_options")
    url = str(celery.get("broker_url", ""))
    if url:
        if PASSWORD_IN_URL.search(url):
            yield Hit(
                v.ref,
                ("config", "celery", "broker_url"),
                "broker_url carries a password: it ends up in git",
                "use broker_url_cmd (or AIRFLOW__CELERY__BROKER_URL_CMD) reading a mounted Secret",
            )
        if not all(part.startswith("sentinel://") and re.search(r"/\d+$", part) for part in url.split(";")):
            yield Hit(
                v.ref,
                ("config", "celery", "broker_url"),
                f"broker_url {url!r} is not `sentinel://host:port/db` "
                "per Sentinel joined by ';': kombu drops other parts, `redis+sentinel://` fails to parse, and "
                "the Airflow image's entrypoint needs the /db on every part",
                "regenerate dist/ (make synth)",
            )
    kwargs = options.get("sentinel_kwargs")
    if kwargs is not None:
        try:
            parsed = json.loads(str(kwargs))
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            yield Hit(
                v.ref,
                ("config", "celery_broker_transport_options", "sentinel_kwargs"),
                "sentinel_kwargs is not a JSON object: Airflow refuses a Python dict string",
                'write it as JSON: {"password": ...}',
            )
        elif "password" in parsed:
            yield Hit(
                v.ref,
                ("config", "celery_broker_transport_options", "sentinel_kwargs"),
                "sentinel_kwargs carries the Sentinel password: it ends up in git",
                "use sentinel_kwargs_cmd reading a Secret",
            )


@rule("airflow-master-name", Family.BROKER, "Airflow asks the Sentinels for the master name they monitor.")
def master_name(m: Manifests):
    v = m.airflow_values
    names = {name for _, _, name, _ in monitors(m)}
    if v is None or not names:
        return
    given = _section(v, "celery_broker_transport_options").get("master_name")
    if given not in names:
        yield Hit(
            v.ref,
            ("config", "celery_broker_transport_options", "master_name"),
            f"master_name {given!r} is not "
            f"the name the Sentinels monitor ({', '.join(sorted(names))}): Airflow finds no master",
            "regenerate dist/ (make synth)",
        )
