"""Certificates for a local cluster with TLS: a throw-away CA and one server certificate naming every "pod"
address, as the rendered cert-manager Certificate names every pod (tls.crt, tls.key, ca.crt: its layout)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from redis_gitops.contracts.paths import TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE

DAYS = 2  # long enough for any test run or `local up` session; a new cluster gets new ones


def _openssl(*args: str, cwd: Path) -> None:
    run = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {run.stderr.strip()}")


def make_certificates(folder: Path, addresses: list[str], names: tuple[str, ...] = ("localhost",)) -> Path:
    """A CA and a certificate for `addresses` (IP SANs), 127.0.0.1 and `names`, in folder (created 0700)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        "req",
        "-x509",
        "-new",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        TLS_CA_FILE,
        "-days",
        str(DAYS),
        "-subj",
        "/CN=redis-gitops local CA",
        cwd=folder,
    )
    _openssl("req", "-new", *ec, "-keyout", TLS_KEY_FILE, "-out", "tls.csr", "-subj", f"/CN={addresses[0]}", cwd=folder)
    sans = ",".join([*(f"IP:{a}" for a in dict.fromkeys([*addresses, "127.0.0.1"])), *(f"DNS:{n}" for n in names)])
    (folder / "ext.cnf").write_text(
        f"subjectAltName={sans}\nextendedKeyUsage=serverAuth,clientAuth\n"
        "basicConstraints=critical,CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        "tls.csr",
        "-CA",
        TLS_CA_FILE,
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        TLS_CERT_FILE,
        "-days",
        str(DAYS),
        "-extfile",
        "ext.cnf",
        cwd=folder,
    )
    for leftover in ("tls.csr", "ext.cnf", "ca.srl", "ca.key"):  # the CA key is of no further use: gone
        (folder / leftover).unlink(missing_ok=True)
    (folder / TLS_KEY_FILE).chmod(0o600)
    return folder
