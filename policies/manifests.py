"""dist/ parsed once for the rules: every object with its file, the pod templates, their containers, and the
redis.conf / sentinel.conf directives inside the ConfigMaps."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from redis_gitops.contracts.paths import AIRFLOW_HELM_VALUES
from redis_gitops.contracts.quantity import memory_bytes as parse
from redis_gitops.policies.model import ObjectRef

NOT_OBJECTS = {"kustomization.yaml", AIRFLOW_HELM_VALUES}
WORKLOAD_KINDS = {"StatefulSet", "Deployment", "DaemonSet", "ReplicaSet", "Job"}


@dataclass(frozen=True)
class Obj:
    ref: ObjectRef
    doc: Any  # the ruamel round-trip mapping: plain dict access, plus line numbers for reports

    @property
    def kind(self) -> str:
        return self.ref.kind

    @property
    def labels(self) -> dict:
        return dict(self.doc.get("metadata", {}).get("labels") or {})

    @property
    def annotations(self) -> dict:
        return dict(self.doc.get("metadata", {}).get("annotations") or {})


@dataclass(frozen=True)
class Directive:
    """One line of a redis.conf or sentinel.conf: its words and its 1-based line in the file."""

    words: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class ConfFile:
    owner: Obj
    key: str  # the ConfigMap data key, e.g. "redis.conf"
    directives: tuple[Directive, ...]

    def all(self, *prefix: str) -> list[Directive]:
        n = len(prefix)
        return [d for d in self.directives if tuple(w.lower() for w in d.words[:n]) == prefix]

    def last(self, *prefix: str) -> Directive | None:
        """Redis keeps the last occurrence of a directive."""
        found = self.all(*prefix)
        return found[-1] if found else None

    def value(self, *prefix: str) -> str | None:
        d = self.last(*prefix)
        return " ".join(d.words[len(prefix) :]) if d else None

    def ports(self) -> set[str]:
        """Where the server listens: `port` and `tls-port`, except a port 0 (off)."""
        return {d.words[1] for key in ("port", "tls-port") for d in self.all(key) if len(d.words) > 1} - {"0"}


def parse_conf(text: str) -> tuple[Directive, ...]:
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            out.append(Directive(tuple(_split(line)), number))
    return tuple(out)


def _split(line: str) -> list[str]:
    """Words as Redis reads them: double-quoted strings are one word."""
    words, word, quoted, i = [], "", False, 0
    while i < len(line):
        c = line[i]
        if quoted and c == "\\" and i + 1 < len(line):
            word += line[i + 1]
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c.isspace() and not quoted:
            if word:
                words.append(word)
            word = ""
        else:
            word += c
        i += 1
    if word or quoted:
        words.append(word)
    return words


@dataclass(frozen=True)
class PodTemplate:
    owner: Obj
    path: tuple[str, ...]  # to the template, e.g. ("spec", "template")
    doc: Any

    @property
    def spec(self) -> Any:
        return self.doc.get("spec") or {}

    @property
    def labels(self) -> dict:
        return dict((self.doc.get("metadata") or {}).get("labels") or {})

    def containers(self) -> Iterator[tuple[tuple[str | int, ...], Any]]:
        """(path from the owning object, container) for every container and init container."""
        for group in ("initContainers", "containers"):
            for i, c in enumerate(self.spec.get(group) or []):
                yield (*self.path, "spec", group, i), c

    def container(self, name: str) -> tuple[tuple[str | int, ...], Any] | tuple[None, None]:
        return next(((p, c) for p, c in self.containers() if c.get("name") == name), (None, None))


class ManifestError(ValueError):
    """A file in the folder is not YAML the gate can read: named with its line."""


def load_documents(rel: str, text: str, typ: str = "rt") -> list:
    """Every YAML document in one file; a parse error becomes a ManifestError naming the file and line."""
    try:
        return list(YAML(typ=typ).load_all(text))
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise ManifestError(f"{rel}:{mark.line + 1 if mark else 0}: not valid YAML: {err.problem or err}") from None


class Manifests:
    def __init__(
        self, objects: list[Obj], airflow_values: Obj | None = None, documents: list[tuple[str, Any]] | None = None
    ):
        self.objects = objects
        # dist/airflow/helm-values.yaml (not a Kubernetes object; the airflow-* rules judge it)
        self.airflow_values = airflow_values
        # Every document of the manifest files with its file, a kind-less one too (the schema check refuses it):
        # what the gate's other checks read, so dist/ is parsed once.
        self.documents = documents if documents is not None else [(o.ref.file, o.doc) for o in objects]
        self.texts: dict[str, str] = {}  # each file's text, for lines (with_lines)

    @classmethod
    def load(cls, folder: Path) -> Manifests:
        files = {}
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                try:
                    files[p.relative_to(folder).as_posix()] = p.read_text()
                except UnicodeDecodeError:
                    raise ManifestError(f"{p.relative_to(folder).as_posix()}: not UTF-8 text") from None
        return cls.from_files(files)

    @classmethod
    def from_files(cls, files: dict[str, str], parsed: dict[str, list] | None = None) -> Manifests:
        """Relative path -> text, as synth.output.read_tree gives it; non-YAML files are ignored. `parsed`: the
        documents of files known already (what the generator rendered, for files exactly as it wrote them)."""
        parsed = parsed or {}
        objects, documents = [], []
        manifests = cls([], None, [])
        manifests.texts = files
        for rel, text in sorted(files.items()):
            if rel in NOT_OBJECTS or not rel.endswith((".yaml", ".yml")):
                continue
            for doc in parsed[rel] if rel in parsed else load_documents(rel, text):
                if doc:
                    documents.append((rel, doc))
                if doc and "kind" in doc:
                    meta = doc.get("metadata") or {}
                    objects.append(Obj(ObjectRef(rel, doc["kind"], meta.get("name", "?"), meta.get("namespace")), doc))
        values = None
        if AIRFLOW_HELM_VALUES in files:
            loaded = parsed.get(AIRFLOW_HELM_VALUES) or load_documents(AIRFLOW_HELM_VALUES, files[AIRFLOW_HELM_VALUES])
            docs = [d for d in loaded if d]
            values = Obj(ObjectRef(AIRFLOW_HELM_VALUES, "HelmValues", "airflow"), docs[0]) if docs else None
        manifests.objects, manifests.airflow_values, manifests.documents = objects, values, documents
        return manifests

    def with_lines(self, ref: ObjectRef) -> Any:
        """The object's document with the lines of its file (documents given already parsed carry none)."""
        obj = next((o for o in self.objects if o.ref == ref), None)
        if obj is None or hasattr(obj.doc, "lc") or ref.file not in self.texts:
            return obj.doc if obj is not None else None
        for doc in load_documents(ref.file, self.texts[ref.file]):
            if doc and doc.get("kind") == ref.kind and (doc.get("metadata") or {}).get("name", "?") == ref.name:
                return doc
        return obj.doc

    def of_kind(self, *kinds: str) -> list[Obj]:
        return [o for o in self.objects if o.kind in kinds]

    def pod_templates(self) -> list[PodTemplate]:
        out = []
        for o in self.of_kind(*WORKLOAD_KINDS):
            template = (o.doc.get("spec") or {}).get("template")
            if template is not None:
                out.append(PodTemplate(o, ("spec", "template"), template))
        for o in self.of_kind("CronJob"):
            template = (((o.doc.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}).get("template")
            if template is not None:
                out.append(PodTemplate(o, ("spec", "jobTemplate", "spec", "template"), template))
        for o in self.of_kind("Pod"):
            out.append(PodTemplate(o, (), o.doc))
        return out

    def conf_files(self, key: str) -> list[ConfFile]:
        return [
            ConfFile(o, key, parse_conf(str(o.doc["data"][key])))
            for o in self.of_kind("ConfigMap")
            if key in (o.doc.get("data") or {})
        ]

    def redis_servers(self) -> list[tuple[PodTemplate, Any, tuple]]:
        """(template, redis container, its path) of every workload that runs Redis."""
        out = []
        for t in self.pod_templates():
            path, c = t.container("redis")
            if c is not None:
                out.append((t, c, path))
        return out


def selects(selector: dict | None, labels: dict) -> bool:
    """matchLabels (and simple matchExpressions) of a LabelSelector against labels; an empty one selects all."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), list(expr.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def env_of(container: Any) -> dict[str, tuple[int, Any]]:
    return {e.get("name"): (i, e) for i, e in enumerate(container.get("env") or [])}


def memory_bytes(quantity: Any) -> int | None:
    try:
        return parse(str(quantity))
    except (ValueError, TypeError):
        return None
