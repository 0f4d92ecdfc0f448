"""Load `cluster_spec.yaml` with ruamel.yaml so every refusal names file, line, field and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from redis_gitops.contracts.bounds import MAX_SPEC_BYTES
from redis_gitops.synth.spec import ClusterSpec


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        if not self.line:  # the file itself (unreadable): no line to point at
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.field or '<root>'}: {self.message}"


class SpecError(Exception):
    """A spec that cannot be used; carries every problem found, not only the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def read_spec_text(path: str | Path) -> str:
    """A spec file's text, refused early when it is huge, unreadable or not UTF-8."""
    path = Path(path)
    try:
        if (
            path.stat().st_size > 4 * MAX_SPEC_BYTES
        ):  # never read a huge file whole (UTF-8: at most 4 bytes a character)
            raise SpecError(
                [
                    Problem(
                        str(path),
                        1,
                        "",
                        f"the spec is larger than {MAX_SPEC_BYTES:,} characters: a cluster spec is a page",
                    )
                ]
            )
        raw = path.read_bytes()
    except OSError as err:
        raise SpecError([Problem(str(path), 0, "", f"cannot read the spec: {err.strerror}")]) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise SpecError(
            [Problem(str(path), line, "", f"not UTF-8 text (byte 0x{raw[err.start]:02x}): save the spec as UTF-8 YAML")]
        ) from None


def load_spec(path: str | Path) -> ClusterSpec:
    return parse_spec(read_spec_text(path), str(path))


MAX_FLOW_DEPTH = 50  # far beyond any spec; ruamel.yaml's parser recurses once per level


def _flow_depth(text: str) -> tuple[int, int]:
    """The deepest nesting of [ and { outside comments, and the line where it is reached: refused before the parser
    recurses into it (100,000 levels took seconds, then a RecursionError). Brackets inside quoted strings count too:
    no real spec holds 50 of them."""
    depth = deepest = 0
    line = deepest_line = 1
    previous, comment = "\n", False
    for ch in text:
        if ch == "\n":
            line += 1
            comment = False
        elif comment:
            pass
        elif ch == "#" and previous in " \t\n":
            comment = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest, deepest_line = depth, line
                if deepest > MAX_FLOW_DEPTH:
                    break
        elif ch in "]}":
            depth = max(depth - 1, 0)
        previous = ch
    return deepest, deepest_line


def parse_yaml(text: str, filename: str, empty_ok: bool = False) -> CommentedMap:
    """The spec file's mapping as ruamel.yaml reads it (with lines), or every reason it cannot be read.
    `empty_ok`: an empty file is an empty mapping (an environment's file that changes nothing)."""
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(
            [
                Problem(
                    filename,
                    1,
                    "",
                    f"the spec is larger than {MAX_SPEC_BYTES:,} characters "
                    f"({len(text):,}): a cluster spec is a page; remove what is not the spec",
                )
            ]
        )
    depth, line = _flow_depth(text)
    if depth > MAX_FLOW_DEPTH:
        raise SpecError(
            [
                Problem(
                    filename,
                    line,
                    "",
                    f"brackets nested more than {MAX_FLOW_DEPTH} deep: a cluster spec is a few levels of sections",
                )
            ]
        )
    try:
        data = YAML(typ="rt").load(text)
    except MarkedYAMLError as err:
        raise SpecError([_yaml_problem(err, filename, text.splitlines())]) from None
    except RecursionError:
        raise SpecError(
            [Problem(filename, 1, "", "nested too deeply to read: a cluster spec is a few levels of sections")]
        ) from None
    if data is None and empty_ok:
        return CommentedMap()
    if not isinstance(data, dict):
        raise SpecError([Problem(filename, 1, "", "the spec must be a mapping of sections (name, redis, ...)")])
    return data


# Where a field's value was written: a spec location (as pydantic reports it) -> (file, line).
Locate = Callable[[tuple], tuple[str, int]]


def locate_in(filename: str, data: Any) -> Locate:
    """Locations in one file: the deepest key of the location that the file holds."""
    return lambda loc: (filename, _line_of(data, loc))


def parse_spec(text: str, filename: str = "cluster_spec.yaml") -> ClusterSpec:
    data = parse_yaml(text, filename)
    return validate_spec(data, locate_in(filename, data), {filename: text.splitlines()})


def validate_spec(data: Any, locate: Locate, lines: dict[str, list[str]]) -> ClusterSpec:
    """The model from read data; every problem at the file and line that `locate` gives (`lines`: each file's
    lines, to quote what was written)."""
    try:
        return ClusterSpec.model_validate(data)
    except ValidationError as err:
        raise SpecError(_problems(err, locate, lines)) from None


def _indentation_problem(filename: str, lines: list[str], line: int) -> Problem:
    """The parser stops at the first line that fits no open section; the mistake is often the line above it."""

    def indent(text: str) -> int:
        return len(text) - len(text.lstrip(" "))

    here = indent(lines[line - 1])
    above = next(
        (n for n in range(line - 1, 0, -1) if lines[n - 1].strip() and not lines[n - 1].lstrip().startswith("#")), 0
    )
    if above and indent(lines[above - 1]) > here and not lines[above - 1].split("#")[0].rstrip().endswith(":"):
        return Problem(
            filename,
            above,
            "",
            f"lines {above} and {line} are keys of one section but start in "
            f"different columns ({indent(lines[above - 1]) + 1} and {here + 1}): "
            "align them",
        )
    return Problem(
        filename,
        line,
        "",
        f"this line (column {here + 1}) lines up with no section above it: indent "
        "it like the other keys of its section",
    )


def _yaml_problem(err: MarkedYAMLError, filename: str, lines: list[str]) -> Problem:
    """What a YAML error means for a spec's author, at the line to fix: the parser's words ("expected <block end>,
    but found '<block mapping start>'") name its grammar and the token after the mistake."""
    mark = err.problem_mark or err.context_mark
    line = mark.line + 1 if mark else 0
    problem = str(err.problem or err)
    if "\t" in problem or "'\\t'" in problem:
        return Problem(filename, line, "", "a tab character: YAML indents with spaces only")
    if "expected <block end>" in problem and 0 < line <= len(lines):
        return _indentation_problem(filename, lines, line)
    if "mapping values are not allowed here" in problem:
        return Problem(
            filename,
            line,
            "",
            "a ':' where a value was expected: is this line indented too far, or does a value need quotes?",
        )
    if "could not find expected ':'" in problem:
        start = (err.context_mark.line + 1) if err.context_mark is not None else line
        return Problem(
            filename,
            start,
            "",
            "a line without 'key: value' here: add the ':' or indent the line as part of the value above",
        )
    return Problem(filename, line, "", f"not valid YAML: {problem}")


def _problems(err: ValidationError, locate: Locate, lines: dict[str, list[str]]) -> list[Problem]:
    problems = []
    for e in err.errors():
        loc = tuple(e["loc"])
        if e["type"] == "spec_rules":
            for sub_loc, message in e["ctx"]["violations"]:
                problems.append(problem_at(locate, loc + tuple(sub_loc), message))
            continue
        problem = problem_at(locate, loc, _message(e, loc))
        file_lines = lines.get(problem.file, [])
        typed_number = e["type"] == "string_type" and isinstance(e.get("input"), (int, float))
        if typed_number and 0 < problem.line <= len(file_lines):
            written = file_lines[problem.line - 1].split(":", 1)[-1].split("#")[0].strip()
            problem = Problem(
                problem.file,
                problem.line,
                problem.field,
                f'expected text, and YAML read {written} as a number: quote it: "{written}"',
            )
        problems.append(problem)
    return sorted(problems, key=lambda p: (p.file, p.line, p.field))


def problem_at(locate: Locate, loc: tuple, message: str) -> Problem:
    """A problem at a spec location, in the file and line that hold it (also for problems found later, while
    rendering)."""
    file, line = locate(loc)
    return Problem(file, line, ".".join(str(p) for p in loc), message)


def _message(e: dict, loc: tuple) -> str:
    if e["type"] == "extra_forbidden":
        known = _known_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys here: {', '.join(known)}"
        return f"unknown key '{loc[-1]}': {hint}"
    if e["type"] == "missing":
        return "required but missing: add it"
    if e["type"] in ("int_parsing", "int_type", "int_from_float"):
        return f"expected a whole number, not {e.get('input')!r}"
    return e["msg"].removeprefix("Value error, ")


def _known_keys(loc: tuple) -> list[str]:
    """camelCase keys the model accepts at `loc`, for did-you-mean suggestions."""
    model: type[BaseModel] | None = ClusterSpec
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        model = _model_of(field.annotation) if field else None
    if model is None:
        return []
    return [f.alias or n for n, f in model.model_fields.items()]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found:
            return found
    return None


def _line_of(data: Any, loc: tuple) -> int:
    """1-based line of the deepest key on `loc` that exists in the file (the section when a key is missing)."""
    line, node = 1, data
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line
