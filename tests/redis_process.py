"""A throwaway redis-server on a unix socket (no port to clash with), for tests that need one real server."""

import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import redis


@contextmanager
def unix_socket_redis(folder: Path, *args: str):
    """Yield a client of a redis-server started in folder with these extra arguments; stop it afterwards."""
    sock = folder / "redis.sock"
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", str(sock), "--save", "", "--dir", str(folder), *args],
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
