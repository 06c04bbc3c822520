"""What changed between two envelopes, in plain words: metadata and defaults, rules
added, removed or changed (tier, actions, resources, conditions), and per agent the IAM
actions it gains or loses without a person (autonomous or notify). Pure: two envelopes
and the action catalog in, a list of changes out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from remit.catalog import ActionCatalog
from remit.domain.envelope import Envelope
from remit.envelope.inventory import InventoryRow, build_inventory

UNATTENDED = ("autonomous", "notify")


@dataclass(frozen=True)
class AgentShift:
    """An agent's IAM actions allowed without a person, before and after."""

    agent: str
    gains: tuple[str, ...]
    loses: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "gains": list(self.gains), "loses": list(self.loses)}


@dataclass(frozen=True)
class EnvelopeDiff:
    changes: list[str] = field(default_factory=list)
    agents: list[AgentShift] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes

    def to_dict(self) -> dict[str, Any]:
        return {"changes": self.changes, "agents": [a.to_dict() for a in self.agents]}


def _dump(value: Any) -> Any:
    """JSON-like data of a model, or of a mapping or sequence of models."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    return value


def _unattended(rows: list[InventoryRow], catalog: ActionCatalog) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in rows:
        if r.effective_tier.split(" ", 1)[0] in UNATTENDED:  # "notify (some actions …)"
            acts = out.setdefault(r.agent, set())
            for pattern in r.actions:
                acts.update(catalog.expand(pattern) or (pattern,))
    return out


def diff_envelopes(old: Envelope, new: Envelope, catalog: ActionCatalog) -> EnvelopeDiff:
    changes: list[str] = []
    om, nm = _dump(old.metadata), _dump(new.metadata)
    for key in sorted(set(om) | set(nm)):
        if om.get(key) != nm.get(key):
            changes.append(f"metadata.{key}: {om.get(key)!r} → {nm.get(key)!r}")
    od, nd = _dump(old.defaults), _dump(new.defaults)
    for key in sorted(set(od) | set(nd)):
        if od.get(key) != nd.get(key):
            changes.append(f"defaults.{key}: {od.get(key)!r} → {nd.get(key)!r}")
    for part in ("agents", "workflows"):
        o, n = _dump(getattr(old, part)), _dump(getattr(new, part))
        for k in sorted(set(o) - set(n)):
            changes.append(f"{part[:-1]} {k} removed")
        for k in sorted(set(n) - set(o)):
            changes.append(f"{part[:-1]} {k} added")
        for k in sorted(set(o) & set(n)):
            if o[k] != n[k]:
                changes.append(f"{part[:-1]} {k} changed: {o[k]!r} → {n[k]!r}")
    orules = {r.id: _dump(r) for r in old.rules}
    nrules = {r.id: _dump(r) for r in new.rules}
    for rid in [r.id for r in old.rules if r.id not in nrules]:
        changes.append(f"rule {rid} removed (was {orules[rid].get('tier')})")
    for rid in [r.id for r in new.rules if r.id not in orules]:
        r = nrules[rid]
        changes.append(
            f"rule {rid} added: {r.get('tier')} for {', '.join(r.get('agents', []))} "
            f"on {', '.join(r.get('actions', []))}"
        )
    for rid in [r.id for r in new.rules if r.id in orules]:
        o, n = orules[rid], nrules[rid]
        for key in sorted(set(o) | set(n)):
            if o.get(key) != n.get(key):
                changes.append(f"rule {rid}: {key} {o.get(key)!r} → {n.get(key)!r}")
    for part in ("protected", "regulations", "fallbacks", "inventory"):
        if _dump(getattr(old, part)) != _dump(getattr(new, part)):
            changes.append(f"{part} changed")
    before = _unattended(build_inventory(old, catalog), catalog)
    after = _unattended(build_inventory(new, catalog), catalog)
    shifts = []
    for agent in sorted(set(before) | set(after)):
        gains = tuple(sorted(after.get(agent, set()) - before.get(agent, set())))
        loses = tuple(sorted(before.get(agent, set()) - after.get(agent, set())))
        if gains or loses:
            shifts.append(AgentShift(agent, gains, loses))
    return EnvelopeDiff(changes, shifts)
