"""Ledger entries as bytes: how an entry is built (canonical JSON of kind, time, actor and
data) and which index rows a store derives from it.

Every decision, outcome, organisational event, sign-off and approval becomes one entry.
The leaf of the Merkle tree is exactly these bytes. Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from remit.domain.canonical import canonical_json

ENTRY_VERSION = 1
KINDS = frozenset(
    {
        "decision",
        "outcome",
        "event",
        "signoff",
        "approval",
        "grant",
        "revocation",
        "note",
        "notification",
        "identity",
    }
)


def ts_text(t: datetime) -> str:
    """Fixed-width UTC time text that sorts lexically: 2026-11-21T10:00:00.000000Z."""
    if t.tzinfo is None:
        raise ValueError("ledger times must be timezone-aware")
    u = t.astimezone(UTC)
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond:06d}Z"
    )


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.removesuffix("Z")).replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry about to be appended: its kind, time and canonical bytes (and, when it was
    just built, the document those bytes encode, so indexing need not parse them again)."""

    kind: str
    ts: str
    body: bytes
    doc: dict[str, Any] | None = field(default=None, compare=False, repr=False)


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
    doc = {"v": ENTRY_VERSION, "kind": kind, "ts": ts, "actor": actor, "data": data}
    return NewEntry(kind, ts, canonical_json(doc), doc)


@dataclass(frozen=True, slots=True)
class IndexRow:
    """A row of a derived index table (see `schema.INDEX_TABLES`)."""

    table: str
    values: tuple[object, ...]


def derive(entry: NewEntry, idx: int) -> list[IndexRow]:
    """The index rows a store keeps for an entry. They are rebuildable from the entries
    alone, so the log stays the one source of truth."""
    if entry.kind not in (
        "decision",
        "event",
        "signoff",
        "approval",
        "outcome",
        "grant",
        "revocation",
    ):
        return []
    body = entry.doc if entry.doc is not None else json.loads(entry.body)
    data = body["data"]
    ts = entry.ts
    if entry.kind == "decision":
        d, req = data["decision"], data["request"]
        rows = [
            IndexRow(
                "decisions", (d["id"], idx, d["agent"], d["action"], d["tier"], ts, body["actor"])
            )
        ]
        if d["tier"] in ("autonomous", "notify"):
            rows += [IndexRow("window_actions", (d["agent"], r, ts, idx)) for r in d["rules"]]
        elif d["tier"] == "approve":
            a = data["approval"]
            rows.append(
                IndexRow(
                    "approvals",
                    (
                        d["id"],
                        idx,
                        body["actor"],
                        req.get("on_behalf_of"),
                        a["request_digest"],
                        a["expires_at"],
                        d["agent"],
                    ),
                )
            )
        return rows
    if entry.kind == "event":
        at = ts_text(_parse_iso(data["at"]))
        return [IndexRow("events", (idx, str(data["kind"]), at, str(data.get("note", ""))))]
    if entry.kind == "signoff":
        return [IndexRow("signoffs", (str(data["id"]), idx))]
    if entry.kind == "approval":
        rows = [
            IndexRow(
                "approval_actions",
                (
                    data["decision_id"],
                    idx,
                    data["state"],
                    body["actor"],
                    data.get("comment") or "",
                    ts,
                ),
            )
        ]
        if data["state"] == "approved":
            rows += [IndexRow("window_actions", (data["agent"], r, ts, idx)) for r in data["rules"]]
        return rows
    if entry.kind == "grant":
        if data["status"] != "issued":
            return []
        return [
            IndexRow(
                "grants",
                (
                    data["decision_id"],
                    idx,
                    data["agent"],
                    data["role_arn"],
                    data["expires_at"],
                    data["revoke_at"],
                    ts,
                ),
            )
        ]
    if entry.kind == "revocation":
        return [
            IndexRow(
                "revocations",
                (data["decision_id"], idx, data["reason"], bool(data["applied"]), ts),
            )
        ]
    return [IndexRow("outcomes", (data["decision_id"], idx, data["status"], ts))]


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
