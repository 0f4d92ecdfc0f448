"""The scripts that run inside the pods pass ShellCheck as POSIX sh (the image's /bin/sh is dash)."""

import shutil
import subprocess
from pathlib import Path

import pytest

from redis_gitops.contracts.pod_scripts import NAMES as POD_SCRIPTS

SCRIPTS = Path(__file__).resolve().parents[1] / "contracts" / "pod_scripts"


def test_every_shipped_script_is_in_the_config_map():
    assert sorted(POD_SCRIPTS) == sorted(p.name for p in SCRIPTS.glob("*.sh"))


@pytest.mark.parametrize("script", POD_SCRIPTS)
def test_script_passes_shellcheck(script):
    assert shutil.which("shellcheck"), "shellcheck is installed by `make test` (Debian package shellcheck)"
    result = subprocess.run(["shellcheck", "-s", "sh", "-x", script], cwd=SCRIPTS, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("script", POD_SCRIPTS)
def test_no_sed_program_is_built_from_a_value(script):
    """A value spliced into a sed program is code (GNU sed's `e` flag runs a command): values reach awk through
    -v or ENVIRON instead. Issue 21 found a master host name pasted into start-sentinel.sh's sed program."""
    import re

    spliced = [
        line.strip()
        for line in (SCRIPTS / script).read_text().splitlines()
        if re.search(r"\bsed\s+(-\w+\s+)*\"[^\"]*\$", line) and not line.lstrip().startswith("#")
    ]
    assert spliced == []
