"""Ledger kinds of governance around decisions: notifications sent, envelope versions and
their sign-offs, organisational events, identities (API keys) and free notes. Pure; no
I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from remit.domain.canonical import canonical_json, sha256_hex
from remit.domain.clock import ts_text
from remit.ledger.kinds.base import (
    EntryFormatError,
    IndexRow,
    Json,
    Record,
    _aware,
    _field,
    _mapping,
    _one_of,
    _opt_text,
    _text,
    _time,
)


@dataclass(frozen=True, slots=True)
class NotificationRecord(Record):
    """One delivery attempt of a notification on one channel (webhook, e-mail)."""

    KIND: ClassVar[str] = "notification"
    notification_id: str
    channel: str
    attempt: int
    ok: bool
    error: str | None
    final: bool

    def __post_init__(self) -> None:
        _text("notification_id", self.notification_id)
        _text("channel", self.channel)
        _opt_text("error", self.error)

    def to_data(self) -> Json:
        return {
            "notification_id": self.notification_id,
            "channel": self.channel,
            "attempt": self.attempt,
            "ok": self.ok,
            "error": self.error,
            "final": self.final,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> NotificationRecord:
        return cls(
            _field(data, "notification_id"),
            _field(data, "channel"),
            _field(data, "attempt"),
            _field(data, "ok"),
            data.get("error"),
            _field(data, "final"),
        )


# -- governance: sign-offs, organisational events, identities -------------------------------


@dataclass(frozen=True, slots=True)
class SignoffRecord(Record):
    """An envelope sign-off as first seen, and whether it verified then. `signoff` is the
    sign-off exactly as in its file (signer, role, key, time, envelope, signature)."""

    KIND: ClassVar[str] = "signoff"
    signoff: Mapping[str, Any]
    id: str
    valid: bool
    problem: str | None

    def __post_init__(self) -> None:
        _mapping("signoff", self.signoff)
        _text("id", self.id)
        _opt_text("problem", self.problem)
        if {"id", "valid", "problem"} & set(self.signoff):
            raise EntryFormatError("a sign-off document cannot carry id, valid or problem")

    def to_data(self) -> Json:
        return {**self.signoff, "id": self.id, "valid": self.valid, "problem": self.problem}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> SignoffRecord:
        doc = {
            k: v for k, v in _mapping("data", data).items() if k not in ("id", "valid", "problem")
        }
        return cls(doc, _field(data, "id"), bool(_field(data, "valid")), data.get("problem"))

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        return [IndexRow("signoffs", (self.id, idx))]


@dataclass(frozen=True, slots=True)
class EnvelopeVersionRecord(Record):
    """An envelope version as the service first loaded it: its canonical document (the
    parsed YAML, as its digest covers it), so any two recorded versions can be compared
    later. The digest must be the document's: a record that does not match is refused."""

    KIND: ClassVar[str] = "envelope_version"
    digest: str
    document: Mapping[str, Any]

    def __post_init__(self) -> None:
        _text("digest", self.digest)
        _mapping("document", self.document)
        try:
            actual = "sha256:" + sha256_hex(canonical_json(self.document))
        except TypeError as exc:
            raise EntryFormatError(f"document is not canonical JSON: {exc}") from None
        if actual != self.digest:
            raise EntryFormatError(f"document digest is {actual}, not {self.digest}")

    @property
    def name(self) -> str:
        return str((self.document.get("metadata") or {}).get("name", "?"))

    @property
    def version(self) -> str:
        return str((self.document.get("metadata") or {}).get("version", "?"))

    def to_data(self) -> Json:
        return {"digest": self.digest, "document": dict(self.document)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> EnvelopeVersionRecord:
        return cls(_field(data, "digest"), _mapping("document", _field(data, "document")))

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        return [IndexRow("envelope_versions", (self.digest, idx, self.name, self.version, ts))]


@dataclass(frozen=True, slots=True)
class OrgEventRecord(Record):
    """An organisational event (acquisition, reorganisation…): autonomy is held until the
    envelope is signed off again after it. `at` is when it happened, which may be before
    it was recorded."""

    KIND: ClassVar[str] = "event"
    event_kind: str
    at: datetime
    note: str

    def __post_init__(self) -> None:
        _text("kind", self.event_kind)
        _aware("at", self.at)
        if not isinstance(self.note, str):
            raise EntryFormatError(f"note must be a string, got {self.note!r}")

    def to_data(self) -> Json:
        return {"kind": self.event_kind, "at": ts_text(self.at), "note": self.note}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> OrgEventRecord:
        return cls(str(_field(data, "kind")), _time(data, "at"), str(data.get("note", "")))

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        return [IndexRow("events", (idx, self.event_kind, ts_text(self.at), self.note))]


@dataclass(frozen=True, slots=True)
class IdentityRecord(Record):
    """An API key created (with its name, role and bound agent) or revoked. The secret is
    never recorded, nor its hash."""

    KIND: ClassVar[str] = "identity"
    action: Literal["key_created", "key_revoked"]
    key_id: str
    name: str | None = None
    role: str | None = None
    agent: str | None = None

    def __post_init__(self) -> None:
        _one_of("action", self.action, ("key_created", "key_revoked"))
        _text("key_id", self.key_id)
        if self.action == "key_created":
            _text("name", self.name)
            _text("role", self.role)
            _opt_text("agent", self.agent)

    def to_data(self) -> Json:
        if self.action == "key_revoked":
            return {"action": self.action, "key_id": self.key_id}
        return {
            "action": self.action,
            "key_id": self.key_id,
            "name": self.name,
            "role": self.role,
            "agent": self.agent,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> IdentityRecord:
        return cls(
            _field(data, "action"),
            _field(data, "key_id"),
            data.get("name"),
            data.get("role"),
            data.get("agent"),
        )


@dataclass(frozen=True, slots=True)
class NoteRecord(Record):
    """A free-form annotation (an operator's note, a test's filler): recorded and
    verified like every entry, indexed nowhere, trusted by no decision."""

    KIND: ClassVar[str] = "note"
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _mapping("note", self.fields)

    def to_data(self) -> Json:
        return dict(self.fields)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> NoteRecord:
        return cls(dict(_mapping("data", data)))
