"""Ledger kinds of a decision and its approval: the decision (with the approval and grant
terms fixed when it was made) and the approval's resolution. Pure; no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, cast

from remit.domain.clock import parse_ts, ts_text
from remit.domain.tiers import Tier
from remit.ledger.kinds.base import (
    _TIERS,
    EntryFormatError,
    IndexRow,
    Json,
    Record,
    _aware,
    _field,
    _mapping,
    _one_of,
    _strings,
    _text,
    _time,
)


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
