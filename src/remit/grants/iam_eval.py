"""IAM policy evaluation for one principal: identity policies intersected with a session policy.

Its one job: parse IAM policy documents and decide, for one action on one resource in one
request context, whether AWS would ALLOW, EXPLICIT_DENY or IMPLICIT_DENY it, naming the
statement(s) that decided (`explain`). The logic follows AWS's for a role session:

1. an explicit Deny in any policy (identity-based or session) wins;
2. otherwise the request is allowed only if some identity-based policy allows it AND, when a
   session policy was passed, the session policy allows it too (the intersection);
3. otherwise it is implicitly denied.

Matching rules:

* Actions match case-insensitively, with `*` and `?`.
* Resources match case-sensitively, with `*` and `?` within ARN segments; a `*` that ends a
  segment (is followed by `:` or ends the pattern) may run past colons, as AWS documents.
  Policy variables (`${aws:username}`, `${key, 'default'}`, `${*}`, `${?}`, `${$}`) are
  substituted from the request context in `Resource`/`NotResource` and in String/Arn
  condition values when the policy's Version is 2012-10-17; a variable with no value makes
  that one pattern match nothing.
* A request resource (or action) may itself contain wildcards, meaning "every name it stands
  for" (see `remit.domain.patterns`). ALLOW then means "allowed for all of them": an Allow
  statement applies only if one of its patterns covers the whole request (a `*` in the
  request is covered only by a `*` in the pattern), while a Deny statement applies as soon as
  it *overlaps* the request. NotResource/NotAction are the mirror image. So a broad request is
  never reported as allowed when part of it is denied or not granted.
* Conditions: operators within a block and keys within an operator are ANDed, values for a
  key ORed (NOR for negated operators such as StringNotEquals). Keys are looked up
  case-insensitively. A missing key makes a positive operator false and a negated one true;
  `...IfExists` makes a missing key true; `Null` tests presence; `ForAnyValue:` /
  `ForAllValues:` apply the operator to each value of a multivalued key (a missing key makes
  ForAllValues true and ForAnyValue false). A multivalued key used without a set qualifier
  matches if any of its values matches.

What it does not do: resource-based policies, permissions boundaries, SCPs/RCPs, cross-account
rules, or knowing which actions exist (effective.py joins this with the action catalogue).
No I/O. Malformed documents raise `PolicyError`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from functools import lru_cache
from typing import Any, Literal

from remit.domain.patterns import compile_glob, globs_overlap, has_wildcard

__all__ = [
    "Condition",
    "Context",
    "Decision",
    "Policy",
    "PolicyError",
    "PolicyLike",
    "Statement",
    "StatementRef",
    "Verdict",
    "evaluate",
    "explain",
    "parse_policy",
]

Context = Mapping[str, str | Sequence[str]]

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"
_POLICY_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
_ACTION_SYNTAX = re.compile(r"^(\*|[A-Za-z0-9*?][A-Za-z0-9*?-]*:[A-Za-z0-9*?_-]+)$")


class PolicyError(ValueError):
    """A policy document that is not valid IAM policy grammar (the message says what)."""


class Verdict(Enum):
    """The outcome of evaluating one request."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"


# --------------------------------------------------------------------------- patterns

# A pattern is parsed once into tokens: ("lit", text), ("star", ""), ("q", ""), or
# ("var", key, default-or-None). Variables are resolved per request into "lit" tokens whose
# text is always literal (so `${*}` yields a literal asterisk).
_Token = tuple[str, str, "str | None"]
_VAR = re.compile(r"\$\{([^}]*)\}")
_VAR_BODY = re.compile(r"^\s*([^\s,']+)\s*(?:,\s*'([^']*)'\s*)?$")
_SPECIAL_VARS = {"*": "*", "?": "?", "$": "$"}


def _tokenize(text: str, *, variables: bool, where: str) -> tuple[_Token, ...]:
    tokens: list[_Token] = []

    def plain(chunk: str) -> None:
        buf: list[str] = []
        for ch in chunk:
            if ch in "*?":
                if buf:
                    tokens.append(("lit", "".join(buf), None))
                    buf = []
                tokens.append(("star" if ch == "*" else "q", "", None))
            else:
                buf.append(ch)
        if buf:
            tokens.append(("lit", "".join(buf), None))

    if not variables:
        plain(text)
        return tuple(tokens)
    pos = 0
    for m in _VAR.finditer(text):
        plain(text[pos : m.start()])
        body = m.group(1)
        if body.strip() in _SPECIAL_VARS:
            tokens.append(("lit", _SPECIAL_VARS[body.strip()], None))
        else:
            parsed = _VAR_BODY.match(body)
            if parsed is None:
                raise PolicyError(f"{where}: malformed policy variable {m.group(0)!r}")
            tokens.append(("var", parsed.group(1), parsed.group(2)))
        pos = m.end()
    plain(text[pos:])
    return tuple(tokens)


def _has_vars(tokens: tuple[_Token, ...]) -> bool:
    return any(t[0] == "var" for t in tokens)


def _resolve(tokens: tuple[_Token, ...], ctx: _Ctx) -> tuple[_Token, ...] | None:
    """Substitute variables; None if one has no (single) value and no default."""
    if not _has_vars(tokens):
        return tokens
    out: list[_Token] = []
    for kind, text, default in tokens:
        if kind != "var":
            out.append((kind, text, default))
            continue
        values = ctx.get(text)
        if values is not None and len(values) == 1:
            out.append(("lit", values[0], None))
        elif default is not None:
            out.append(("lit", default, None))
        else:
            return None
    return tuple(out)


def _as_text(tokens: tuple[_Token, ...]) -> str:
    """The tokens as plain text, wildcards as the characters `*` and `?`."""
    return "".join("*" if k == "star" else "?" if k == "q" else t for k, t, _ in tokens)


def _regex(tokens: tuple[_Token, ...], mode: Literal["arn", "string"]) -> str:
    out: list[str] = []
    for i, (kind, text, _) in enumerate(tokens):
        if kind == "lit":
            out.append(re.escape(text))
        elif kind == "q":
            out.append("[^:]" if mode == "arn" else ".")
        elif mode == "string":
            out.append(".*")
        else:
            # In an ARN, `*` stays within its segment unless it ends the segment.
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            ends_segment = nxt is None or (nxt[0] == "lit" and nxt[1].startswith(":"))
            out.append(".*" if ends_segment else "[^:]*")
    return "".join(out)


@lru_cache(maxsize=16384)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.DOTALL)


@dataclass(frozen=True, slots=True)
class _Pattern:
    """One Resource/NotResource or Arn/String condition pattern."""

    text: str
    tokens: tuple[_Token, ...]
    mode: Literal["arn", "string"]
    static: re.Pattern[str] | None  # precompiled when the pattern has no variables

    @classmethod
    def parse(
        cls, text: str, *, mode: Literal["arn", "string"], variables: bool, where: str
    ) -> _Pattern:
        tokens = _tokenize(text, variables=variables, where=where)
        static = None if _has_vars(tokens) else _compiled(_regex(tokens, mode))
        return cls(text, tokens, mode, static)

    def _bound(self, ctx: _Ctx) -> tuple[re.Pattern[str], str] | None:
        if self.static is not None:
            return self.static, _as_text(self.tokens)
        tokens = _resolve(self.tokens, ctx)
        if tokens is None:
            return None
        return _compiled(_regex(tokens, self.mode)), _as_text(tokens)

    def matches(self, value: str, ctx: _Ctx) -> bool:
        """True if the concrete `value` matches the pattern."""
        bound = self._bound(ctx)
        return bound is not None and bound[0].fullmatch(value) is not None

    def covers(self, request: str, ctx: _Ctx) -> bool:
        """True if every name the request pattern stands for matches."""
        if not has_wildcard(request):
            return self.matches(request, ctx)
        bound = self._bound(ctx)
        return bound is not None and compile_glob(bound[1])(request)

    def overlaps(self, request: str, ctx: _Ctx) -> bool:
        """True if some name the request pattern stands for matches."""
        if not has_wildcard(request):
            return self.matches(request, ctx)
        bound = self._bound(ctx)
        return bound is not None and globs_overlap(bound[1], request)


class _ActionSet:
    """A list of action patterns, indexed so that matching a concrete action is cheap."""

    __slots__ = ("_by_service", "_exact", "_global", "patterns")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        self._exact: set[str] = set()
        self._by_service: dict[str, list[Callable[[str], bool]]] = {}
        self._global: list[Callable[[str], bool]] = []
        for p in patterns:
            low = p.lower()
            if not has_wildcard(low):
                self._exact.add(low)
                continue
            service, _, _ = low.partition(":")
            matcher = compile_glob(low, ignore_case=True)
            if has_wildcard(service):
                self._global.append(matcher)
            else:
                self._by_service.setdefault(service, []).append(matcher)

    def covers(self, action: str) -> bool:
        low = action.lower()
        if has_wildcard(low):
            return any(compile_glob(p, ignore_case=True)(low) for p in self.patterns)
        if low in self._exact:
            return True
        service = low.partition(":")[0]
        return any(m(low) for m in self._by_service.get(service, ())) or any(
            m(low) for m in self._global
        )

    def overlaps(self, action: str) -> bool:
        low = action.lower()
        if not has_wildcard(low):
            return self.covers(low)
        return any(globs_overlap(p.lower(), low) for p in self.patterns)


# --------------------------------------------------------------------------- conditions

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


# --------------------------------------------------------------------------- documents


@dataclass(frozen=True, slots=True)
class StatementRef:
    """Which statement of which policy: for explanations."""

    policy: str
    index: int
    sid: str | None
    effect: str

    def __str__(self) -> str:
        sid = f" ({self.sid})" if self.sid else ""
        return f"{self.policy} statement #{self.index}{sid} [{self.effect}]"


@dataclass(frozen=True, slots=True)
class Statement:
    """One parsed statement."""

    ref: StatementRef
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[Condition, ...]
    _actions: _ActionSet = field(repr=False, compare=False)
    _resources: tuple[_Pattern, ...] = field(repr=False, compare=False)

    def applies(self, action: str, resource: str, ctx: _Ctx) -> bool:
        """Whether the statement's effect applies to this request.

        Allow needs to cover the whole request; Deny needs only to touch it.
        """
        allow = self.effect == "Allow"
        acts = self._actions
        if self.not_action:
            hit = not (acts.overlaps(action) if allow else acts.covers(action))
        else:
            hit = acts.covers(action) if allow else acts.overlaps(action)
        if not hit:
            return False
        pats = self._resources
        if self.not_resource:
            if allow:
                hit = not any(p.overlaps(resource, ctx) for p in pats)
            else:
                hit = not any(p.covers(resource, ctx) for p in pats)
        elif allow:
            hit = any(p.covers(resource, ctx) for p in pats)
        else:
            hit = any(p.overlaps(resource, ctx) for p in pats)
        return hit and all(c.holds(ctx) for c in self.conditions)


@dataclass(frozen=True, slots=True)
class Policy:
    """A parsed policy document."""

    name: str
    version: str | None
    statements: tuple[Statement, ...]


PolicyLike = Mapping[str, Any] | Policy


def _strings(raw: Any, where: str, element: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise PolicyError(f"{where}: {element} must not be empty")
    for item in items:
        if not isinstance(item, str) or not item:
            raise PolicyError(f"{where}: {element} entries must be non-empty strings, got {item!r}")
    return tuple(items)


def _one_of(stmt: Mapping[str, Any], a: str, b: str, where: str) -> tuple[Any, bool]:
    if (a in stmt) == (b in stmt):
        raise PolicyError(f"{where}: needs exactly one of {a} or {b}")
    return (stmt[a], False) if a in stmt else (stmt[b], True)


def _parse_statement(stmt: Any, policy: str, index: int, variables: bool) -> Statement:
    where = f"{policy} statement #{index}"
    if not isinstance(stmt, Mapping):
        raise PolicyError(f"{where}: a statement must be an object")
    for key in stmt:
        if key in ("Principal", "NotPrincipal"):
            raise PolicyError(f"{where}: identity and session policies cannot name a {key}")
        if key not in _STATEMENT_KEYS:
            raise PolicyError(f"{where}: unknown element {key!r}")
    sid = stmt.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError(f"{where}: Sid must be a string")
    if sid:
        where = f"{where} ({sid})"
    effect = stmt.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{where}: Effect must be 'Allow' or 'Deny', got {effect!r}")
    raw_actions, not_action = _one_of(stmt, "Action", "NotAction", where)
    actions = _strings(raw_actions, where, "NotAction" if not_action else "Action")
    for a in actions:
        if not _ACTION_SYNTAX.match(a):
            raise PolicyError(f"{where}: {a!r} is not an action ('service:Action' or '*')")
    raw_resources, not_resource = _one_of(stmt, "Resource", "NotResource", where)
    resources = _strings(raw_resources, where, "NotResource" if not_resource else "Resource")
    patterns = tuple(
        _Pattern.parse(r, mode="arn", variables=variables, where=where) for r in resources
    )
    raw_cond = stmt.get("Condition", {})
    if not isinstance(raw_cond, Mapping):
        raise PolicyError(f"{where}: Condition must be an object")
    conditions: list[Condition] = []
    for operator, block in raw_cond.items():
        if not isinstance(block, Mapping):
            raise PolicyError(f"{where}: Condition {operator!r} must map keys to values")
        for key, raw in block.items():
            if not isinstance(key, str) or not key:
                raise PolicyError(f"{where}: condition keys must be non-empty strings")
            conditions.append(
                Condition.parse(str(operator), key, raw, variables=variables, where=where)
            )
    ref = StatementRef(policy, index, sid or None, effect)
    return Statement(
        ref,
        effect,
        actions,
        not_action,
        resources,
        not_resource,
        tuple(conditions),
        _ActionSet(actions),
        patterns,
    )


def parse_policy(document: Mapping[str, Any], name: str = "policy") -> Policy:
    """Parse and validate one IAM policy document (raises PolicyError)."""
    if not isinstance(document, Mapping):
        raise PolicyError(f"{name}: a policy document must be a JSON object")
    for key in document:
        if key not in _POLICY_KEYS:
            raise PolicyError(f"{name}: unknown top-level element {key!r}")
    version = document.get("Version")
    if version is not None and version not in (VERSION_2012, VERSION_2008):
        raise PolicyError(f"{name}: Version must be {VERSION_2012!r} or {VERSION_2008!r}")
    if "Statement" not in document:
        raise PolicyError(f"{name}: missing Statement")
    raw = document["Statement"]
    items = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(items, list):
        raise PolicyError(f"{name}: Statement must be an object or a list of objects")
    variables = version == VERSION_2012
    return Policy(
        name,
        version,
        tuple(_parse_statement(s, name, i, variables) for i, s in enumerate(items)),
    )


def _as_policy(policy: PolicyLike, name: str) -> Policy:
    return policy if isinstance(policy, Policy) else parse_policy(policy, name)


# --------------------------------------------------------------------------- evaluation


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


@dataclass(frozen=True, slots=True)
class Decision:
    """A verdict and the statements that decided it, for readable output."""

    verdict: Verdict
    action: str
    resource: str
    statements: tuple[StatementRef, ...]
    reason: str

    def __str__(self) -> str:
        return f"{self.verdict.name}: {self.action} on {self.resource}: {self.reason}"


def _first(
    policies: Iterable[Policy], effect: str, action: str, resource: str, ctx: _Ctx
) -> Statement | None:
    for policy in policies:
        for stmt in policy.statements:
            if stmt.effect == effect and stmt.applies(action, resource, ctx):
                return stmt
    return None


def explain(
    identity_policies: Sequence[PolicyLike],
    session_policy: PolicyLike | None,
    action: str,
    resource: str,
    context: Context,
) -> Decision:
    """Evaluate one request and say which statement(s) decided it.

    `identity_policies` and `session_policy` may be raw documents or `Policy` objects from
    `parse_policy` (parse once when evaluating many requests).
    """
    identity = [_as_policy(p, f"identity policy #{i}") for i, p in enumerate(identity_policies)]
    session = _as_policy(session_policy, "session policy") if session_policy is not None else None
    ctx = _Ctx(context)
    everything = [*identity, *([session] if session else [])]
    deny = _first(everything, "Deny", action, resource, ctx)
    if deny is not None:
        return Decision(
            Verdict.EXPLICIT_DENY, action, resource, (deny.ref,), f"explicitly denied by {deny.ref}"
        )
    allow = _first(identity, "Allow", action, resource, ctx)
    if allow is None:
        return Decision(
            Verdict.IMPLICIT_DENY, action, resource, (), "no identity-based policy allows it"
        )
    if session is None:
        return Decision(Verdict.ALLOW, action, resource, (allow.ref,), f"allowed by {allow.ref}")
    session_allow = _first([session], "Allow", action, resource, ctx)
    if session_allow is None:
        return Decision(
            Verdict.IMPLICIT_DENY,
            action,
            resource,
            (allow.ref,),
            f"{allow.ref} allows it but the session policy does not",
        )
    return Decision(
        Verdict.ALLOW,
        action,
        resource,
        (allow.ref, session_allow.ref),
        f"allowed by {allow.ref} and by {session_allow.ref}",
    )


def evaluate(
    identity_policies: Sequence[PolicyLike],
    session_policy: PolicyLike | None,
    action: str,
    resource: str,
    context: Context,
) -> Verdict:
    """ALLOW, EXPLICIT_DENY or IMPLICIT_DENY for one action on one resource."""
    return explain(identity_policies, session_policy, action, resource, context).verdict
