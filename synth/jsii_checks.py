"""jsii's run-time type checks, off outside the test suite. The Python code jsii generates for cdk8s checks every
argument of every struct and call with typeguard (`if __debug__:`), a development aid that takes about a third
of a rendering's time in Python. The test suite keeps them on (REDIS_GITOPS_JSII_TYPE_CHECKS=1, which
tests/conftest.py sets), so a wrong type in a component fails there; every rendered object is validated against
the Kubernetes schemas either way. The only other switch, `python -O`, would need optimised bytecode compiled
for every installed package."""

from __future__ import annotations

import importlib
import os

CHECKS_ENV = "REDIS_GITOPS_JSII_TYPE_CHECKS"
# The generated modules (exact pins in pyproject.toml) that import jsii's checker by name.
GENERATED = ("constructs", "cdk8s", "cdk8s_plus_33", "cdk8s_plus_33.k8s")


def _unchecked(*_args: object, **_kwargs: object) -> None:
    return None


def skip_type_checks() -> bool:
    """Turn the checks off unless the environment asks for them; True when they were turned off."""
    if os.environ.get(CHECKS_ENV) == "1":
        return False
    namespaces = [_namespace_of(importlib.import_module(name)) for name in GENERATED]
    if any(n is None or "check_type" not in n for n in namespaces):
        return False  # a jsii that checks another way: leave it as it is
    for namespace in namespaces:
        namespace["check_type"] = _unchecked
    return True


def _namespace_of(module: object) -> dict | None:
    """The generated module's own globals: `publication` hides its private names (check_type among them) behind
    a proxy, but its functions still read them from there."""
    for value in vars(module).values():
        init = getattr(value, "__init__", None)
        namespace = getattr(init, "__globals__", None)
        if namespace is not None and namespace.get("__name__") == module.__name__:
            return namespace
    return None
