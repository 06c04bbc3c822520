"""IAM policy documents: parsing and validation into statements.

Its one job: turn a policy document into a ``Policy`` of ``Statement``s (rejecting
anything that is not identity/session policy grammar with ``PolicyError``), and say
whether one statement applies to one request (``Statement.applies``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from remit.grants.iam_eval.conditions import Condition
from remit.grants.iam_eval.context import _Ctx
from remit.grants.iam_eval.errors import PolicyError
from remit.grants.iam_eval.matching import _ActionSet, _Pattern

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"
_POLICY_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
_ACTION_SYNTAX = re.compile(r"^(\*|[A-Za-z0-9*?][A-Za-z0-9*?-]*:[A-Za-z0-9*?_-]+)$")


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
