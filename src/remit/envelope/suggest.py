""" "Did you mean …?" for envelope problems: the closest known key for an unknown one, the
closest allowed value for a bad tier (or other choice), the closest IAM action for an
action pattern that matches nothing. Pure: names in, a suffix for the message out."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from functools import cache
from typing import Any, get_args

from pydantic import BaseModel

from remit.catalog import ActionCatalog


def closest(value: str, choices: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def _hint(value: str, choices: Iterable[str]) -> str:
    best = closest(value, choices)
    return f" (did you mean {best!r}?)" if best and best != value else ""


@cache
def _known_keys() -> frozenset[str]:
    """Every field name (and alias) of the envelope's models."""
    from remit.domain.envelope import Envelope

    seen: set[type[BaseModel]] = set()
    keys: set[str] = set()

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            keys.add(field.alias or name)
            for t in _types(field.annotation):
                walk(t)

    walk(Envelope)
    return frozenset(keys)


def _types(annotation: Any) -> Iterable[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in get_args(annotation):
        yield from _types(arg)


_QUOTED = re.compile(r"'([^']*)'")


def for_validation_error(err: Any) -> str:
    """The hint for one pydantic error (as from `errors()`), or ""."""
    kind = err.get("type")
    if kind == "extra_forbidden" and err.get("loc"):
        return _hint(str(err["loc"][-1]), _known_keys())
    if kind in ("enum", "literal_error") and isinstance(err.get("input"), str):
        expected = str((err.get("ctx") or {}).get("expected", ""))
        return _hint(err["input"], _QUOTED.findall(expected))
    return ""


def for_action(pattern: str, catalog: ActionCatalog) -> str:
    """The closest IAM action (or service prefix) for a pattern that matches nothing."""
    service, _, name = pattern.partition(":")
    services = catalog.services()
    if service.lower() not in services:
        return _hint(service.lower(), services)
    if "*" in name or "?" in name:
        return ""
    names = [a.split(":", 1)[1] for a in catalog.expand(f"{service}:*")]
    best = closest(name, names)
    return f" (did you mean '{service}:{best}'?)" if best else ""
