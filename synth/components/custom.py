"""Custom resources (ServiceMonitor, Argo CD Application, ...) as plain objects: no CRD import needed, and no
call into Node.js (cdk8s would only hold the dict we give it). Each chart keeps its own list; app.py adds them to
what the chart renders. Their metadata is written as cdk8s writes an object's: keys sorted at every level."""

from __future__ import annotations

from typing import Any

from constructs import Construct

_PLAIN = "_redis_gitops_plain_objects"


def custom_resource(
    scope: Construct, api_version: str, kind: str, metadata: dict[str, Any], spec: dict[str, Any]
) -> dict[str, Any]:
    obj = {"apiVersion": api_version, "kind": kind, "metadata": _sorted(metadata), "spec": spec}
    plain_objects(scope).append(obj)
    return obj


def plain_objects(chart: Construct) -> list[dict[str, Any]]:
    """The custom resources added to this chart, in the order they were added."""
    if getattr(chart, _PLAIN, None) is None:
        setattr(chart, _PLAIN, [])
    return getattr(chart, _PLAIN)


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value) if value[k] not in (None, {}, [])}
    return value
