"""Dependencies run one way: CLI -> pipeline -> generator -> spec -> contracts; the gate judges dist/ as it is
(contracts only); the runtime ships in the smoke image (contracts only); the development harness sits on top.
Read from every module's imports, function-level ones included."""
import ast
import sys
from pathlib import Path

from conftest import ROOT

PACKAGES = ("contracts", "synth", "policies", "runtime", "devcluster", "faults")
SPEC = {"synth.spec", "synth.spec_loader"}
GENERATOR = {"synth.app", "synth.naming", "synth.redis_config", "synth.output", "synth.validation", "synth.airflow_config",
             "synth.alerts", "synth.dashboard", "synth.promtool"}

# What each layer may import from this project (besides itself); prefixes name packages or modules.
ALLOWED = {
    "contracts": ("contracts",),
    "spec": ("contracts", *SPEC),
    "generator": ("contracts", *SPEC, *GENERATOR, "synth.components"),
    "pipeline": ("contracts", *SPEC, *GENERATOR, "synth.components", "synth.pipeline", "policies"),
    "gate": ("contracts", "policies"),
    "runtime": ("contracts", "runtime"),
    "cli": ("contracts", "synth", "policies", "runtime", "devcluster"),
    "devcluster": ("contracts", "devcluster", "runtime", "synth.spec", "synth.naming"),
    "faults": ("contracts", "faults", "devcluster", "runtime", *SPEC, "synth.naming", "synth.airflow_config"),
}


def layer(module: str) -> str:
    if module in SPEC:
        return "spec"
    if module in GENERATOR or module.startswith("synth.components"):
        return "generator"
    if module == "synth.pipeline":
        return "pipeline"
    if module.startswith("synth"):
        return "cli"  # synth.cli, synth.__main__, the synth package itself
    return {"policies": "gate"}.get(module.split(".")[0], module.split(".")[0])


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project's modules this file imports (the longest known name each import statement names)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imports_of(p, set(mods)) - {m} for m, p in mods.items()}


def test_every_import_goes_the_allowed_way():
    wrong = []
    for module, deps in sorted(graph().items()):
        allowed = ALLOWED[layer(module)]
        for dep in sorted(deps):
            if not any(dep == a or dep.startswith(a + ".") for a in allowed):
                wrong.append(f"{module} ({layer(module)}) imports {dep}")
    assert not wrong, "\n".join(wrong)


def test_no_import_circle():
    g = graph()
    # A package's __init__ is where its modules are found, not a dependency of theirs: skip module -> parent edges.
    g = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in g.items()}
    circles, state = [], {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = "open"
        for d in sorted(g.get(m, ())):
            if state.get(d) == "open":
                circles.append(" -> ".join(stack[stack.index(d):] + [m, d]) if d in stack else f"{m} -> {d}")
            elif d not in state:
                visit(d, stack + [m])
        state[m] = "done"

    for m in sorted(g):
        if m not in state:
            visit(m, [])
    assert not circles, "\n".join(circles)


def test_the_contracts_import_only_the_standard_library():
    for module, path in modules().items():
        if layer(module) != "contracts":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for name in names:
                    top = name.split(".")[0]
                    assert top in sys.stdlib_module_names or top == "contracts", f"{module} imports {name}"


def test_the_airflow_package_stands_alone():
    """redis_gitops_airflow installs into Airflow's image by itself: it imports none of this project's packages."""
    package = ROOT / "airflow_broker" / "redis_gitops_airflow"
    ours = set(PACKAGES)
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            for name in names:
                assert name.split(".")[0] not in ours, f"{path.name} imports {name}"
