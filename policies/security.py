"""Security: every container non-root (UID >= 10000), read-only, unprivileged, without capabilities, under
seccomp; no API token; pinned images; every pod behind a NetworkPolicy."""

from __future__ import annotations

import re

from redis_gitops.contracts.bounds import IMAGE_TAG, MIN_UID
from redis_gitops.policies.manifests import Manifests, selects
from redis_gitops.policies.model import Family, Hit, rule


def _effective(t, c, key):
    """A container's securityContext value, falling back to the pod's."""
    value = (c.get("securityContext") or {}).get(key)
    return value if value is not None else (t.spec.get("securityContext") or {}).get(key)


@rule("security-non-root", Family.SECURITY, f"Every container runs as non-root with a UID of {MIN_UID} or more.")
def non_root(m: Manifests):
    for t in m.pod_templates():
        for path, c in t.containers():
            uid = _effective(t, c, "runAsUser")
            if _effective(t, c, "runAsNonRoot") is not True or not isinstance(uid, int) or uid < MIN_UID:
                yield Hit(
                    t.owner.ref,
                    (*path, "securityContext"),
                    f"container {c.get('name')} may run as root or a "
                    f"host UID (runAsNonRoot {_effective(t, c, 'runAsNonRoot')}, runAsUser {uid})",
                    f"set runAsNonRoot: true and runAsUser >= {MIN_UID} (security.runAsUser in the spec)",
                )


@rule("security-read-only-root", Family.SECURITY, "Every container has a read-only root filesystem.")
def read_only_root(m: Manifests):
    for t in m.pod_templates():
        for path, c in t.containers():
            if (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True:
                yield Hit(
                    t.owner.ref,
                    (*path, "securityContext", "readOnlyRootFilesystem"),
                    f"container {c.get('name')} can write to its image",
                    "set readOnlyRootFilesystem: true and mount an emptyDir where it must write",
                )


@rule("security-no-privilege-escalation", Family.SECURITY, "No container is privileged or may escalate privileges.")
def no_escalation(m: Manifests):
    for t in m.pod_templates():
        for path, c in t.containers():
            sc = c.get("securityContext") or {}
            if sc.get("allowPrivilegeEscalation") is not False or sc.get("privileged") is True:
                yield Hit(
                    t.owner.ref,
                    (*path, "securityContext"),
                    f"container {c.get('name')} may gain privileges",
                    "set allowPrivilegeEscalation: false and privileged: false",
                )


@rule("security-drop-all-capabilities", Family.SECURITY, "Every container drops ALL capabilities and adds none.")
def drop_all(m: Manifests):
    for t in m.pod_templates():
        for path, c in t.containers():
            caps = (c.get("securityContext") or {}).get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []) or caps.get("add"):
                yield Hit(
                    t.owner.ref,
                    (*path, "securityContext", "capabilities"),
                    f"container {c.get('name')} keeps "
                    f"capabilities (drop {list(caps.get('drop') or [])}, add {list(caps.get('add') or [])})",
                    "set capabilities: {drop: [ALL]}",
                )


@rule(
    "security-seccomp",
    Family.SECURITY,
    "Every container runs under the RuntimeDefault (or a Localhost) seccomp profile.",
)
def seccomp(m: Manifests):
    for t in m.pod_templates():
        for path, c in t.containers():
            profile = _effective(t, c, "seccompProfile") or {}
            if profile.get("type") not in ("RuntimeDefault", "Localhost"):
                yield Hit(
                    t.owner.ref,
                    (*path, "securityContext", "seccompProfile"),
                    f"container {c.get('name')} runs with seccomp {profile.get('type', 'unset')}",
                    "set seccompProfile: {type: RuntimeDefault}",
                )


@rule("security-no-service-account-token", Family.SECURITY, "No pod mounts a service-account token.")
def no_token(m: Manifests):
    accounts = {
        (o.ref.namespace, o.ref.name): o.doc.get("automountServiceAccountToken") for o in m.of_kind("ServiceAccount")
    }
    for t in m.pod_templates():
        pod = t.spec.get("automountServiceAccountToken")
        account = accounts.get((t.owner.ref.namespace, t.spec.get("serviceAccountName", "default")))
        if pod is True or (pod is None and account is not False):
            yield Hit(
                t.owner.ref,
                (*t.path, "spec", "automountServiceAccountToken"),
                "the pod gets an API token it never uses; a compromised container could call the API server",
                "set automountServiceAccountToken: false",
            )


TAG = re.compile(rf"^[^@]+:(?P<tag>{IMAGE_TAG})$")


@rule(
    "security-image-version",
    Family.SECURITY,
    "Every image has an explicit version (a tag other than latest, or a digest).",
)
def image_version(m: Manifests):
    for t in m.pod_templates():
        for path, c in t.containers():
            image = str(c.get("image", ""))
            name_part = image.rsplit("/", 1)[-1]
            match = TAG.match(name_part) if "@sha256:" not in image else True
            if not match or (match is not True and match.group("tag") == "latest"):
                yield Hit(
                    t.owner.ref,
                    (*path, "image"),
                    f"image {image!r} has no explicit version: a rollout may pull "
                    "something else than what was reviewed",
                    "pin a version tag such as valkey/valkey:8.1.8",
                )


@rule(
    "security-image-digest",
    Family.SECURITY,
    "Every image is pinned by digest as well as by tag (checkov "
    "CKV_K8S_43): a re-pushed tag changes what nodes pull, and with IfNotPresent nodes run different builds.",
    severity="warning",
)
def image_digest(m: Manifests):
    for t in m.pod_templates():
        for path, c in t.containers():
            image = str(c.get("image", ""))
            if "@sha256:" not in image:
                yield Hit(
                    t.owner.ref,
                    (*path, "image"),
                    f"image {image!r} is pinned by tag only: the registry may "
                    "serve other content under it, and nodes that pulled before keep the old one",
                    "set image.digest in the spec (tag@sha256:...), or waive CKV_K8S_43 with a reason",
                )


@rule(
    "security-pull-policy",
    Family.SECURITY,
    "No broker container pulls its image on every start: with "
    "imagePullPolicy Always a restart waits for the registry (checkov's CKV_K8S_15 asks the opposite; pin "
    "digests instead).",
    severity="warning",
)
def pull_policy(m: Manifests):
    for t in m.pod_templates():
        if t.owner.kind != "StatefulSet":
            continue
        for path, c in t.containers():
            if c.get("imagePullPolicy") == "Always":
                yield Hit(
                    t.owner.ref,
                    (*path, "imagePullPolicy"),
                    f"container {c.get('name')} pulls its image on "
                    "every start: while the registry is down or rate-limits, a restarted broker pod stays down",
                    "use IfNotPresent with image.digest pinned (image.pullPolicy in the spec)",
                )


@rule(
    "security-network-policy",
    Family.SECURITY,
    "Every pod is selected by NetworkPolicies in its namespace that "
    "restrict both who may connect to it (Ingress) and where it may connect (Egress).",
)
def network_policy(m: Manifests):
    policies = m.of_kind("NetworkPolicy")
    for t in m.pod_templates():
        mine = [
            p
            for p in policies
            if p.ref.namespace == t.owner.ref.namespace
            and selects((p.doc.get("spec") or {}).get("podSelector"), t.labels)
        ]
        if not mine:
            yield Hit(
                t.owner.ref,
                (*t.path, "metadata", "labels"),
                "no NetworkPolicy selects these pods: anything in the cluster can connect to them",
                "add a NetworkPolicy whose podSelector matches the pod labels",
            )
            continue
        types = {ty for p in mine for ty in (p.doc.get("spec") or {}).get("policyTypes") or ["Ingress"]}
        if "Egress" not in types:
            yield Hit(
                t.owner.ref,
                (*t.path, "metadata", "labels"),
                "no NetworkPolicy restricts where these pods may "
                "connect: a pod told to follow a forged master could reach any address",
                "add Egress to the policyTypes of their NetworkPolicy, with the broker's pods and DNS as its rules",
            )
