"""The change review (T6), pure: what is new in a period against everything recorded
before it — agents, model versions, prompt hashes, actions and services first used,
workflows and steps, fallback rules used, effective permissions first granted, envelope
versions that decided, and who signed envelopes off in the period.

Fed the ledger's decision, grant and sign-off records in index order; each (category,
agent, value) is new the first time it appears, and reported when that is in the
period.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from remit.domain.clock import parse_ts, ts_text
from remit.ledger.kinds import DecisionRecord, GrantRecord, Record, SignoffRecord
from remit.ledger.records import Recorded

CHANGE_KINDS = frozenset({"decision", "grant", "signoff"})
CATEGORIES = (
    "agent", "model", "prompt", "tools", "action", "service", "workflow", "step",
    "fallback_rule", "permission", "envelope", "signoff",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Change:
    """Something first seen in the period: what, for which agent, where and when."""

    category: str
    agent: str
    value: str
    index: int
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "agent": self.agent,
            "value": self.value,
            "ledger_index": self.index,
            "at": ts_text(self.at),
        }


@dataclass
class ChangeReport:
    since: datetime
    until: datetime
    changes: list[Change] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(CATEGORIES, 0)
        for c in self.changes:
            out[c.category] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": ts_text(self.since),
            "until": ts_text(self.until),
            "counts": self.counts(),
            "changes": [c.to_dict() for c in self.changes],
        }


def _features(d: DecisionRecord) -> list[tuple[str, str]]:
    prov = d.request.get("provenance") or {}
    model = prov.get("model") or {}
    wf = prov.get("workflow") or {}
    env = d.decision.get("envelope") or {}
    out = [("agent", d.agent), ("action", d.action), ("service", d.action.split(":", 1)[0])]
    if model:
        out.append(("model", f"{model.get('name')}@{model.get('version')}"))
    if prov.get("prompt_sha256"):
        out.append(("prompt", str(prov["prompt_sha256"])))
    if prov.get("tools_sha256"):
        out.append(("tools", str(prov["tools_sha256"])))
    if wf.get("name"):
        out.append(("workflow", str(wf["name"])))
        if wf.get("step"):
            out.append(("step", f"{wf['name']}/{wf['step']}"))
    if d.decision.get("fallback_rule"):
        out.append(("fallback_rule", str(d.decision["fallback_rule"])))
    if env:
        out.append(("envelope", f"{env.get('name')} v{env.get('version')} {env.get('digest')}"))
    return out


def changes(history: Iterable[Recorded[Record]], since: datetime, until: datetime) -> ChangeReport:
    """What first appeared in [since, until) (by entry time), in ledger order."""
    report = ChangeReport(since, until)
    seen: set[tuple[str, str, str]] = set()
    for rec in history:
        at = parse_ts(rec.ts)
        if at >= until:
            break
        r = rec.record
        found: list[tuple[str, str, str]] = []
        if isinstance(r, DecisionRecord):
            found = [(c, r.agent, v) for c, v in _features(r)]
        elif isinstance(r, GrantRecord):
            found = [
                ("permission", r.agent, json.dumps(dict(p), sort_keys=True))
                for p in r.effective_permissions
            ]
        elif isinstance(r, SignoffRecord) and since <= at:
            env = r.signoff.get("envelope") or {}
            who = f"{r.signoff.get('signer')} ({r.signoff.get('role')})"
            what = f"{env.get('name')} v{env.get('version')} signed by {who}"
            report.changes.append(Change("signoff", "", what, rec.index, at))
            continue
        for key in found:
            if key in seen:
                continue
            seen.add(key)
            if at >= since:
                report.changes.append(Change(key[0], key[1], key[2], rec.index, at))
    return report


def first_unreviewed(
    history: Iterable[Recorded[Record]], reviewed_until: datetime | None
) -> Change | None:
    """The first change recorded at or after `reviewed_until` (the end of the last
    signed-off change review; None: from the start), or None."""
    start = reviewed_until or datetime(1970, 1, 1, tzinfo=UTC)
    report = changes(history, start, datetime.max.replace(tzinfo=UTC))
    kept = [c for c in report.changes if c.category != "signoff"]
    return kept[0] if kept else None
