"""Dependencies run one way: CLI -> pipeline -> generator -> spec -> contracts; the gate judges dist/ as it is
(contracts only); the runtime ships in the smoke image (contracts only); the development harness sits on top.
The layers are import-linter contracts (pyproject.toml); here also what they cannot say."""

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PACKAGES = ("contracts", "synth", "policies", "runtime", "devcluster", "faults", "plan")
NAMESPACE = "redis_gitops"  # every package is installed as redis_gitops.<folder> (pyproject.toml's package-dir)


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def test_the_import_contracts_hold():
    """pyproject.toml's [tool.importlinter] contracts (the layers, and no circle between the packages), as
    `make check` runs them."""
    run = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_the_contracts_import_only_the_standard_library():
    for module, path in modules().items():
        if not module.startswith("contracts"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for name in names:
                    top = name.split(".")[0]
                    assert top in sys.stdlib_module_names or name.startswith(f"{NAMESPACE}.contracts"), (
                        f"{module} imports {name}"
                    )


def test_the_airflow_package_stands_alone():
    """redis_gitops_airflow installs into Airflow's image by itself: it imports none of this project's packages."""
    package = ROOT / "airflow_broker" / "redis_gitops_airflow"
    ours = {*PACKAGES, NAMESPACE}
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            )
            for name in names:
                assert name.split(".")[0] not in ours, f"{path.name} imports {name}"


def test_every_import_of_ours_goes_through_the_one_namespace():
    """`import synth` would find the checkout's folder or another project's module of that name (PyPI's
    `contracts` installs one): every import of ours names redis_gitops.<package>."""
    bare = []
    for path in [p for f in (*PACKAGES, "tests", "scripts") for p in (ROOT / f).rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            )
            bare += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in PACKAGES]
    assert not bare, "\n".join(bare)


def test_the_airflow_package_admits_only_the_minor_versions_the_suite_runs():
    """redis_gitops_airflow overrides private kombu and redis-py methods: its range holds the versions the suite
    pins (and so runs) and no other minor version, older or newer."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.version import Version

    pins = {
        r.name: next(iter(r.specifier)).version
        for r in map(Requirement, tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    }
    ranges = tomllib.loads((ROOT / "airflow_broker" / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in map(Requirement, ranges):
        tested = Version(pins[requirement.name])
        assert requirement.specifier.contains(tested), requirement
        for other in (f"{tested.major}.{tested.minor + 1}.0", f"{tested.major}.{tested.minor - 1}.99"):
            assert not requirement.specifier.contains(other), f"{requirement} admits {other}, never run here"


def test_a_master_change_is_followed_by_one_implementation():
    """redis-py's Sentinel connections are changed in one module, sentinel_failover.py, which the Airflow
    transport and the smoke Job's pool both use (redis/redis-py#3874 was worked around twice)."""
    from redis_gitops.runtime import client
    from redis_gitops_airflow import sentinel_failover, transport

    hooks = {"read_response", "connect_check_health", "_connect_retry", "send_packed_command", "discover_master"}
    overriding = []
    for path in [*(p for f in PACKAGES for p in (ROOT / f).rglob("*.py")), *(ROOT / "airflow_broker").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in hooks and path.name != "sentinel_failover.py":
                overriding.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert not overriding, overriding
    assert issubclass(transport.SentinelConnection, sentinel_failover.FailoverConnection)
    assert client.FailoverConnection is sentinel_failover.FailoverConnection
