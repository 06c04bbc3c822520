"""Ledger kinds of access to the governance view: dashboard sign-ins (and refusals and
sign-outs), and every report or evidence export — the auditor is audited. Pure; no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from remit.ledger.kinds.base import (
    IndexRow,
    Json,
    Record,
    _field,
    _mapping,
    _one_of,
    _opt_text,
    _text,
)

ACCESS_ACTIONS = ("sign_in", "sign_in_refused", "sign_out", "report", "evidence")
AccessAction = Literal["sign_in", "sign_in_refused", "sign_out", "report", "evidence"]


@dataclass(frozen=True, slots=True)
class AccessRecord(Record):
    """One access to the governance view: who (`subject`, an identity label, or the key id
    presented for a refused sign-in), what (`action`), through which channel (`via`:
    `dashboard`, `cli`), and `detail` (the period and format of a report, the framework
    and digest of an evidence pack, why a sign-in was refused). Never a secret."""

    KIND: ClassVar[str] = "access"
    action: AccessAction
    subject: str
    via: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None

    def __post_init__(self) -> None:
        _one_of("action", self.action, ACCESS_ACTIONS)
        _text("subject", self.subject)
        _text("via", self.via)
        _mapping("detail", self.detail)
        _opt_text("reason", self.reason)

    def to_data(self) -> Json:
        out: Json = {
            "action": self.action,
            "subject": self.subject,
            "via": self.via,
            "detail": dict(self.detail),
        }
        if self.reason is not None:
            out["reason"] = self.reason
        return out

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> AccessRecord:
        return cls(
            _field(data, "action"),
            _field(data, "subject"),
            _field(data, "via"),
            dict(_mapping("detail", data.get("detail", {}))),
            data.get("reason"),
        )

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        return [IndexRow("access", (idx, self.action, self.subject, ts))]
