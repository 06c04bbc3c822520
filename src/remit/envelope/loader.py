"""Reads an envelope from YAML into a validated `Envelope`, with errors that name file:line.

Refuses duplicate keys, YAML aliases, explicit tags other than the JSON types (`!!set`,
`!!binary`, `!!timestamp`, `!!python/…`, `!custom`…), non-mapping documents, unknown
fields, wrong types,
bad durations, bad ARNs and action patterns that match no IAM action. Also computes the
envelope's canonical digest from the parsed document, so formatting and comments do not
change it but any change of meaning does. Does not check sign-offs (see `signoff`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from remit.catalog import ActionCatalog, default_catalog
from remit.domain.canonical import canonical_json, sha256_hex
from remit.domain.envelope import Envelope
from remit.envelope.suggest import for_action, for_validation_error

MAX_ENVELOPE_BYTES = 2 * 1024 * 1024

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an envelope, and where."""

    source: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.path + ': ' if self.path else ''}{self.message}"


class EnvelopeError(ValueError):
    """The envelope cannot be used; `problems` lists each issue with its location."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class LoadedEnvelope:
    """A validated envelope, its canonical bytes and digest, and where it came from."""

    envelope: Envelope
    canonical: bytes
    digest: str
    source: str


_JSON_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
)
"""The only explicit tags an envelope may carry: those of the JSON types. Untagged plain
scalars still resolve as YAML 1.1 says (an unquoted date stays a date, as before)."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, aliases and non-JSON explicit tags."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases (*name) are not allowed in an envelope", event.start_mark
            )
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in _JSON_TAGS:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"the YAML tag {tag!r} is not allowed in an envelope (only plain JSON "
                "values: strings, numbers, true/false, null, lists and mappings)",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"duplicate key {key!r} (first at line {seen[key].line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _line_map(node: Any, path: Path_, out: dict[Path_, tuple[int, int]]) -> None:
    out.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _line_map(value_node, (*path, key), out)
            # keep the key's own line for the mapping entry, children get their own
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, (*path, i), out)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _path_text(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


_MSG_PATH = re.compile(r"^(?P<head>[a-z_]+)(?:\[(?P<idx>\d+)\]|\.(?P<key>[\w.-]+?))?(?=[:\s])")


def _locate(path: Path_, lines: dict[Path_, tuple[int, int]]) -> tuple[int | None, int | None]:
    p = path
    while p not in lines and p:
        p = p[:-1]
    found = lines.get(p)
    return (found[0], found[1]) if found else (None, None)


def load_envelope_text(
    text: str, source: str = "<envelope>", catalog: ActionCatalog | None = None
) -> LoadedEnvelope:
    """Parse and validate envelope YAML `text`; raise `EnvelopeError` with locations."""
    if len(text.encode("utf-8")) > MAX_ENVELOPE_BYTES:
        raise EnvelopeError(
            [Problem(source, None, None, "", f"file is larger than {MAX_ENVELOPE_BYTES} bytes")]
        )
    try:
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        msg = " ".join(x for x in (exc.context, exc.problem) if x) or str(exc)
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        raise EnvelopeError([Problem(source, line, col, "", f"invalid YAML: {msg}")]) from None
    except yaml.YAMLError as exc:
        raise EnvelopeError([Problem(source, None, None, "", f"invalid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise EnvelopeError(
            [Problem(source, 1, 1, "", "an envelope must be a YAML mapping (apiVersion, kind, …)")]
        )
    lines: dict[Path_, tuple[int, int]] = {}
    _line_map(node, (), lines)
    data = _jsonable(data)
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if not loc:
                m = _MSG_PATH.match(msg)
                if m:
                    loc = (m["head"],) + ((int(m["idx"]),) if m["idx"] else ())
                    if m["key"]:
                        loc += tuple(m["key"].split("."))
            line, col = _locate(loc, lines)
            msg += for_validation_error(err)
            problems.append(Problem(source, line, col, _path_text(loc), msg))
        raise EnvelopeError(problems) from None
    problems = _unknown_actions(envelope, catalog or default_catalog(), lines, source)
    if problems:
        raise EnvelopeError(problems)
    canonical = canonical_json(data)
    return LoadedEnvelope(envelope, canonical, "sha256:" + sha256_hex(canonical), source)


def _unknown_actions(
    env: Envelope, catalog: ActionCatalog, lines: dict[Path_, tuple[int, int]], source: str
) -> list[Problem]:
    problems = []

    def check(patterns: tuple[str, ...], path: Path_) -> None:
        for j, pattern in enumerate(patterns):
            if pattern != "*" and not catalog.matches_any(pattern):
                line, col = _locate((*path, j), lines)
                problems.append(
                    Problem(
                        source,
                        line,
                        col,
                        _path_text((*path, j)),
                        f"{pattern!r} matches no action in the IAM action database "
                        "(a typo here would silently never match)" + for_action(pattern, catalog),
                    )
                )

    for i, rule in enumerate(env.rules):
        check(rule.actions, ("rules", i, "actions"))
    for name, wf in env.workflows.items():
        for step_name, step in wf.steps.items():
            check(step.actions, ("workflows", name, "steps", step_name, "actions"))
    for i, fb in enumerate(env.fallbacks):
        check(fb.from_.actions, ("fallbacks", i, "from", "actions"))
        check(fb.to.actions, ("fallbacks", i, "to", "actions"))
    return problems


def load_envelope(path: str | Path, catalog: ActionCatalog | None = None) -> LoadedEnvelope:
    """Read and validate the envelope file at `path`."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise EnvelopeError(
            [Problem(str(p), None, None, "", f"cannot read envelope: {exc.strerror}")]
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnvelopeError(
            [Problem(str(p), None, None, "", f"not UTF-8 text (byte {exc.start})")]
        ) from None
    return load_envelope_text(text, str(p), catalog)
