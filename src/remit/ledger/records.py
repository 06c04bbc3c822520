"""Ledger entries as bytes: how an entry is built (canonical JSON of kind, time, actor and
data) and which index rows a store derives from it.

Every decision, outcome, organisational event, sign-off and approval becomes one entry.
The leaf of the Merkle tree is exactly these bytes. Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from remit.domain.canonical import canonical_json

ENTRY_VERSION = 1
KINDS = frozenset(
    {"decision", "outcome", "event", "signoff", "approval", "grant", "revocation", "note"}
)


def ts_text(t: datetime) -> str:
    """Fixed-width UTC time text that sorts lexically: 2026-11-21T10:00:00.000000Z."""
    if t.tzinfo is None:
        raise ValueError("ledger times must be timezone-aware")
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry about to be appended: its kind, time and canonical bytes."""

    kind: str
    ts: str
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as recorded: its index in the log, kind, time and exact bytes."""

    index: int
    kind: str
    ts: str
    body: bytes

    def data(self) -> dict[str, Any]:
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value


def make_entry(kind: str, at: datetime, actor: str, data: dict[str, Any]) -> NewEntry:
    """Build the canonical bytes of one entry."""
    if kind not in KINDS:
        raise ValueError(f"unknown ledger entry kind {kind!r}")
    ts = ts_text(at)
    body = canonical_json(
        {"v": ENTRY_VERSION, "kind": kind, "ts": ts, "actor": actor, "data": data}
    )
    return NewEntry(kind, ts, body)


@dataclass(frozen=True, slots=True)
class DecisionRow:
    id: str
    agent: str
    action: str
    tier: str
    window_rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EventRow:
    kind: str
    at: str
    note: str


@dataclass(frozen=True, slots=True)
class SignoffRow:
    id: str


def derive(entry: NewEntry) -> DecisionRow | EventRow | SignoffRow | None:
    """The index row a store keeps for an entry (rebuildable from the entries alone)."""
    if entry.kind not in ("decision", "event", "signoff"):
        return None
    data = json.loads(entry.body)["data"]
    if entry.kind == "signoff":
        return SignoffRow(str(data["id"]))
    if entry.kind == "decision":
        d = data["decision"]
        runs = d["tier"] in ("autonomous", "notify")
        return DecisionRow(
            d["id"], d["agent"], d["action"], d["tier"], tuple(d["rules"]) if runs else ()
        )
    return EventRow(str(data["kind"]), ts_text(_parse_iso(data["at"])), str(data.get("note", "")))


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
