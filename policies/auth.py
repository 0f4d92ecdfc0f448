"""Auth: passwords reach Redis and Sentinel only as files from mounted Secrets, no secret value is anywhere in
dist/, protected mode stays on, and an application ACL user cannot run dangerous commands."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from typing import Any

from redis_gitops.contracts.client_acl import (
    CLIENT_COMMANDS,
    HELLO_CHANNEL_USERS,
    SENTINEL_HELLO_CHANNEL,
    SENTINEL_MONITOR_USER,
)
from redis_gitops.contracts.paths import (
    REDIS_PASSWORD_FILE,
    SENTINEL_ACL_SUFFIX,
    SENTINEL_MONITOR_ACL_FILE,
    SENTINEL_PASSWORD_FILE,
)
from redis_gitops.policies.manifests import Manifests, env_of
from redis_gitops.policies.model import Family, Hit, rule

SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|PASS$|SECRET|TOKEN|API_?KEY|CREDENTIAL)", re.I)
# Bounded parts: with `*` a long value without a URL (a 300 KB annotation) made this scan quadratic (365 s).
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]{0,31}://[^/\s:@]{0,256}:([^/\s@]{1,256})@", re.I)
SECRET_DIRECTIVES = (
    ("requirepass",),
    ("masterauth",),
    ("sentinel", "auth-pass"),
    ("sentinel", "sentinel-pass"),
    ("masteruser",),
)
# Commands an application user must not run, and the ACL categories that include them.
DANGEROUS = {
    "flushall",
    "flushdb",
    "config",
    "debug",
    "keys",
    "shutdown",
    "monitor",
    "acl",
    "module",
    "replicaof",
    "slaveof",
    "failover",
    "save",
    "bgsave",
    "bgrewriteaof",
    "migrate",
    "restore",
    "sort",
}
CATEGORY_MEMBERS = {
    "all": DANGEROUS,
    "dangerous": DANGEROUS,
    "admin": {
        "config",
        "debug",
        "shutdown",
        "monitor",
        "acl",
        "module",
        "replicaof",
        "slaveof",
        "failover",
        "save",
        "bgsave",
        "bgrewriteaof",
    },
    "keyspace": {"flushall", "flushdb", "keys", "migrate", "restore"},
    "write": {"flushall", "flushdb", "migrate", "restore", "sort"},
    "read": {"keys", "sort"},
    "slow": DANGEROUS,
}


def _is_reference(value: str) -> bool:
    return "$(" in value or "${" in value or value.startswith("$")


def _names_a_path(name: str, value: str) -> bool:
    """REDIS_PASSWORD_FILE=/secrets/redis-password says where a password is, not what it is."""
    return name.upper().endswith(("_FILE", "_DIR")) and value.startswith("/") and not any(c.isspace() for c in value)


def secret_files(t, c) -> dict[str, tuple[str, str]]:
    """The password files a container reads: {file: (secret, key)} under the read-only mount its SECRETS_DIR
    names, from Secret (or projected Secret) volumes only."""
    folder = (env_of(c).get("SECRETS_DIR") or (0, {}))[1].get("value")
    mount = next((m for m in c.get("volumeMounts") or [] if m.get("mountPath") == folder), None)
    if not folder or mount is None or mount.get("readOnly") is not True:
        return {}
    volume = next((v for v in t.spec.get("volumes") or [] if v.get("name") == mount.get("name")), {})
    sources = [{"secret": volume["secret"]}] if "secret" in volume else (volume.get("projected") or {}).get("sources")
    files = {}
    for source in sources or []:
        secret = source.get("secret") or {}
        name = secret.get("name") or secret.get("secretName")
        for item in secret.get("items") or []:
            files[item.get("path")] = (name, item.get("key"))
    return files


def _missing_file(m: Manifests, containers: tuple[str, ...], file: str, why: str, fix: str):
    for t in m.pod_templates():
        for name in containers:
            path, c = t.container(name)
            if c is not None and file not in secret_files(t, c):
                yield Hit(
                    t.owner.ref,
                    path,
                    f"container {name} reads no {file} from a Secret mounted read-only at its SECRETS_DIR: {why}",
                    fix,
                )


@rule(
    "auth-redis-password-from-secret",
    Family.AUTH,
    "Redis's password (requirepass and masterauth) is a file from a mounted Secret in every Redis container.",
)
def redis_password(m: Manifests):
    yield from _missing_file(
        m,
        ("redis",),
        REDIS_PASSWORD_FILE,
        "Redis would run without requirepass/masterauth or with a password in git",
        "reference the Secret (auth.redisPassword in the spec: secretName and key)",
    )


@rule(
    "auth-sentinel-own-redis-user",
    Family.AUTH,
    "Sentinel reaches Redis as its own user (sentinel.conf's auth-user, defined in sentinel.acl) and its container "
    "holds no Redis admin password: a Sentinel fooled into following a forged master leaks no admin password.",
)
def sentinel_own_redis_user(m: Manifests):
    for conf in m.conf_files("sentinel.conf"):
        users = [d.words[3] for d in conf.all("sentinel", "auth-user") if len(d.words) > 3]
        if users != [SENTINEL_MONITOR_USER]:
            yield Hit(
                conf.owner.ref,
                ("data", "sentinel.conf"),
                f"sentinel.conf names auth-user {users or 'none'}, "
                f"not the Sentinels' own user {SENTINEL_MONITOR_USER!r}: Sentinel would log in to Redis as admin",
                f"render `sentinel auth-user <master> {SENTINEL_MONITOR_USER}` (synth/redis_config.py)",
            )
        elif SENTINEL_MONITOR_ACL_FILE not in (conf.owner.doc.get("data") or {}):
            yield Hit(
                conf.owner.ref,
                ("data",),
                f"no {SENTINEL_MONITOR_ACL_FILE} defines the Sentinels' user on Redis: Sentinel could not log in",
                f"render {SENTINEL_MONITOR_ACL_FILE} beside sentinel.conf",
            )
    for t in m.pod_templates():
        path, c = t.container("sentinel")
        if c is not None and REDIS_PASSWORD_FILE in secret_files(t, c):
            yield Hit(
                t.owner.ref,
                path,
                "container sentinel mounts Redis's admin password",
                "mount only the Sentinel password and its clients' passwords there (synth/components/statefulset.py)",
            )


@rule("auth-sentinel-password", Family.AUTH, "Sentinel requires a password, a file from a mounted Secret.")
def sentinel_password(m: Manifests):
    yield from _missing_file(
        m,
        ("sentinel",),
        SENTINEL_PASSWORD_FILE,
        "anyone who reaches port 26379 can reconfigure or fail over the broker",
        "reference the Secret (auth.sentinelPassword in the spec)",
    )


@rule(
    "auth-passwords-as-files",
    Family.AUTH,
    "No container takes a Secret as an environment variable (checkov CKV_K8S_35): env shows in `kubectl "
    "describe`, crash reports and every child process; Secrets are mounted as files.",
)
def passwords_as_files(m: Manifests):
    for t in m.pod_templates():
        for path, c in t.containers():
            for i, e in enumerate(c.get("env") or []):
                if "secretKeyRef" in (e.get("valueFrom") or {}):
                    yield Hit(
                        t.owner.ref,
                        (*path, "env", i),
                        f"container {c.get('name')} takes {e.get('name')} from a Secret as an environment variable",
                        "mount the Secret as a read-only volume and read the file (as SECRETS_DIR does)",
                    )
            for i, e in enumerate(c.get("envFrom") or []):
                if "secretRef" in e:
                    yield Hit(
                        t.owner.ref,
                        (*path, "envFrom", i),
                        f"container {c.get('name')} loads a whole Secret into its environment",
                        "mount the Secret as a read-only volume instead",
                    )


def _strings(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))
    elif isinstance(value, str):
        yield path, value


@rule(
    "auth-no-secret-literals",
    Family.AUTH,
    "No secret value in dist/: no Secret with data, no password in a ConfigMap, an env value or a URL.",
)
def no_secret_literals(m: Manifests):
    for o in m.of_kind("Secret"):
        for key in ("data", "stringData"):
            if o.doc.get(key):
                yield Hit(
                    o.ref,
                    (key,),
                    f"a Secret with {key} puts its values in git",
                    "create the Secret in the cluster (or use SealedSecret/ExternalSecret) and reference it",
                )
    for o in m.of_kind("ConfigMap"):
        for key, text in (o.doc.get("data") or {}).items():
            if not str(key).endswith((".conf", ".acl")):
                continue
            for number, raw in enumerate(str(text).splitlines(), start=1):
                words = raw.split()
                lowered = tuple(w.lower() for w in words)
                literal = any(
                    lowered[: len(d)] == d and len(words) > len(d) and not _is_reference(words[-1])
                    for d in SECRET_DIRECTIVES
                )
                literal |= bool(lowered[:1] == ("user",) and any(w.startswith((">", "#")) for w in words[2:]))
                if literal:
                    yield Hit(
                        o.ref,
                        ("data", key),
                        f"`{words[0]}` with a literal password in {key}",
                        "remove it: the pod scripts add passwords at start from Secret references",
                        number,
                    )
    for o in m.objects:
        for path, value in _strings(o.doc):
            match = URL_WITH_PASSWORD.search(value)
            if match and not _is_reference(match.group(1)):
                yield Hit(o.ref, path, "a URL with a password in it", "take the password from a Secret reference")
    for t in m.pod_templates():
        for path, c in t.containers():
            for i, e in enumerate(c.get("env") or []):
                value = e.get("value")
                if (
                    value
                    and SECRET_NAME.search(str(e.get("name")))
                    and not _is_reference(str(value))
                    and not _names_a_path(str(e.get("name")), str(value))
                ):
                    yield Hit(
                        t.owner.ref,
                        (*path, "env", i, "value"),
                        f"env {e.get('name')} has a literal value",
                        "use valueFrom.secretKeyRef",
                    )


@rule("auth-protected-mode", Family.AUTH, "protected-mode stays on in redis.conf and sentinel.conf.")
def protected_mode(m: Manifests):
    for key in ("redis.conf", "sentinel.conf"):
        for conf in m.conf_files(key):
            d = conf.last("protected-mode")
            if d is not None and d.words[1:] != ("yes",):
                yield Hit(
                    conf.owner.ref,
                    ("data", key),
                    "protected-mode is off: a Redis without a password would answer anyone",
                    "keep `protected-mode yes`",
                    d.line,
                )


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


@rule(
    "auth-acl-dangerous-commands",
    Family.AUTH,
    "An application ACL user is denied FLUSHALL, FLUSHDB, CONFIG, DEBUG, KEYS and the other dangerous commands "
    "(the Sentinels' own user needs SLAVEOF and CONFIG REWRITE: auth-acl-client-scope holds it to its list).",
)
def acl_dangerous(m: Manifests):
    for o in m.of_kind("ConfigMap"):
        for key, text in (o.doc.get("data") or {}).items():
            if key != "redis.conf" and not str(key).endswith(".acl") or key == SENTINEL_MONITOR_ACL_FILE:
                continue
            for number, raw in enumerate(str(text).splitlines(), start=1):
                words = raw.split()
                if len(words) < 2 or words[0].lower() != "user" or words[1] == "default":
                    continue
                allowed = _allowed_dangerous(words[2:])
                if allowed:
                    yield Hit(
                        o.ref,
                        ("data", key),
                        f"ACL user {words[1]} may run {', '.join(sorted(allowed))}",
                        "add -@dangerous (and -@admin) after its command grants",
                        number,
                    )


# The channel Sentinels gossip on: whoever may PUBLISH there can announce a master of their choosing.
SENTINEL_HELLO = SENTINEL_HELLO_CHANNEL
BROAD_GRANTS = {
    "allkeys": "every key",
    "~*": "every key",
    "%r~*": "every key",
    "%w~*": "every key",
    "%rw~*": "every key",
    "allchannels": "every channel",
    "&*": "every channel",
    "allcommands": "every command",
    "+@all": "every command",
}


def client_scope_problems(acl_file: str, words: list[str]) -> list[str]:
    """Why a client's `user` directive grants more than its documented list (contracts/client_acl.py)."""
    rules = [w.lower() for w in words[2:]]
    problems = [] if rules[:1] == ["reset"] else ["does not start from nothing (its first rule must be `reset`)"]
    for r in rules:
        if r in BROAD_GRANTS:
            problems.append(f"`{r}` grants {BROAD_GRANTS[r]}")
        elif (
            r.startswith("&")
            and fnmatch.fnmatchcase(SENTINEL_HELLO, r[1:])
            and r[1:] != HELLO_CHANNEL_USERS.get(acl_file)
        ):
            problems.append(f"channel `{r}` lets it forge Sentinel hellos ({SENTINEL_HELLO})")
        elif r.startswith("+@"):
            problems.append(f"`{r}` grants a whole category")
        elif r.startswith("+"):
            command = r[1:]
            documented = CLIENT_COMMANDS.get(acl_file, ())
            if command not in documented and not (
                acl_file == "airflow.acl" and re.fullmatch(r"select\|[0-9]+", command)
            ):
                problems.append(f"`{command}` is not in its documented list")
    return problems


@rule(
    "auth-acl-client-scope",
    Family.AUTH,
    "Each client's ACL user (Airflow, KEDA, the exporter; on Redis and on the Sentinels) and the Sentinels' own "
    "user on Redis start from nothing and get only their documented commands (contracts/client_acl.py), no key-, "
    "channel- or command-wide grant, and no channel that reaches __sentinel__:hello (the Sentinels' user: that "
    "channel exactly).",
)
def acl_client_scope(m: Manifests):
    for o in m.of_kind("ConfigMap"):
        for key, text in (o.doc.get("data") or {}).items():
            key = str(key)
            if not key.endswith((".acl", SENTINEL_ACL_SUFFIX)):
                continue
            for number, raw in enumerate(str(text).splitlines(), start=1):
                words = raw.split()
                if len(words) < 2 or words[0].lower() != "user":
                    continue
                if key not in CLIENT_COMMANDS:
                    yield Hit(
                        o.ref,
                        ("data", key),
                        f"ACL user {words[1]} in {key} is no client this tool documents",
                        "define client users through the spec (airflow, keda, monitoring.exporter)",
                        number,
                    )
                    continue
                for problem in client_scope_problems(key, words):
                    yield Hit(
                        o.ref,
                        ("data", key),
                        f"ACL user {words[1]} in {key} {problem}",
                        "grant exactly the documented list (contracts/client_acl.py, docs/security.md)",
                        number,
                    )
