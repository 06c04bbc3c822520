"""Ledger kinds of the assurance loop: a review sample drawn for a period (and how, so
anyone can recompute it) and a reviewer's verdict on one sampled decision. Pure; no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from remit.domain.clock import ts_text
from remit.ledger.kinds.base import (
    _TIERS,
    EntryFormatError,
    IndexRow,
    Json,
    Record,
    _field,
    _mapping,
    _one_of,
    _strings,
    _text,
    _time,
)

VERDICTS = ("appropriate", "inappropriate", "policy_gap")


def _count(name: str, value: object, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise EntryFormatError(f"{name} must be an integer of at least {low}, got {value!r}")
    return value


def _rate(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise EntryFormatError(f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class SampleStratum:
    """One (tier, agent) stratum of a sample: its population and the decisions drawn."""

    tier: str
    agent: str
    population: int
    decision_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        _one_of("strata.tier", self.tier, _TIERS)
        _text("strata.agent", self.agent)
        _count("strata.population", self.population, 1)
        _strings("strata.decision_ids", self.decision_ids)
        if not self.decision_ids or len(self.decision_ids) > self.population:
            raise EntryFormatError("a stratum draws between 1 and its population")

    def to_data(self) -> Json:
        return {
            "tier": self.tier,
            "agent": self.agent,
            "population": self.population,
            "decision_ids": list(self.decision_ids),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> SampleStratum:
        d = _mapping("strata[]", data)
        return cls(
            _field(d, "tier"),
            _field(d, "agent"),
            _field(d, "population"),
            _strings("strata.decision_ids", _field(d, "decision_ids")),
        )


@dataclass(frozen=True, slots=True)
class ReviewSampleRecord(Record):
    """A review sample of the decisions recorded in [since, until): drawn with `method`
    keyed by the root of the signed checkpoint of `checkpoint_size` entries (its note is
    kept, so its signature can be checked), sized by the attribute-sampling plan
    (`confidence`, `max_rate` → `plan_size` per stratum)."""

    KIND: ClassVar[str] = "review_sample"
    sample_id: str
    since: datetime
    until: datetime
    checkpoint_size: int
    checkpoint_root: str
    checkpoint_note: str
    method: str
    confidence: float
    max_rate: float
    plan_size: int
    strata: tuple[SampleStratum, ...]

    def __post_init__(self) -> None:
        _text("sample_id", self.sample_id)
        if self.until <= self.since:
            raise EntryFormatError("until must be after since")
        _count("checkpoint_size", self.checkpoint_size, 1)
        _text("checkpoint_root", self.checkpoint_root)
        _text("checkpoint_note", self.checkpoint_note)
        _text("method", self.method)
        _rate("confidence", self.confidence)
        _rate("max_rate", self.max_rate)
        _count("plan_size", self.plan_size, 1)
        if not self.strata:
            raise EntryFormatError("a sample has at least one stratum")
        ids = [d for s in self.strata for d in s.decision_ids]
        if len(ids) != len(set(ids)):
            raise EntryFormatError("a decision is drawn at most once per sample")

    @property
    def decision_ids(self) -> tuple[str, ...]:
        return tuple(d for s in self.strata for d in s.decision_ids)

    def to_data(self) -> Json:
        return {
            "sample_id": self.sample_id,
            "since": ts_text(self.since),
            "until": ts_text(self.until),
            "checkpoint": {
                "size": self.checkpoint_size,
                "root": self.checkpoint_root,
                "note": self.checkpoint_note,
            },
            "method": self.method,
            "plan": {
                "confidence": self.confidence,
                "max_rate": self.max_rate,
                "size": self.plan_size,
            },
            "strata": [s.to_data() for s in self.strata],
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ReviewSampleRecord:
        cp = _mapping("checkpoint", _field(data, "checkpoint"))
        plan = _mapping("plan", _field(data, "plan"))
        strata = _field(data, "strata")
        if not isinstance(strata, list):
            raise EntryFormatError("strata must be a list")
        return cls(
            _field(data, "sample_id"),
            _time(data, "since"),
            _time(data, "until"),
            _field(cp, "size"),
            _field(cp, "root"),
            _field(cp, "note"),
            _field(data, "method"),
            _field(plan, "confidence"),
            _field(plan, "max_rate"),
            _field(plan, "size"),
            tuple(SampleStratum.from_data(s) for s in strata),
        )

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        rows = [
            IndexRow(
                "review_samples",
                (self.sample_id, idx, ts_text(self.since), ts_text(self.until), ts),
            )
        ]
        for s in self.strata:
            rows += [
                IndexRow("review_items", (self.sample_id, d, s.tier, s.agent, idx))
                for d in s.decision_ids
            ]
        return rows


@dataclass(frozen=True, slots=True)
class VerdictRecord(Record):
    """A reviewer's verdict on one sampled decision (once per decision and sample): the
    decision was `appropriate`, `inappropriate`, or allowed by a `policy_gap`. The entry's
    actor is the reviewer."""

    KIND: ClassVar[str] = "review_verdict"
    sample_id: str
    decision_id: str
    verdict: str
    comment: str

    def __post_init__(self) -> None:
        _text("sample_id", self.sample_id)
        _text("decision_id", self.decision_id)
        _one_of("verdict", self.verdict, VERDICTS)
        if not isinstance(self.comment, str):
            raise EntryFormatError(f"comment must be a string, got {self.comment!r}")

    def to_data(self) -> Json:
        return {
            "sample_id": self.sample_id,
            "decision_id": self.decision_id,
            "verdict": self.verdict,
            "comment": self.comment,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> VerdictRecord:
        return cls(
            _field(data, "sample_id"),
            _field(data, "decision_id"),
            _field(data, "verdict"),
            _field(data, "comment"),
        )

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        return [
            IndexRow(
                "review_verdicts",
                (self.sample_id, self.decision_id, idx, self.verdict, actor, ts),
            )
        ]


# -- behaviour drift ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DriftFindingRecord(Record):
    """A drift test crossed its threshold for `agent` at the entry at `decision_index`:
    the window it was in (opened at `window_index`, with its model, prompt hash, envelope
    digest and workflow), the signal whose test crossed, its statistic and threshold,
    baseline and tested rates and in-control run length, and what the window held.

    `signal`, `hits`, `elevated` and `declared_arl0` are optional: entries written before
    drift watched several signals have none of them (their one signal was `high_risk`)."""

    KIND: ClassVar[str] = "drift_finding"
    finding_id: str
    agent: str
    decision_id: str
    decision_index: int
    window_index: int
    window: Mapping[str, Any]
    statistic: int
    threshold: int
    p0: float
    p1: float
    arl0: float
    observed: int
    high_risk: int
    signal: str | None = None
    hits: int | None = None
    elevated: tuple[str, ...] | None = None
    declared_arl0: int | None = None

    def __post_init__(self) -> None:
        _text("finding_id", self.finding_id)
        _text("agent", self.agent)
        _text("decision_id", self.decision_id)
        _count("decision_index", self.decision_index)
        _count("window_index", self.window_index)
        _mapping("window", self.window)
        _count("statistic", self.statistic)
        _count("threshold", self.threshold, 1)
        _rate("p0", self.p0)
        _rate("p1", self.p1)
        _count("observed", self.observed, 1)
        _count("high_risk", self.high_risk)
        if self.signal is not None:
            _text("signal", self.signal)
        if self.hits is not None:
            _count("hits", self.hits)
        if self.elevated is not None:
            _strings("elevated", self.elevated)
        if self.declared_arl0 is not None:
            _count("declared_arl0", self.declared_arl0, 2)

    @property
    def signal_name(self) -> str:
        """The signal that fired (`high_risk` on entries older than the field)."""
        return self.signal or "high_risk"

    def to_data(self) -> Json:
        out: dict[str, Any] = {
            "finding_id": self.finding_id,
            "agent": self.agent,
            "decision_id": self.decision_id,
            "decision_index": self.decision_index,
            "window_index": self.window_index,
            "window": dict(self.window),
            "statistic": self.statistic,
            "threshold": self.threshold,
            "p0": self.p0,
            "p1": self.p1,
            "arl0": self.arl0,
            "observed": self.observed,
            "high_risk": self.high_risk,
        }
        optional = {
            "signal": self.signal,
            "hits": self.hits,
            "elevated": None if self.elevated is None else list(self.elevated),
            "declared_arl0": self.declared_arl0,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> DriftFindingRecord:
        names = (
            "finding_id", "agent", "decision_id", "decision_index", "window_index", "window",
            "statistic", "threshold", "p0", "p1", "arl0", "observed", "high_risk",
        )  # fmt: skip
        d = _mapping("drift_finding", data)
        up = d.get("elevated")
        base = cls(*(_field(d, n) for n in names))
        return dataclasses.replace(
            base,
            signal=d.get("signal"),
            hits=d.get("hits"),
            elevated=None if up is None else _strings("elevated", up),
            declared_arl0=d.get("declared_arl0"),
        )

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        return [IndexRow("drift_findings", (self.finding_id, idx, self.agent, ts))]


@dataclass(frozen=True, slots=True)
class DemotionRecord(Record):
    """`agent`'s autonomy demoted to at least `floor` because of a drift finding, until a
    human review of it is recorded."""

    KIND: ClassVar[str] = "demotion"
    finding_id: str
    agent: str
    floor: str
    reason: str

    def __post_init__(self) -> None:
        _text("finding_id", self.finding_id)
        _text("agent", self.agent)
        _one_of("floor", self.floor, _TIERS)
        _text("reason", self.reason)

    def to_data(self) -> Json:
        return {
            "finding_id": self.finding_id,
            "agent": self.agent,
            "floor": self.floor,
            "reason": self.reason,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> DemotionRecord:
        return cls(
            _field(data, "finding_id"),
            _field(data, "agent"),
            _field(data, "floor"),
            _field(data, "reason"),
        )

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        return [IndexRow("demotions", (self.finding_id, idx, self.agent, self.floor, ts))]


@dataclass(frozen=True, slots=True)
class DriftReviewRecord(Record):
    """A human reviewed a drift finding and accepts the change (the entry's actor): the
    demotion it caused ends, and the agent's baseline is learned afresh."""

    KIND: ClassVar[str] = "drift_review"
    finding_id: str
    agent: str
    comment: str

    def __post_init__(self) -> None:
        _text("finding_id", self.finding_id)
        _text("agent", self.agent)
        if not isinstance(self.comment, str):
            raise EntryFormatError(f"comment must be a string, got {self.comment!r}")

    def to_data(self) -> Json:
        return {"finding_id": self.finding_id, "agent": self.agent, "comment": self.comment}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> DriftReviewRecord:
        return cls(_field(data, "finding_id"), _field(data, "agent"), _field(data, "comment"))

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        return [IndexRow("drift_reviews", (self.finding_id, idx, self.agent, actor, ts))]


# -- change review ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeReviewRecord(Record):
    """A reviewer signs off the change review of [since, until) (the entry's actor): the
    SHA-256 of the report's canonical JSON, the count per category, and a comment."""

    KIND: ClassVar[str] = "change_review"
    since: datetime
    until: datetime
    report_sha256: str
    counts: Mapping[str, int]
    comment: str

    def __post_init__(self) -> None:
        if self.until <= self.since:
            raise EntryFormatError("until must be after since")
        _text("report_sha256", self.report_sha256)
        for k, v in _mapping("counts", self.counts).items():
            _count(f"counts.{k}", v)
        if not isinstance(self.comment, str):
            raise EntryFormatError(f"comment must be a string, got {self.comment!r}")

    def to_data(self) -> Json:
        return {
            "since": ts_text(self.since),
            "until": ts_text(self.until),
            "report_sha256": self.report_sha256,
            "counts": dict(self.counts),
            "comment": self.comment,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ChangeReviewRecord:
        return cls(
            _time(data, "since"),
            _time(data, "until"),
            _field(data, "report_sha256"),
            _mapping("counts", _field(data, "counts")),
            _field(data, "comment"),
        )

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        row = (ts_text(self.since), ts_text(self.until), idx, actor, ts)
        return [IndexRow("change_reviews", row)]
