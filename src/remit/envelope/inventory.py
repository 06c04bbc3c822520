"""The decision inventory (C7): per agent, what it may decide, at which tier, under which
conditions — generated from the envelope, never written by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from remit.catalog import ActionCatalog
from remit.domain.durations import format_duration
from remit.domain.envelope import Envelope, Rule
from remit.domain.tiers import Tier


@dataclass(frozen=True)
class InventoryRow:
    """One line of the inventory: an agent, a rule, and what it lets the agent do."""

    agent: str
    rule_id: str
    tier: str
    effective_tier: str
    actions: tuple[str, ...]
    action_count: int
    access_levels: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _conditions(env: Envelope, rule: Rule, agent: str) -> list[str]:
    out = []
    if rule.when and rule.when.min_confidence is not None:
        out.append(f"confidence ≥ {rule.when.min_confidence:g}")
    br = rule.blast_radius
    if br:
        if br.max_resources:
            out.append(f"≤ {br.max_resources} resources/action")
        if br.max_accounts:
            out.append(f"≤ {br.max_accounts} account(s)/action")
        if br.window:
            out.append(f"≤ {br.window.max_actions} actions per {format_duration(br.window.per)}")
    req = env.defaults.reasoning.get(rule.tier)
    if req:
        out.append("reasoning: " + ", ".join(req))
    a = env.agents.get(agent)
    if a and a.models:
        out.append("models: " + ", ".join(f"{m.name}@{m.version}" for m in a.models))
    if a and a.workflows:
        out.append("within workflows: " + ", ".join(a.workflows))
    if env.protected:
        out.append(
            "protected sets: ≥ " + ", ".join(f"{p.id}→{p.min_tier.value}" for p in env.protected)
        )
    if env.regulations:
        out.append("regulations: " + ", ".join(r.id for r in env.regulations))
    return out


def build_inventory(env: Envelope, catalog: ActionCatalog) -> list[InventoryRow]:
    """One row per (agent, rule) pair the rule applies to."""
    rows = []
    for agent in env.agents:
        for rule in env.rules:
            if "*" not in rule.agents and agent not in rule.agents:
                continue
            actions = sorted({a for p in rule.actions for a in catalog.expand(p)})
            levels = sorted({catalog.access_level(a) or "?" for a in actions})
            effective = rule.tier
            for level in levels:
                floor = env.defaults.severity_floors.get(level)  # type: ignore[call-overload]
                if floor is not None:
                    effective = effective.at_least(floor)
            eff = effective.value
            if effective is not rule.tier:
                eff += " (some actions raised by severity floors)"
            rows.append(
                InventoryRow(
                    agent=agent,
                    rule_id=rule.id,
                    tier=rule.tier.value,
                    effective_tier=eff if rule.tier is not Tier.DENY else "deny",
                    actions=tuple(rule.actions),
                    action_count=len(actions),
                    access_levels=tuple(levels),
                    resources=rule.resources,
                    conditions=tuple(_conditions(env, rule, agent)),
                )
            )
    return rows
