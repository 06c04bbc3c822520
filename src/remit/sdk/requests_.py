"""Building the JSON of an ActionRequest from the SDK's keyword arguments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

ResourceArg = str | Mapping[str, Any]


def resources_json(resources: Sequence[ResourceArg] | ResourceArg) -> list[dict[str, Any]]:
    if isinstance(resources, str | Mapping):
        resources = [resources]
    out = []
    for r in resources:
        if isinstance(r, str):
            out.append({"arn": r, "tags": {}})
        else:
            out.append({"arn": r["arn"], "tags": dict(r.get("tags") or {})})
    return out


def request_json(
    *,
    agent: str,
    action: str,
    resources: Sequence[ResourceArg] | ResourceArg,
    reasoning: Mapping[str, Any] | None,
    provenance: Mapping[str, Any] | None,
    parameters: Mapping[str, Any] | None,
    fallback: Mapping[str, Any] | None,
    on_behalf_of: str | None,
    environment: str | None,
    origin: str,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "agent": agent,
        "origin": origin,
        "action": action,
        "resources": resources_json(resources),
        "reasoning": dict(reasoning or {}),
        "provenance": dict(provenance or {}),
        "parameters": dict(parameters or {}),
    }
    if fallback:
        body["fallback"] = dict(fallback)
    if on_behalf_of:
        body["on_behalf_of"] = on_behalf_of
    if environment:
        body["environment"] = environment
    return body
