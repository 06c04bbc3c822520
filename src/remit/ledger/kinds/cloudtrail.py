"""Ledger kind of a CloudTrail reconciliation run: which trail and ledger it read (their
digests), the window, the AI principals, a count per class and every finding, so each
finding is tamper-evident and can be proven. Pure; no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Final

from remit.domain.clock import ts_text
from remit.ledger.kinds.base import (
    EntryFormatError,
    IndexRow,
    Json,
    Record,
    _aware,
    _field,
    _mapping,
    _strings,
    _text,
    _time,
)

FINDING_CLASSES: Final = (
    "out_of_scope",
    "after_revocation",
    "unexplained",
    "unauthorized_escalation",
    "governance_tampering",
)
"""The classes a finding can have (every class but `explained`)."""

COUNT_NAMES: Final = ("explained", *FINDING_CLASSES, "denied", "not_ai")
"""The counts every run records."""

_FINDING_FIELDS: Final = (
    "class", "event_id", "event_time", "principal", "action", "resources", "decision_id",
    "ledger_index", "why",
)  # fmt: skip


def _finding(value: object, n: int) -> Mapping[str, Any]:
    f = _mapping(f"findings[{n}]", value)
    missing = [k for k in _FINDING_FIELDS if k not in f]
    if missing:
        raise EntryFormatError(f"findings[{n}] lacks {', '.join(missing)}")
    if f["class"] not in FINDING_CLASSES:
        raise EntryFormatError(f"findings[{n}].class {f['class']!r} is not a finding class")
    _text(f"findings[{n}].why", f["why"])
    _strings(f"findings[{n}].resources", f["resources"])
    return f


@dataclass(frozen=True, slots=True)
class ReconciliationRecord(Record):
    """One `remit reconcile` run. `inputs`: the digests of what it read (`trail`: SHA-256
    over the sorted digests of the trail files in the window; `ledger_root` at
    `ledger_size`); `since`/`until`: the window (None: unbounded); `counts`: events per
    class (`COUNT_NAMES`); `findings`: one per event not `explained`, not denied and by an
    AI principal or tampering with governance; `trust_creep`: what is new against the
    previous window, calls outside declared steps, undeclared data flows (None when the
    run had no window to compare)."""

    KIND: ClassVar[str] = "reconciliation"
    run_id: str
    since: datetime | None
    until: datetime | None
    inputs: Mapping[str, Any]
    ai_principals: tuple[str, ...]
    counts: Mapping[str, int]
    findings: tuple[Mapping[str, Any], ...]
    trust_creep: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        _text("run_id", self.run_id)
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                _aware(name, value)
        _mapping("inputs", self.inputs)
        _strings("ai_principals", self.ai_principals)
        counts = _mapping("counts", self.counts)
        for name in COUNT_NAMES:
            value = counts.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise EntryFormatError(f"counts.{name} must be a count, got {value!r}")
        for n, f in enumerate(self.findings):
            _finding(f, n)
        if self.trust_creep is not None:
            _mapping("trust_creep", self.trust_creep)

    def to_data(self) -> Json:
        return {
            "run_id": self.run_id,
            "since": ts_text(self.since) if self.since else None,
            "until": ts_text(self.until) if self.until else None,
            "inputs": dict(self.inputs),
            "ai_principals": list(self.ai_principals),
            "counts": dict(self.counts),
            "findings": [dict(f) for f in self.findings],
            "trust_creep": None if self.trust_creep is None else dict(self.trust_creep),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ReconciliationRecord:
        findings = _field(data, "findings")
        if not isinstance(findings, list):
            raise EntryFormatError("findings must be a list")
        return cls(
            _field(data, "run_id"),
            None if data.get("since") is None else _time(data, "since"),
            None if data.get("until") is None else _time(data, "until"),
            _mapping("inputs", _field(data, "inputs")),
            _strings("ai_principals", _field(data, "ai_principals")),
            _mapping("counts", _field(data, "counts")),
            tuple(_finding(f, n) for n, f in enumerate(findings)),
            data.get("trust_creep"),
        )

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        return [
            IndexRow(
                "reconciliations",
                (
                    self.run_id,
                    idx,
                    ts_text(self.since) if self.since else None,
                    ts_text(self.until) if self.until else None,
                    len(self.findings),
                    ts,
                ),
            )
        ]
