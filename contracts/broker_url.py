"""The broker URL form kombu and Airflow read, agreed once for the generator (airflow-config --local) and the
smoke image's Celery check. airflow_broker/ installs alone into Airflow's image and keeps its own copy;
tests/test_airflow_config.py holds the two equal."""

from __future__ import annotations

from urllib.parse import quote


def sentinel_broker_url(sentinels: list[str], db: int, password: str | None, username: str = "") -> str:
    """`sentinel://user:pw@host:port/db` per Sentinel, joined by ';': kombu reads credentials from the first part
    only and drops parts without the scheme, and the Airflow image's entrypoint needs the /db on every part;
    the password is percent-encoded (kombu decodes it)."""
    credentials = f"{quote(username, safe='')}:{quote(password, safe='')}@" if password else ""
    return ";".join(f"sentinel://{credentials}{address}/{db}" for address in sentinels)


def tls_kwargs(ca_file: str | None) -> dict:
    """redis-py's options for TLS, the server's certificate verified against the CA (and its host name: redis-py's
    default; the certificate names every pod and Service); {} without TLS. Every connection of ours uses them, and
    kombu's Sentinel connections (`sentinel_kwargs`; the master's take broker_use_ssl)."""
    return {"ssl": True, "ssl_ca_certs": ca_file, "ssl_cert_reqs": "required"} if ca_file else {}
