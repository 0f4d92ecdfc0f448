"""Print the broker URL or Sentinel's client options from mounted password files, for Airflow's `_CMD` options.

    AIRFLOW__CELERY__BROKER_URL_CMD="python -m redis_gitops_airflow.broker_url url --sentinels h0:26379,h1:26379
        --db 0 --username airflow --password-file /opt/airflow/secrets/redis/airflow-password"
    AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__SENTINEL_KWARGS_CMD="python -m redis_gitops_airflow.broker_url
        sentinel-kwargs --username airflow --password-file /opt/airflow/secrets/redis/airflow-password
        --socket-timeout 0.5 [--tls-ca-file /opt/airflow/secrets/redis/ca.crt]"

Passwords are percent-encoded (kombu decodes them); every part repeats scheme, credentials and db, the only
form kombu and the Airflow image's entrypoint both read (see the README's Airflow section).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import quote


def broker_url(sentinels: list[str], db: int, password: str, username: str = "") -> str:
    credentials = f"{quote(username, safe='')}:{quote(password, safe='')}@" if password else ""
    return ";".join(f"sentinel://{credentials}{address}/{db}" for address in sentinels)


def sentinel_tls_kwargs(ca_file: str | None) -> dict:
    """What kombu passes to its Sentinel connections for TLS: the server verified against the CA."""
    return {"ssl": True, "ssl_ca_certs": ca_file, "ssl_cert_reqs": "required"} if ca_file else {}


def sentinel_kwargs(
    password: str, username: str = "", tls_ca_file: str | None = None, socket_timeout: float | None = None
) -> str:
    """JSON, as Airflow requires for `sentinel_kwargs` (a Python dict string is refused). With sentinel_kwargs set,
    redis-py gives Sentinel connections no timeout of their own: `socket_timeout` bounds connect and reply."""
    kwargs: dict = {"password": password}
    if username:
        kwargs["username"] = username
    if socket_timeout is not None:
        kwargs |= {"socket_timeout": socket_timeout, "socket_connect_timeout": socket_timeout}
    return json.dumps({**kwargs, **sentinel_tls_kwargs(tls_ca_file)})


def _secret(path: str) -> str:
    try:
        return Path(path).read_text().rstrip("\n")  # as `$(cat file)`: trailing newlines only
    except OSError as err:
        raise SystemExit(f"cannot read the password file {path}: {err.strerror}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m redis_gitops_airflow.broker_url")
    sub = parser.add_subparsers(dest="what", required=True)
    url = sub.add_parser("url", help="the [celery] broker_url")
    url.add_argument("--sentinels", required=True, help="host:port,host:port,... of every Sentinel")
    url.add_argument("--db", type=int, default=0)
    url.add_argument("--username", default="")
    url.add_argument("--password-file", required=True)
    kw = sub.add_parser("sentinel-kwargs", help="the [celery_broker_transport_options] sentinel_kwargs")
    kw.add_argument("--username", default="")
    kw.add_argument("--password-file", required=True)
    kw.add_argument("--tls-ca-file", help="with TLS: the CA certificate the Sentinels are verified against")
    kw.add_argument("--socket-timeout", type=float, help="seconds a Sentinel may take to accept and to answer")
    args = parser.parse_args(argv)
    password = _secret(args.password_file)
    if args.what == "url":
        print(broker_url(args.sentinels.split(","), args.db, password, args.username))
    else:
        print(sentinel_kwargs(password, args.username, args.tls_ca_file, args.socket_timeout))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
