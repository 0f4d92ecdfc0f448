"""dist/ on disk: read it, compare it with a fresh render, and replace it atomically."""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Changes:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged"
        )


def read_tree(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.read_text(errors="replace")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def compare(expected: dict[str, str], actual: dict[str, str]) -> Changes:
    changes = Changes()
    for path in sorted(expected.keys() | actual.keys()):
        if path not in actual:
            changes.added.append(path)
        elif path not in expected:
            changes.removed.append(path)
        elif expected[path] != actual[path]:
            changes.changed.append(path)
        else:
            changes.unchanged.append(path)
    return changes


def unified_diff(expected: dict[str, str], actual: dict[str, str], folder: str) -> str:
    """What a hand edit or a stale render changed, written as `actual -> expected`."""
    out: list[str] = []
    for path in sorted(expected.keys() | actual.keys()):
        a, b = actual.get(path), expected.get(path)
        if a == b:
            continue
        out.extend(
            difflib.unified_diff(
                (a or "").splitlines(keepends=True),
                (b or "").splitlines(keepends=True),
                fromfile=f"{folder}/{path}" if a is not None else "/dev/null",
                tofile=f"{folder}/{path} (from the spec)" if b is not None else "/dev/null",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


class ForeignFilesError(Exception):
    """The output folder holds files this tool did not write: replacing it would delete them."""

    def __init__(self, folder: Path, foreign: list[str]):
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        super().__init__(
            f"{folder} holds files not written by redis-gitops ({shown}); nothing was changed. "
            "Give --out an empty or new folder, or the one synth wrote before."
        )
        self.foreign = foreign


def foreign_files(folder: Path, header: str) -> list[str]:
    """Files (hidden ones and folders like .git included) that do not start with this tool's header line."""
    if not folder.exists():
        return []
    if not folder.is_dir():
        return [folder.name]
    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_dir() and not p.is_symlink():
            continue
        try:
            with p.open("rb") as f:
                ours = p.is_file() and not p.is_symlink() and f.read(len(header.encode())) == header.encode()
        except OSError:
            ours = False
        if not ours:
            out.append(p.relative_to(folder).as_posix())
    return out


def replace_tree(folder: Path, files: dict[str, str]) -> None:
    """Write every file into a sibling temporary folder, then swap it in: no state in between is visible
    for long, and anything not in `files` (stale objects) is gone afterwards."""
    folder = folder.resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-new-", dir=folder.parent))
    try:
        for path, text in files.items():
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        os.chmod(staging, 0o755)
        retired = folder.parent / f".{folder.name}-old-{os.getpid()}"
        if folder.exists():
            os.rename(folder, retired)
        try:
            os.rename(staging, folder)
        except OSError:
            if retired.exists():
                os.rename(retired, folder)  # the old tree back, as the CLI promises
            raise
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
