"""A deliberately simple reference evaluator of the benchmark's rule semantics.

One job: be obviously correct, so every engine's answers can be checked against it.
It is never timed.

Semantics (the simplified Remit subset the benchmark measures):

* A rule matches a query when the query's agent is in the rule's ``agents`` (or the
  rule lists ``"*"``), the action matches one of the rule's ``actions`` patterns
  (case-insensitive), and the resource ARN matches one of the rule's ``resources``
  patterns (case-sensitive).  A query carries one resource, so "every resource
  matches" reduces to "this resource matches some pattern".
* Patterns are fnmatch-style: ``*`` matches any run of characters (including ``:``
  and ``/``), ``?`` exactly one character.  ``[`` has no special meaning in IAM, so
  it is escaped before handing the pattern to ``fnmatch``.
* Among matching rules the strictest tier wins: deny > approve > notify > autonomous.
  No matching rule gives ``deny``.  "Allowed" means the tier is autonomous or notify.

Implementation: a linear scan over every rule for every query, using
``fnmatch.fnmatchcase`` on pre-lowered actions.  Pattern translation is cached by
``fnmatch`` itself; nothing clever is done on purpose.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from benchmarks.rulesets import Query

TIER_RANK: dict[str, int] = {"autonomous": 0, "notify": 1, "approve": 2, "deny": 3}
ALLOWED_TIERS: frozenset[str] = frozenset({"autonomous", "notify"})


def _glob(name: str, pattern: str) -> bool:
    """fnmatch with only ``*`` and ``?`` as metacharacters (``[`` taken literally)."""
    return fnmatch.fnmatchcase(name, pattern.replace("[", "[[]"))


def rule_matches(rule: dict[str, Any], query: Query) -> bool:
    """True when ``rule`` applies to ``query`` under the semantics above."""
    agents = rule["agents"]
    if "*" not in agents and query.agent not in agents:
        return False
    action = query.action.lower()
    if not any(_glob(action, pattern.lower()) for pattern in rule["actions"]):
        return False
    return any(_glob(query.resource_arn, pattern) for pattern in rule["resources"])


class ReferenceEngine:
    """Linear-scan evaluator: ``decide``/``tier``/``allowed`` for one query."""

    def __init__(self, envelope: dict[str, Any]) -> None:
        self.rules: list[dict[str, Any]] = list(envelope["rules"])

    def decide(self, query: Query) -> str | None:
        """The strictest tier among matching rules, or ``None`` if no rule matches."""
        best: str | None = None
        for rule in self.rules:
            if rule_matches(rule, query) and (
                best is None or TIER_RANK[rule["tier"]] > TIER_RANK[best]
            ):
                best = rule["tier"]
        return best

    def tier(self, query: Query) -> str:
        """The decided tier: the strictest matching one, ``"deny"`` if nothing matches."""
        best = self.decide(query)
        return "deny" if best is None else best

    def allowed(self, query: Query) -> bool:
        """True when the decided tier is autonomous or notify."""
        return self.tier(query) in ALLOWED_TIERS
