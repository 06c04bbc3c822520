"""What a tool call means, declared rather than guessed: a mapping file names, for each
tool of an MCP server, the IAM action it performs, the resource ARNs it touches (templates
filled from the call's arguments and the proxy's context: `{account}`, `{region}`), and the
API parameters to record. A tool the mapping does not name is unmapped (denied by the
proxy); arguments that do not fill a template are a `MappingError` naming what is missing.

Template syntax: `{name}` is the argument `name` (or a context value); `{name=default}` uses
`default` when the argument is absent or null; `{*name}` expands a list argument into one
ARN per item. This module reads YAML and fills strings; it asks nobody anything.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any

import yaml

from remit.domain.patterns import ACTION_NAME

BUILTIN = {"awslabs.iam-mcp-server": "awslabs-iam.yaml"}
"""Mappings Remit ships, by the name `--mapping` accepts instead of a file."""

_FIELD = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?:=([^}]*))?\}")


class MappingError(ValueError):
    """The mapping file is malformed, or a call's arguments do not fill its templates."""


class UnmappedTool(MappingError):
    """The mapping does not name this tool: the proxy denies it."""

    def __init__(self, tool: str, source: str) -> None:
        self.tool = tool
        super().__init__(
            f"tool {tool!r} has no mapping in {source}: unmapped tools are denied by default"
        )


@dataclass(frozen=True)
class ResolvedCall:
    """One call, as Remit is asked about it."""

    tool: str
    action: str
    resources: tuple[str, ...]
    parameters: dict[str, Any]
    arguments_sha256: str


@dataclass(frozen=True)
class ToolMap:
    """One tool's declaration."""

    action: str
    resources: tuple[str, ...]
    parameters: Mapping[str, str] = field(default_factory=dict)


def arguments_digest(tool: str, arguments: Mapping[str, Any]) -> str:
    """SHA-256 of the tool name and its arguments in canonical JSON (sorted keys, no
    spaces): what an approval is bound to."""
    body = json.dumps(
        {"tool": tool, "arguments": dict(arguments)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _fill(
    template: str, arguments: Mapping[str, Any], context: Mapping[str, str], where: str
) -> list[str]:
    """The strings `template` yields (several when it expands a list argument)."""
    expansions: list[list[str]] = []

    def value(star: str, name: str, default: str | None) -> list[str]:
        got = arguments.get(name)
        if got is None:
            got = context.get(name)
        if got is None:
            if default is not None:
                return [default]
            raise MappingError(f"{where}: argument {name!r} is missing (template {template!r})")
        if star:
            if not isinstance(got, list) or not got:
                raise MappingError(f"{where}: argument {name!r} must be a non-empty list")
            items = got
        else:
            if isinstance(got, list | dict):
                raise MappingError(f"{where}: argument {name!r} must be a single value")
            items = [got]
        out = []
        for item in items:
            text = str(item)
            if not text or any(c in text for c in "*?{}") or any(ord(c) < 32 for c in text):
                raise MappingError(f"{where}: argument {name!r} = {text!r} cannot name a resource")
            out.append(text)
        return out

    for m in _FIELD.finditer(template):
        expansions.append(value(m.group(1), m.group(2), m.group(3)))
    results = [template]
    for m, choices in zip(list(_FIELD.finditer(template)), expansions, strict=True):
        results = [r.replace(m.group(0), c, 1) for r in results for c in choices]
    return results


class ToolMapping:
    """A loaded mapping: `resolve(tool, arguments, context)`."""

    def __init__(self, server: str, tools: Mapping[str, ToolMap], source: str) -> None:
        self.server = server
        self.tools = dict(tools)
        self.source = source

    def resolve(
        self, tool: str, arguments: Mapping[str, Any] | None, context: Mapping[str, str]
    ) -> ResolvedCall:
        """The action, ARNs and parameters of this call; `UnmappedTool` or `MappingError`."""
        spec = self.tools.get(tool)
        if spec is None:
            raise UnmappedTool(tool, self.source)
        args = dict(arguments or {})
        where = f"tool {tool!r}"
        arns: list[str] = []
        for t in spec.resources:
            for arn in _fill(t, args, context, where):
                if arn not in arns:
                    arns.append(arn)
        params: dict[str, Any] = {}
        for api_name, t in spec.parameters.items():
            (params[api_name],) = _fill(t, args, context, f"{where} parameter {api_name}")
        return ResolvedCall(tool, spec.action, tuple(arns), params, arguments_digest(tool, args))


def _tool(name: str, raw: Any, source: str) -> ToolMap:
    where = f"{source}: tools.{name}"
    if not isinstance(raw, Mapping):
        raise MappingError(f"{where}: expected a mapping with action and resources")
    unknown = set(raw) - {"action", "resources", "parameters"}
    if unknown:
        raise MappingError(f"{where}: unknown keys {sorted(unknown)}")
    action = raw.get("action")
    if not isinstance(action, str) or not ACTION_NAME.match(action):
        raise MappingError(f"{where}.action: {action!r} is not an IAM action (service:Action)")
    res = raw.get("resources")
    if isinstance(res, str):
        res = [res]
    if not isinstance(res, list) or not res or not all(isinstance(r, str) for r in res):
        raise MappingError(f"{where}.resources: expected a non-empty list of ARN templates")
    for r in res:
        if r != "*" and not r.startswith(("arn:", "{")):
            raise MappingError(f"{where}.resources: {r!r} is not an ARN template")
    params = raw.get("parameters") or {}
    if not isinstance(params, Mapping) or not all(isinstance(v, str) for v in params.values()):
        raise MappingError(f"{where}.parameters: expected API name → template strings")
    return ToolMap(action, tuple(res), dict(params))


def parse_mapping(data: Any, source: str) -> ToolMapping:
    """A mapping from parsed YAML/JSON; `MappingError` naming the bad part."""
    if not isinstance(data, Mapping) or not isinstance(data.get("tools"), Mapping):
        raise MappingError(f"{source}: expected `server:` and a `tools:` mapping")
    server = str(data.get("server") or "")
    tools = {str(k): _tool(str(k), v, source) for k, v in data["tools"].items()}
    return ToolMapping(server, tools, source)


def load_mapping(name_or_path: str) -> ToolMapping:
    """A shipped mapping by server name (`BUILTIN`), or a YAML file."""
    if name_or_path in BUILTIN:
        ref = importlib_resources.files("remit.mcp") / "mappings" / BUILTIN[name_or_path]
        text = ref.read_text(encoding="utf-8")
        source = f"the shipped mapping for {name_or_path}"
    else:
        path = Path(name_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            known = ", ".join(sorted(BUILTIN))
            raise MappingError(
                f"cannot read mapping {name_or_path!r}: {exc.strerror} (shipped: {known})"
            ) from exc
        source = str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"{source}: not YAML: {exc}") from exc
    return parse_mapping(data, source)
