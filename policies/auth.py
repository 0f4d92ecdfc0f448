"""Auth: passwords reach Redis and Sentinel only from Secret references, no secret value is anywhere in
dist/, protected mode stays on, and an application ACL user cannot run dangerous commands."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from policies.manifests import Manifests, env_of
from policies.model import rule

SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|PASS$|SECRET|TOKEN|API_?KEY|CREDENTIAL)", re.I)
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:([^/\s@]+)@", re.I)
SECRET_DIRECTIVES = (("requirepass",), ("masterauth",), ("sentinel", "auth-pass"), ("sentinel", "sentinel-pass"),
                     ("masteruser",))
# Commands an application user must not run, and the ACL categories that include them.
DANGEROUS = {"flushall", "flushdb", "config", "debug", "keys", "shutdown", "monitor", "acl", "module",
             "replicaof", "slaveof", "failover", "save", "bgsave", "bgrewriteaof", "migrate", "restore", "sort"}
CATEGORY_MEMBERS = {
    "all": DANGEROUS, "dangerous": DANGEROUS,
    "admin": {"config", "debug", "shutdown", "monitor", "acl", "module", "replicaof", "slaveof", "failover",
              "save", "bgsave", "bgrewriteaof"},
    "keyspace": {"flushall", "flushdb", "keys", "migrate", "restore"},
    "write": {"flushall", "flushdb", "migrate", "restore", "sort"}, "read": {"keys", "sort"},
    "slow": DANGEROUS,
}


def _is_reference(value: str) -> bool:
    return "$(" in value or "${" in value or value.startswith("$")


@rule("auth-redis-password-from-secret", "auth",
      "Redis's password (requirepass and masterauth) comes from a Secret reference in every Redis and Sentinel.")
def redis_password(m: Manifests):
    for t in m.pod_templates():
        for name in ("redis", "sentinel"):
            path, c = t.container(name)
            if c is None:
                continue
            env = env_of(c)
            if "REDIS_PASSWORD" not in env or "secretKeyRef" not in (env["REDIS_PASSWORD"][1].get("valueFrom") or {}):
                where = (*path, "env", env["REDIS_PASSWORD"][0]) if "REDIS_PASSWORD" in env else (*path, "env")
                yield (t.owner.ref, where, f"container {name} gets no REDIS_PASSWORD from a Secret: Redis would run "
                       "without requirepass/masterauth or with a password in git",
                       "reference the Secret (auth.redisPassword in the spec: secretName and key)")


@rule("auth-sentinel-password", "auth", "Sentinel requires a password, from a Secret reference.")
def sentinel_password(m: Manifests):
    for t in m.pod_templates():
        path, c = t.container("sentinel")
        if c is None:
            continue
        env = env_of(c)
        if "SENTINEL_PASSWORD" not in env or "secretKeyRef" not in (env["SENTINEL_PASSWORD"][1].get("valueFrom") or {}):
            yield (t.owner.ref, (*path, "env"), "Sentinel gets no SENTINEL_PASSWORD from a Secret: anyone who reaches "
                   "port 26379 can reconfigure or fail over the broker",
                   "reference the Secret (auth.sentinelPassword in the spec)")


def _strings(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))
    elif isinstance(value, str):
        yield path, value


@rule("auth-no-secret-literals", "auth",
      "No secret value in dist/: no Secret with data, no password in a ConfigMap, an env value or a URL.")
def no_secret_literals(m: Manifests):
    for o in m.of_kind("Secret"):
        for key in ("data", "stringData"):
            if o.doc.get(key):
                yield (o.ref, (key,), f"a Secret with {key} puts its values in git",
                       "create the Secret in the cluster (or use SealedSecret/ExternalSecret) and reference it")
    for o in m.of_kind("ConfigMap"):
        for key, text in (o.doc.get("data") or {}).items():
            if not str(key).endswith((".conf", ".acl")):
                continue
            for number, raw in enumerate(str(text).splitlines(), start=1):
                words = raw.split()
                lowered = tuple(w.lower() for w in words)
                literal = any(lowered[:len(d)] == d and len(words) > len(d) and not _is_reference(words[-1])
                              for d in SECRET_DIRECTIVES)
                literal |= bool(lowered[:1] == ("user",) and any(w.startswith((">", "#")) for w in words[2:]))
                if literal:
                    yield (o.ref, ("data", key), f"`{words[0]}` with a literal password in {key}",
                           "remove it: the pod scripts add passwords at start from Secret references", number)
    for o in m.objects:
        for path, value in _strings(o.doc):
            match = URL_WITH_PASSWORD.search(value)
            if match and not _is_reference(match.group(1)):
                yield (o.ref, path, "a URL with a password in it", "take the password from a Secret reference")
    for t in m.pod_templates():
        for path, c in t.containers():
            for i, e in enumerate(c.get("env") or []):
                value = e.get("value")
                if value and SECRET_NAME.search(str(e.get("name"))) and not _is_reference(str(value)):
                    yield (t.owner.ref, (*path, "env", i, "value"), f"env {e.get('name')} has a literal value",
                           "use valueFrom.secretKeyRef")


@rule("auth-protected-mode", "auth", "protected-mode stays on in redis.conf and sentinel.conf.")
def protected_mode(m: Manifests):
    for key in ("redis.conf", "sentinel.conf"):
        for conf in m.conf_files(key):
            d = conf.last("protected-mode")
            if d is not None and d.words[1:] != ("yes",):
                yield (conf.owner.ref, ("data", key), "protected-mode is off: a Redis without a password would "
                       "answer anyone", "keep `protected-mode yes`", d.line)


def _allowed_dangerous(rules: list[str]) -> set[str]:
    """The dangerous commands an ACL rule list leaves allowed, applying the rules in order as Redis does."""
    allowed: set[str] = set()
    for r in (w.lower() for w in rules):
        if r in ("allcommands", "+@all"):
            allowed = set(DANGEROUS)
        elif r in ("nocommands", "-@all", "reset"):
            allowed = set()
        elif r.startswith(("+@", "-@")):
            members = CATEGORY_MEMBERS.get(r[2:], set())
            allowed = allowed | members if r[0] == "+" else allowed - members
        elif r.startswith(("+", "-")):
            command = r[1:].split("|")[0]
            if command in DANGEROUS:
                allowed = allowed | {command} if r[0] == "+" else allowed - {command}
    return allowed


@rule("auth-acl-dangerous-commands", "auth",
      "An application ACL user is denied FLUSHALL, FLUSHDB, CONFIG, DEBUG, KEYS and the other dangerous commands.")
def acl_dangerous(m: Manifests):
    for o in m.of_kind("ConfigMap"):
        for key, text in (o.doc.get("data") or {}).items():
            if key != "redis.conf" and not str(key).endswith(".acl"):
                continue
            for number, raw in enumerate(str(text).splitlines(), start=1):
                words = raw.split()
                if len(words) < 2 or words[0].lower() != "user" or words[1] == "default":
                    continue
                allowed = _allowed_dangerous(words[2:])
                if allowed:
                    yield (o.ref, ("data", key), f"ACL user {words[1]} may run {', '.join(sorted(allowed))}",
                           "add -@dangerous (and -@admin) after its command grants", number)
