"""Custom resources (ServiceMonitor, Argo CD Application) as plain ApiObjects: no CRD import needed."""

from __future__ import annotations

from typing import Any

from cdk8s import ApiObject, ApiObjectMetadata, JsonPatch
from constructs import Construct


def custom_resource(
    scope: Construct, id_: str, api_version: str, kind: str, metadata: dict[str, Any], spec: dict[str, Any]
) -> ApiObject:
    obj = ApiObject(scope, id_, api_version=api_version, kind=kind, metadata=ApiObjectMetadata(**metadata))
    obj.add_json_patch(JsonPatch.add("/spec", spec))
    return obj
