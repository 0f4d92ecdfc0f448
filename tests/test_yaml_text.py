"""The rendered files' text is ruamel.yaml's to the byte, written without its emitter for the shapes we render."""

import random
import string

from redis_gitops.synth.environments import load_environments
from redis_gitops.synth.pipeline import render
from redis_gitops.synth.yaml_text import ruamel_yaml, walked_yaml

from conftest import SPEC

OTHER_SECTIONS = """
tls:
  enabled: true
  certManager:
    issuerRef: {name: redis-ca, kind: ClusterIssuer}
restore: {snapshot: dump-20260101T000000Z.rdb, id: first}
"""


def documents_of(spec_path):
    for env in load_environments(spec_path):
        for docs in render(env).documents.values():
            yield from docs


def test_every_rendered_document_is_written_as_ruamel_yaml_writes_it(tmp_path):
    """The default spec, and one with TLS, S3 backups, a restore and KEDA off: every object kind we render."""
    other = tmp_path / "cluster_spec.yaml"
    other.write_text(SPEC.read_text() + OTHER_SECTIONS)
    count = 0
    for spec_path in (SPEC, other):
        for doc in documents_of(spec_path):
            walked = walked_yaml(doc)
            assert walked is not None, doc.get("kind")  # no rendered shape is left to ruamel.yaml
            assert walked == ruamel_yaml(doc)
            count += 1
    assert count > 40


TRICKY = [
    "",
    " ",
    "true",
    "false",
    "null",
    "~",
    "yes",
    "no",
    "on",
    "off",
    "1",
    "-1",
    "0o17",
    "0x1f",
    "1e3",
    "1.5",
    ".inf",
    "2024-01-01",
    "a: b",
    "a #b",
    "#x",
    "*x",
    "&x",
    "!x",
    "%x",
    "@x",
    "`x",
    "- x",
    "? x",
    "x:",
    "[x]",
    "{x}",
    "'q'",
    '"q"',
    "tab\there",
    "trailing ",
    " leading",
    "x\n",
    "x\ny",
    " x\ny",
    "x\n\n",
    "\nx",
    "x\n y\n",
    "é",
    "a,b",
    "line\r\nbreak",
    "\x07bell",
    "x" * 200,
    "key=value",
    "http://h:1/p?q=1#f",
    "$(VAR)",
    "${VAR}",
    "|",
    ">",
    "-",
]


def random_value(rng, depth=0):
    pick = rng.random()
    if depth > 3 or pick < 0.45:
        kind = rng.choice(["str", "str", "tricky", "int", "float", "bool", "none"])
        return {
            "str": lambda: "".join(rng.choice(string.ascii_letters + " :-#./\n") for _ in range(rng.randint(0, 12))),
            "tricky": lambda: rng.choice(TRICKY),
            "int": lambda: rng.randint(-5, 10**6),
            "float": lambda: rng.choice([0.5, 1.0, 2.75, 1e-7]),
            "bool": lambda: rng.random() < 0.5,
            "none": lambda: None,
        }[kind]()
    if pick < 0.75:
        return {
            rng.choice(TRICKY[:40] + ["name", "spec", "a.b/c"]): random_value(rng, depth + 1)
            for _ in range(rng.randint(0, 4))
        }
    return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def test_random_documents_are_written_as_ruamel_yaml_writes_them_or_left_to_it():
    walked = 0
    for seed in range(300):
        rng = random.Random(seed)
        doc = {f"k{i}": random_value(rng) for i in range(rng.randint(1, 5))}
        text = walked_yaml(doc)
        if text is not None:
            assert text == ruamel_yaml(doc), doc
            walked += 1
    assert walked >= 100  # most shapes are written by the walk, so the comparison checks something


def test_text_taken_as_plain_is_what_ruamel_yaml_writes_plain():
    """The shortcut's rule against ruamel.yaml, on every scalar and key of the renderings and on near misses."""
    from redis_gitops.synth.yaml_text import _plain

    def scalars(value):
        if isinstance(value, dict):
            for k, v in value.items():
                yield k
                yield from scalars(v)
        elif isinstance(value, list):
            for v in value:
                yield from scalars(v)
        elif isinstance(value, str):
            yield value

    texts = {t for doc in documents_of(SPEC) for t in scalars(doc)} | set(TRICKY)
    texts |= {"Yes", "NULL", "True", "a:b", "a: b", "a :b", "a b", "a  b", "a-", "a.", "a,b", "x=y", "$(A)", "a/b:c"}
    plain = [t for t in texts if _plain(t)]
    assert len(plain) > 100
    for text in plain:
        assert ruamel_yaml({"k": text}) == f"k: {text}\n", text
        if len(text) <= 100:  # a longer key is a complex key (`? ...`), which _key leaves to ruamel.yaml
            assert ruamel_yaml({text: 0}) == f"{text}: 0\n", text
