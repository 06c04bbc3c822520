"""The request context IAM evaluation reads condition keys and policy variables from.

Its one job: ``Context`` (what callers pass) and ``_Ctx``, its normalised form with
case-insensitive keys and every value as a tuple of strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Context = Mapping[str, str | Sequence[str]]


class _Ctx:
    """The request context with case-insensitive keys and every value as a tuple."""

    __slots__ = ("_values",)

    def __init__(self, context: Context) -> None:
        values: dict[str, tuple[str, ...]] = {}
        for key, raw in context.items():
            if isinstance(raw, str):
                vals: tuple[str, ...] = (raw,)
            elif isinstance(raw, bool):
                vals = ("true" if raw else "false",)
            else:
                vals = tuple(_context_str(v) for v in raw)
            values[key.lower()] = values.get(key.lower(), ()) + vals
        self._values = values

    def get(self, key: str) -> tuple[str, ...] | None:
        return self._values.get(key.lower())


def _context_str(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
