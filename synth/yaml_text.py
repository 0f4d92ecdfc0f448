"""The rendered files' YAML text: ruamel.yaml's block style (mapping indent 2, sequence indent 4, dash offset 2,
multi-line strings as literal blocks, no folding), written by walking the data and asking ruamel.yaml only how to
write each distinct scalar (once per process). Writing every document with ruamel.yaml's emitter was most of a
rendering's time; the text is the same to the byte (tests/test_yaml_text.py holds them equal, and any shape
this writer does not know is left to ruamel.yaml whole)."""

from __future__ import annotations

import functools
import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

LONGEST_SCALAR = 1000  # longer one-line texts could be folded at ruamel.yaml's width: left to it


class _Unknown(Exception):
    """A shape this writer does not reproduce: ruamel.yaml writes the whole document."""


def to_yaml(obj: Any) -> str:
    """Block style, multi-line strings as literal blocks, no line folding: stable and readable in review."""
    text = walked_yaml(obj)
    return text if text is not None else ruamel_yaml(obj)


def walked_yaml(obj: Any) -> str | None:
    """The text written by walking the data; None for a shape this writer leaves to ruamel.yaml."""
    if not isinstance(obj, dict) or not obj:
        return None
    out: list[str] = []
    try:
        _mapping(obj, 0, out)
    except _Unknown:
        return None
    return "\n".join(out) + "\n"


def ruamel_yaml(obj: Any) -> str:
    """The reference: ruamel.yaml's own emitter with the settings above."""
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    stream = io.StringIO()
    yaml.dump(_literal_blocks(obj), stream)
    return stream.getvalue()


def _literal_blocks(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _literal_blocks(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_literal_blocks(v) for v in value]
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value)
    return value


def _mapping(mapping: dict, column: int, out: list[str], first: str | None = None) -> None:
    for i, (key, value) in enumerate(mapping.items()):
        if not isinstance(key, str):
            raise _Unknown
        lead = first if i == 0 and first is not None else " " * column
        _value(f"{lead}{_key(key)}:", value, column, out)


def _value(head: str, value: Any, column: int, out: list[str]) -> None:
    if value is None:
        out.append(head)
    elif isinstance(value, dict):
        if not value:
            out.append(head + " {}")
        else:
            out.append(head)
            _mapping(value, column + 2, out)
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append(head + " []")
        else:
            out.append(head)
            _sequence(value, column + 2, out)
    elif isinstance(value, str) and "\n" in value:
        _block(head + " ", value, column, out)
    else:
        out.append(f"{head} {_scalar(type(value), value)}")


def _sequence(items: list | tuple, dash: int, out: list[str], first: str | None = None) -> None:
    for i, item in enumerate(items):
        lead = (first if i == 0 and first is not None else " " * dash) + "- "
        if isinstance(item, dict) and item:
            _mapping(item, dash + 2, out, first=lead)
        elif isinstance(item, (list, tuple)) and item:
            _sequence(item, dash + 4, out, first=lead + "  ")
        elif item is None:
            raise _Unknown
        elif isinstance(item, dict):
            out.append(lead + "{}")
        elif isinstance(item, (list, tuple)):
            out.append(lead + "[]")
        elif isinstance(item, str) and "\n" in item:
            _block(lead, item, dash, out)
        else:
            out.append(lead + _scalar(type(item), item))


def _block(head: str, text: str, column: int, out: list[str]) -> None:
    """A literal block: its header after `head`, its lines two columns right of `column`."""
    header, lines = _literal(text)
    out.append(head + header)
    pad = " " * (column + 2)
    out.extend(pad + line if line else "" for line in lines)


@functools.lru_cache(maxsize=8192)
def _literal(text: str) -> tuple[str, tuple[str, ...]]:
    first, *rest = ruamel_yaml({"k": text}).split("\n")
    if not first.startswith("k: |") or rest[-1] != "":
        raise _Unknown
    lines = rest[:-1]
    if any(line and (not line.startswith("  ") or not line.strip()) for line in lines):
        raise _Unknown
    return first[len("k: ") :], tuple(line[2:] for line in lines)


# Text ruamel.yaml writes as it is, whatever its context: starts with a letter, no indicator, no ': ' or ' #', no
# space or ':' at the end, and no word YAML reads as a boolean or null (tests/test_yaml_text.py holds it to that).
PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.,/=@$()+-]*(?:[ :][A-Za-z0-9_.,/=@$()+-]+)*")
NOT_TEXT = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null"})


def _plain(text: str) -> bool:
    return len(text) <= LONGEST_SCALAR and PLAIN.fullmatch(text) is not None and text.lower() not in NOT_TEXT


@functools.lru_cache(maxsize=8192)
def _scalar(kind: type, value: Any) -> str:
    if kind is str and _plain(value):
        return value
    if kind not in (str, int, float, bool) or (kind is str and len(value) > LONGEST_SCALAR):
        raise _Unknown
    text = ruamel_yaml({"k": value})
    if not text.startswith("k: ") or text.count("\n") != 1:
        raise _Unknown
    return text[len("k: ") : -1]


@functools.lru_cache(maxsize=4096)
def _key(key: str) -> str:
    if _plain(key) and len(key) <= 100:
        return key
    if "\n" in key or len(key) > 100:
        raise _Unknown
    text = ruamel_yaml({key: 0})
    if not text.endswith(": 0\n") or text.count("\n") != 1:
        raise _Unknown
    return text[: -len(": 0\n")]
