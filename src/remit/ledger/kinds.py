"""Every kind of entry the ledger holds, one frozen typed class each: what it records, its
JSON form (`to_data`, the entry's `data`), its parsing from stored JSON (`from_data`), and
the index rows a store derives from it (`index_rows`).

A constructor refuses invalid state (an empty id, a naive time, an unknown status), so
an invalid record cannot exist. Parsing reads entries written by every earlier release:
the JSON form of each kind is exactly what was written before these classes existed.
`docs/ledger.md` has a table per kind for auditors who read raw exports.

Pure: no I/O. Building the entry around a record (kind, time, actor, canonical bytes) is
`remit.ledger.records`; storing it is the stores'.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar, cast

from remit.domain.clock import parse_ts, ts_text
from remit.domain.tiers import Tier

Json = dict[str, Any]
R = TypeVar("R", bound="Record")


class EntryFormatError(ValueError):
    """Stored JSON that is not a valid record of its kind (names the field)."""


@dataclass(frozen=True, slots=True)
class IndexRow:
    """A row of a derived index table (see `schema.INDEX_TABLES`)."""

    table: str
    values: tuple[object, ...]


class Record(ABC):
    """One entry kind. Subclasses are frozen dataclasses with a `KIND`."""

    __slots__ = ()
    KIND: ClassVar[str]

    @abstractmethod
    def to_data(self) -> Json:
        """The entry's `data` object, as it is written."""

    @classmethod
    @abstractmethod
    def from_data(cls: type[R], data: Mapping[str, Any]) -> R:
        """The record from an entry's `data`; EntryFormatError names what is wrong."""

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        """The rows a store keeps for this entry at index `idx` (none by default)."""
        return []


# -- field checks -------------------------------------------------------------------------


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise EntryFormatError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _opt_text(name: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise EntryFormatError(f"{name} must be a string or null, got {value!r}")
    return value


def _aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise EntryFormatError(f"{name} must be a timezone-aware time, got {value!r}")
    return value


def _one_of(name: str, value: object, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise EntryFormatError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return cast(str, value)


def _field(data: Mapping[str, Any], name: str) -> Any:
    try:
        return data[name]
    except KeyError:
        raise EntryFormatError(f"missing field {name!r}") from None
    except TypeError:
        raise EntryFormatError(f"data must be an object, got {type(data).__name__}") from None


def _time(data: Mapping[str, Any], name: str) -> datetime:
    value = _field(data, name)
    try:
        return parse_ts(str(value))
    except ValueError as exc:
        raise EntryFormatError(f"{name}: {exc}") from None


def _mapping(name: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise EntryFormatError(f"{name} must be an object, got {type(value).__name__}")
    return value


def _strings(name: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise EntryFormatError(f"{name} must be a list of strings, got {value!r}")
    return tuple(value)


_TIERS = tuple(t.value for t in Tier)

# -- decisions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApprovalTerms:
    """What a held decision's approval is bound to: the request digest and the deadline."""

    request_digest: str
    expires_at: datetime

    def __post_init__(self) -> None:
        _text("approval.request_digest", self.request_digest)
        _aware("approval.expires_at", self.expires_at)

    def to_data(self) -> Json:
        return {"request_digest": self.request_digest, "expires_at": ts_text(self.expires_at)}


@dataclass(frozen=True, slots=True)
class GrantTerms:
    """What credentials for an allowed decision may be, fixed by the signed envelope
    version that decided: the role to assume, the credential lifetime, and how long after
    the decision (or its approval) they may be asked for. Grants read these, never the
    envelope file as it is later."""

    role_arn: str
    duration_seconds: int
    window_seconds: int
    allow_wildcards: bool = False

    def __post_init__(self) -> None:
        _text("grant_terms.role_arn", self.role_arn)
        if not isinstance(self.allow_wildcards, bool):
            raise EntryFormatError("grant_terms.allow_wildcards must be true or false")
        for name in ("duration_seconds", "window_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise EntryFormatError(f"grant_terms.{name} must be a positive integer")

    def to_data(self) -> Json:
        out: Json = {
            "role_arn": self.role_arn,
            "duration_seconds": self.duration_seconds,
            "window_seconds": self.window_seconds,
        }
        if self.allow_wildcards:
            out["allow_wildcards"] = True
        return out

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> GrantTerms:
        t = _mapping("grant_terms", data)
        return cls(
            _field(t, "role_arn"),
            _field(t, "duration_seconds"),
            _field(t, "window_seconds"),
            t.get("allow_wildcards", False),
        )


@dataclass(frozen=True, slots=True)
class DecisionRecord(Record):
    """A decision and the request it answered, recorded before the answer is given.

    `decision` is the decision's JSON (`Decision.to_dict()`: tier, reasons, rules,
    envelope, time); `request` is the request's canonical JSON (resources, reasoning,
    provenance, parameters). Both are kept exactly as decided; the properties below are
    the typed views every reader uses. `grant_terms` (decisions that may run, recorded
    since the grant-terms change) fixes what credentials for it may be."""

    KIND: ClassVar[str] = "decision"
    decision: Mapping[str, Any]
    request: Mapping[str, Any]
    approval: ApprovalTerms | None = None
    grant_terms: GrantTerms | None = None

    def __post_init__(self) -> None:
        d = _mapping("decision", self.decision)
        _mapping("request", self.request)
        _text("decision.id", d.get("id"))
        _text("decision.agent", d.get("agent"))
        _text("decision.action", d.get("action"))
        tier = _one_of("decision.tier", d.get("tier"), _TIERS)
        _strings("decision.rules", d.get("rules"))
        if (tier == Tier.APPROVE) != (self.approval is not None):
            raise EntryFormatError(
                "a decision held for approval records its approval terms, and only it"
            )
        if tier == Tier.DENY and self.grant_terms is not None:
            raise EntryFormatError("a denied decision has no grant terms")

    @property
    def id(self) -> str:
        return cast(str, self.decision["id"])

    @property
    def tier(self) -> Tier:
        return Tier(self.decision["tier"])

    @property
    def agent(self) -> str:
        return cast(str, self.decision["agent"])

    @property
    def action(self) -> str:
        return cast(str, self.decision["action"])

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(self.decision["rules"])

    @property
    def access_level(self) -> str | None:
        return cast("str | None", self.decision.get("access_level"))

    @property
    def decided_at(self) -> datetime:
        return parse_ts(str(self.decision["decided_at"]))

    @property
    def origin(self) -> str:
        return cast(str, self.request.get("origin") or "ai")

    @property
    def on_behalf_of(self) -> str | None:
        return cast("str | None", self.request.get("on_behalf_of"))

    @property
    def resource_arns(self) -> list[str]:
        return [str(r["arn"]) for r in self.request.get("resources") or ()]

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.request.get("parameters") or {})

    @property
    def workflow(self) -> Mapping[str, Any]:
        return cast(Mapping[str, Any], (self.request.get("provenance") or {}).get("workflow") or {})

    def to_data(self) -> Json:
        out: Json = {"decision": self.decision, "request": self.request}
        if self.approval is not None:
            out["approval"] = self.approval.to_data()
        if self.grant_terms is not None:
            out["grant_terms"] = self.grant_terms.to_data()
        return out

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> DecisionRecord:
        terms = data.get("approval") if isinstance(data, Mapping) else None
        approval = None
        if terms is not None:
            t = _mapping("approval", terms)
            approval = ApprovalTerms(
                _text("approval.request_digest", _field(t, "request_digest")),
                _time(t, "expires_at"),
            )
        terms_data = data.get("grant_terms")
        grant_terms = None if terms_data is None else GrantTerms.from_data(terms_data)
        return cls(_field(data, "decision"), _field(data, "request"), approval, grant_terms)

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        d = self.decision
        rows = [
            IndexRow("decisions", (d["id"], idx, d["agent"], d["action"], d["tier"], ts, actor))
        ]
        tier = d["tier"]
        if tier in ("autonomous", "notify"):
            rows += [IndexRow("window_actions", (d["agent"], r, ts, idx)) for r in d["rules"]]
        elif tier == "approve":
            assert self.approval is not None
            rows.append(
                IndexRow(
                    "approvals",
                    (
                        d["id"],
                        idx,
                        actor,
                        self.request.get("on_behalf_of"),
                        self.approval.request_digest,
                        ts_text(self.approval.expires_at),
                        d["agent"],
                    ),
                )
            )
        return rows


ApprovalResult = Literal["approved", "rejected", "expired"]


@dataclass(frozen=True, slots=True)
class ApprovalResolution(Record):
    """A held decision resolved: approved or rejected by a person, or expired."""

    KIND: ClassVar[str] = "approval"
    decision_id: str
    state: ApprovalResult
    comment: str
    request_digest: str
    agent: str
    action: str
    rules: tuple[str, ...]

    def __post_init__(self) -> None:
        _text("decision_id", self.decision_id)
        _one_of("state", self.state, ("approved", "rejected", "expired"))
        _text("request_digest", self.request_digest)
        _text("agent", self.agent)
        _text("action", self.action)
        _strings("rules", self.rules)
        if not isinstance(self.comment, str):
            raise EntryFormatError(f"comment must be a string, got {self.comment!r}")

    def to_data(self) -> Json:
        return {
            "decision_id": self.decision_id,
            "state": self.state,
            "comment": self.comment,
            "request_digest": self.request_digest,
            "agent": self.agent,
            "action": self.action,
            "rules": list(self.rules),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ApprovalResolution:
        return cls(
            _field(data, "decision_id"),
            _field(data, "state"),
            _field(data, "comment") or "",
            _field(data, "request_digest"),
            _field(data, "agent"),
            _field(data, "action"),
            _strings("rules", _field(data, "rules")),
        )

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        rows = [
            IndexRow(
                "approval_actions", (self.decision_id, idx, self.state, actor, self.comment, ts)
            )
        ]
        if self.state == "approved":
            rows += [IndexRow("window_actions", (self.agent, r, ts, idx)) for r in self.rules]
        return rows


# -- grants and revocations ---------------------------------------------------------------


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


def _grant(data: Mapping[str, Any]) -> Record:
    if _field(data, "status") == "issued":
        return GrantRecord.from_data(data)
    return GrantRefusalRecord.from_data(data)


PARSERS: Mapping[str, Callable[[Mapping[str, Any]], Record]] = {
    "decision": DecisionRecord.from_data,
    "approval": ApprovalResolution.from_data,
    "grant": _grant,
    "revocation": RevocationRecord.from_data,
    "outcome": OutcomeRecord.from_data,
    "notification": NotificationRecord.from_data,
    "signoff": SignoffRecord.from_data,
    "event": OrgEventRecord.from_data,
    "identity": IdentityRecord.from_data,
    "note": NoteRecord.from_data,
    "preview": PreviewRecord.from_data,
    "grant_claim": GrantClaimRecord.from_data,
}
"""Entry kind → the parser of its `data`. Every kind the ledger holds is here."""


def parse_record(kind: str, data: Mapping[str, Any]) -> Record:
    """The typed record of an entry of `kind`; EntryFormatError for an unknown kind or
    invalid data."""
    parser = PARSERS.get(kind)
    if parser is None:
        raise EntryFormatError(f"unknown entry kind {kind!r}")
    try:
        return parser(data)
    except EntryFormatError as exc:
        raise EntryFormatError(f"{kind}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise EntryFormatError(f"{kind}: {exc}") from None
