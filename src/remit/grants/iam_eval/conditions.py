"""IAM condition operators.

Its one job: parse one ``(operator, key, values)`` test of a Condition block into a
``Condition`` (String*, Numeric*, Date*, Bool, Binary, IpAddress, Arn*, Null, with
``...IfExists`` and the ``ForAnyValue:``/``ForAllValues:`` set qualifiers) and decide
whether it holds in a request context.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from remit.grants.iam_eval.context import _Ctx
from remit.grants.iam_eval.errors import PolicyError
from remit.grants.iam_eval.matching import _as_text, _Pattern, _resolve

_Family = Literal[
    "string", "string_ic", "string_like", "numeric", "date", "bool", "binary", "ip", "arn"
]

# operator name -> (family, comparison, negated)
_OPERATORS: dict[str, tuple[_Family, str, bool]] = {
    "StringEquals": ("string", "eq", False),
    "StringNotEquals": ("string", "eq", True),
    "StringEqualsIgnoreCase": ("string_ic", "eq", False),
    "StringNotEqualsIgnoreCase": ("string_ic", "eq", True),
    "StringLike": ("string_like", "like", False),
    "StringNotLike": ("string_like", "like", True),
    "NumericEquals": ("numeric", "eq", False),
    "NumericNotEquals": ("numeric", "eq", True),
    "NumericLessThan": ("numeric", "lt", False),
    "NumericLessThanEquals": ("numeric", "le", False),
    "NumericGreaterThan": ("numeric", "gt", False),
    "NumericGreaterThanEquals": ("numeric", "ge", False),
    "DateEquals": ("date", "eq", False),
    "DateNotEquals": ("date", "eq", True),
    "DateLessThan": ("date", "lt", False),
    "DateLessThanEquals": ("date", "le", False),
    "DateGreaterThan": ("date", "gt", False),
    "DateGreaterThanEquals": ("date", "ge", False),
    "Bool": ("bool", "eq", False),
    "BinaryEquals": ("binary", "eq", False),
    "IpAddress": ("ip", "in", False),
    "NotIpAddress": ("ip", "in", True),
    "ArnEquals": ("arn", "like", False),
    "ArnLike": ("arn", "like", False),
    "ArnNotEquals": ("arn", "like", True),
    "ArnNotLike": ("arn", "like", True),
}
_SET_QUALIFIERS = ("ForAnyValue", "ForAllValues")
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: bool(a == b),
    "lt": lambda a, b: bool(a < b),
    "le": lambda a, b: bool(a <= b),
    "gt": lambda a, b: bool(a > b),
    "ge": lambda a, b: bool(a >= b),
}


def _parse_date(text: str) -> datetime | None:
    raw = text.strip()
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", raw):
            return datetime.fromtimestamp(float(raw), tz=UTC)
        parsed = datetime.fromisoformat(raw)
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Condition:
    """One (operator, key, values) test from a Condition block."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str
    values: tuple[str, ...]
    family: _Family = field(repr=False)
    comparison: str = field(repr=False)
    negated: bool = field(repr=False)
    qualifier: str | None = field(repr=False)
    if_exists: bool = field(repr=False)
    null_check: bool = field(repr=False)
    _patterns: tuple[_Pattern, ...] = field(repr=False, compare=False)
    _scalars: tuple[Any, ...] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, operator: str, key: str, raw: Any, *, variables: bool, where: str) -> Condition:
        values = _condition_values(raw, f"{where}: {operator}/{key}")
        name, qualifier = operator, None
        if ":" in name:
            qualifier, _, name = name.partition(":")
            if qualifier not in _SET_QUALIFIERS:
                raise PolicyError(f"{where}: unknown set qualifier {qualifier!r} in {operator!r}")
        if_exists = False
        if name == "Null":
            if qualifier:
                raise PolicyError(f"{where}: Null cannot take a set qualifier ({operator!r})")
            bad = [v for v in values if v.lower() not in ("true", "false")]
            if bad:
                raise PolicyError(f"{where}: Null/{key} needs 'true' or 'false', got {bad[0]!r}")
            return cls(operator, key, values, "bool", "null", False, None, False, True, (), ())
        if name.endswith("IfExists"):
            name, if_exists = name[: -len("IfExists")], True
        spec = _OPERATORS.get(name)
        if spec is None:
            raise PolicyError(f"{where}: unknown condition operator {operator!r}")
        family, comparison, negated = spec
        patterns: tuple[_Pattern, ...] = ()
        scalars: tuple[Any, ...] = ()
        ctx_where = f"{where}: {operator}/{key}"
        if family in ("string", "string_ic", "string_like", "arn"):
            mode: Literal["arn", "string"] = "arn" if family == "arn" else "string"
            patterns = tuple(
                _Pattern.parse(v, mode=mode, variables=variables, where=ctx_where) for v in values
            )
        elif family == "numeric":
            scalars = tuple(_must(_parse_number(v), v, "a number", ctx_where) for v in values)
        elif family == "date":
            scalars = tuple(_must(_parse_date(v), v, "a date", ctx_where) for v in values)
        elif family == "bool":
            bad = [v for v in values if v.lower() not in ("true", "false")]
            if bad:
                raise PolicyError(f"{ctx_where}: Bool needs 'true' or 'false', got {bad[0]!r}")
            scalars = tuple(v.lower() for v in values)
        elif family == "ip":
            nets: list[_Network] = []
            for v in values:
                try:
                    nets.append(ipaddress.ip_network(v.strip(), strict=False))
                except ValueError:
                    raise PolicyError(f"{ctx_where}: {v!r} is not an IP address or CIDR") from None
            scalars = tuple(nets)
        else:  # binary
            scalars = values
        return cls(
            operator,
            key,
            values,
            family,
            comparison,
            negated,
            qualifier,
            if_exists,
            False,
            patterns,
            scalars,
        )

    def _positive(self, value: str, ctx: _Ctx) -> bool:
        """Whether one context value matches any policy value (before negation)."""
        fam = self.family
        if fam == "string":
            for p in self._patterns:
                resolved = _resolve(p.tokens, ctx)
                if resolved is not None and _as_text(resolved) == value:
                    return True
            return False
        if fam == "string_ic":
            folded = value.casefold()
            for p in self._patterns:
                resolved = _resolve(p.tokens, ctx)
                if resolved is not None and _as_text(resolved).casefold() == folded:
                    return True
            return False
        if fam in ("string_like", "arn"):
            return any(p.matches(value, ctx) for p in self._patterns)
        if fam == "numeric":
            num = _parse_number(value)
            cmp = _ORDER[self.comparison]
            return num is not None and any(cmp(num, s) for s in self._scalars)
        if fam == "date":
            when = _parse_date(value)
            cmp = _ORDER[self.comparison]
            return when is not None and any(cmp(when, s) for s in self._scalars)
        if fam == "bool":
            return value.strip().lower() in self._scalars
        if fam == "ip":
            try:
                addr = ipaddress.ip_address(value.strip())
            except ValueError:
                return False
            return any(addr.version == n.version and addr in n for n in self._scalars)
        return value in self._scalars  # binary

    def holds(self, ctx: _Ctx) -> bool:
        """Whether this test is true in the request context."""
        present = ctx.get(self.key)
        if self.null_check:
            missing = not present
            return any((v.lower() == "true") == missing for v in self.values)
        if not present:
            if self.if_exists or self.qualifier == "ForAllValues":
                return True
            if self.qualifier == "ForAnyValue":
                return False
            return self.negated
        if self.qualifier is None:
            hit = any(self._positive(v, ctx) for v in present)
            return not hit if self.negated else hit

        def each(v: str) -> bool:
            return self._positive(v, ctx) != self.negated

        if self.qualifier == "ForAnyValue":
            return any(each(v) for v in present)
        return all(each(v) for v in present)


def _must(parsed: Any, raw: str, what: str, where: str) -> Any:
    if parsed is None:
        raise PolicyError(f"{where}: {raw!r} is not {what}")
    return parsed


def _condition_values(raw: Any, where: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise PolicyError(f"{where}: a condition needs at least one value")
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str):
            out.append(item)
        elif isinstance(item, int | float):
            out.append(str(item))
        else:
            raise PolicyError(f"{where}: condition values must be strings, numbers or booleans")
    return tuple(out)
