"""Ledger kinds of credentials and what followed: grants and refusals, claims, revocations,
credential previews and reported outcomes. Pure; no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

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
    _strings,
    _text,
    _time,
)


@dataclass(frozen=True, slots=True)
class GrantRecord(Record):
    """Credentials handed to the agent for one decision. The credentials themselves are
    never recorded: what they can do (session policy, effective permissions), whose they
    are (role, session, SourceIdentity = the decision id), for how long, and how to undo
    the change (the rollback plan snapshotted before it)."""

    KIND: ClassVar[str] = "grant"
    decision_id: str
    agent: str
    role_arn: str
    session_name: str
    source_identity: str
    tags: Mapping[str, str]
    duration_seconds: int
    revoke_at: datetime
    session_policy: Mapping[str, Any]
    effective_permissions: tuple[Mapping[str, Any], ...]
    effective_summary: str
    backend: str
    rollback: Mapping[str, Any]
    expires_at: datetime
    assumed_role_arn: str
    access_key_id: str

    def __post_init__(self) -> None:
        for name in ("decision_id", "agent", "role_arn", "session_name", "source_identity"):
            _text(name, getattr(self, name))
        _aware("revoke_at", self.revoke_at)
        _aware("expires_at", self.expires_at)
        if not isinstance(self.duration_seconds, int) or self.duration_seconds <= 0:
            raise EntryFormatError(
                f"duration_seconds must be positive, got {self.duration_seconds}"
            )

    def to_data(self) -> Json:
        return {
            "status": "issued",
            "decision_id": self.decision_id,
            "agent": self.agent,
            "role_arn": self.role_arn,
            "session_name": self.session_name,
            "source_identity": self.source_identity,
            "tags": dict(self.tags),
            "duration_seconds": self.duration_seconds,
            "revoke_at": ts_text(self.revoke_at),
            "session_policy": self.session_policy,
            "effective_permissions": list(self.effective_permissions),
            "effective_summary": self.effective_summary,
            "backend": self.backend,
            "rollback": self.rollback,
            "expires_at": ts_text(self.expires_at),
            "assumed_role_arn": self.assumed_role_arn,
            "access_key_id": self.access_key_id,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> GrantRecord:
        return cls(
            _field(data, "decision_id"),
            _field(data, "agent"),
            _field(data, "role_arn"),
            _field(data, "session_name"),
            _field(data, "source_identity"),
            _mapping("tags", _field(data, "tags")),
            _field(data, "duration_seconds"),
            _time(data, "revoke_at"),
            _mapping("session_policy", _field(data, "session_policy")),
            tuple(_field(data, "effective_permissions")),
            _field(data, "effective_summary"),
            _field(data, "backend"),
            _mapping("rollback", _field(data, "rollback")),
            _time(data, "expires_at"),
            _field(data, "assumed_role_arn"),
            _field(data, "access_key_id"),
        )

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        return [
            IndexRow(
                "grants",
                (
                    self.decision_id,
                    idx,
                    self.agent,
                    self.role_arn,
                    ts_text(self.expires_at),
                    ts_text(self.revoke_at),
                    ts,
                ),
            )
        ]


@dataclass(frozen=True, slots=True)
class GrantRefusalRecord(Record):
    """A grant that was asked for and not given (`refused`: Remit said no; `failed`: the
    cloud did), with the reason the caller was told. Entries before the one-error-model
    release carry the HTTP status (`http_status`); later ones the error kind (`error`)."""

    KIND: ClassVar[str] = "grant"
    decision_id: str
    status: Literal["refused", "failed"]
    reason: str
    error: str | None = None
    http_status: int | None = None

    def __post_init__(self) -> None:
        _text("decision_id", self.decision_id)
        _one_of("status", self.status, ("refused", "failed"))
        _text("reason", self.reason)

    def to_data(self) -> Json:
        out: Json = {"status": self.status, "decision_id": self.decision_id, "reason": self.reason}
        if self.error is not None:
            out["error"] = self.error
        if self.http_status is not None:
            out["http_status"] = self.http_status
        return out

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> GrantRefusalRecord:
        return cls(
            _field(data, "decision_id"),
            _field(data, "status"),
            _field(data, "reason"),
            _opt_text("error", data.get("error")),
            data.get("http_status"),
        )


@dataclass(frozen=True, slots=True)
class GrantClaimRecord(Record):
    """A replica's claim to issue credentials for a decision, recorded before it asks the
    cloud (so concurrent asks, on any replica, never mint a second session under the same
    SourceIdentity), or its release when the cloud refused. A claim ends with the grant,
    its release, or — if its replica died — after `CLAIM_SECONDS`."""

    KIND: ClassVar[str] = "grant_claim"
    decision_id: str
    released: bool = False

    def __post_init__(self) -> None:
        _text("decision_id", self.decision_id)
        if not isinstance(self.released, bool):
            raise EntryFormatError("released must be true or false")

    def to_data(self) -> Json:
        return {"decision_id": self.decision_id, "released": self.released}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> GrantClaimRecord:
        return cls(_field(data, "decision_id"), _field(data, "released"))

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        return [IndexRow("grant_claims", (self.decision_id, idx, self.released, ts))]


CLAIM_SECONDS = 120
"""How long an unreleased grant claim holds off other asks for the same decision."""


@dataclass(frozen=True, slots=True)
class RevocationRecord(Record):
    """A decision's session denied from now on (`applied`: the cloud took the deny list)."""

    KIND: ClassVar[str] = "revocation"
    decision_id: str
    reason: str
    applied: bool
    error: str | None
    role_arn: str
    deny_list_size: int

    def __post_init__(self) -> None:
        _text("decision_id", self.decision_id)
        _text("reason", self.reason)
        _text("role_arn", self.role_arn)
        _opt_text("error", self.error)
        if not isinstance(self.applied, bool):
            raise EntryFormatError(f"applied must be true or false, got {self.applied!r}")

    def to_data(self) -> Json:
        return {
            "decision_id": self.decision_id,
            "reason": self.reason,
            "applied": self.applied,
            "error": self.error,
            "role_arn": self.role_arn,
            "deny_list_size": self.deny_list_size,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RevocationRecord:
        return cls(
            _field(data, "decision_id"),
            _field(data, "reason"),
            _field(data, "applied"),
            data.get("error"),
            _field(data, "role_arn"),
            _field(data, "deny_list_size"),
        )

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        return [IndexRow("revocations", (self.decision_id, idx, self.reason, self.applied, ts))]


@dataclass(frozen=True, slots=True)
class PreviewRecord(Record):
    """What credentials for a decision would be able to do, computed once — when an
    approver first looks — and kept: the role, session policy, lifetime, effective
    permissions and rollback status they were shown, or why none can be granted."""

    KIND: ClassVar[str] = "preview"
    decision_id: str
    preview: Mapping[str, Any]

    def __post_init__(self) -> None:
        _text("decision_id", self.decision_id)
        if not isinstance(_mapping("preview", self.preview).get("grantable"), bool):
            raise EntryFormatError("preview.grantable must be true or false")

    def to_data(self) -> Json:
        return {"decision_id": self.decision_id, "preview": self.preview}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> PreviewRecord:
        return cls(_field(data, "decision_id"), _mapping("preview", _field(data, "preview")))

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        return [IndexRow("previews", (self.decision_id, idx))]


# -- outcomes, notifications ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutcomeRecord(Record):
    """What happened when the agent acted (or tried to), as the agent reported it."""

    KIND: ClassVar[str] = "outcome"
    decision_id: str
    status: str
    error: str | None
    cloud_request_ids: tuple[str, ...]
    decision_status: str
    ran_without_allow: bool

    def __post_init__(self) -> None:
        _text("decision_id", self.decision_id)
        _text("status", self.status)
        _text("decision_status", self.decision_status)
        _opt_text("error", self.error)
        _strings("cloud_request_ids", self.cloud_request_ids)

    def to_data(self) -> Json:
        return {
            "decision_id": self.decision_id,
            "status": self.status,
            "error": self.error,
            "cloud_request_ids": list(self.cloud_request_ids),
            "decision_status": self.decision_status,
            "ran_without_allow": self.ran_without_allow,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> OutcomeRecord:
        return cls(
            _field(data, "decision_id"),
            _field(data, "status"),
            data.get("error"),
            _strings("cloud_request_ids", _field(data, "cloud_request_ids")),
            _field(data, "decision_status"),
            bool(_field(data, "ran_without_allow")),
        )

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        return [IndexRow("outcomes", (self.decision_id, idx, self.status, ts))]
