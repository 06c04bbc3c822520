"""The figures of a period that the ledger's index tables answer without parsing entries:
decisions by tier, day and agent, the approval queue, how approvals were resolved and how
fast, and the ledger's size and latest checkpoint. The dashboard's overview shows these;
the full report (`remit.report.build`) adds what needs the entries themselves."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from remit.domain.clock import parse_ts
from remit.ledger.reads import LedgerReads, Resolution
from remit.report.counts import DecisionCounts
from remit.report.period import Period

TIERS = ("autonomous", "notify", "approve", "deny")
FAST_APPROVAL_SECONDS = 10.0


@dataclass
class ApprovalQuality:
    """How the period's held decisions were resolved."""

    resolved: int = 0
    approved: int = 0
    rejected: int = 0
    expired: int = 0
    median_seconds: float | None = None
    fast_approvals: list[str] = field(default_factory=list)
    by_approver: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def rejection_rate(self) -> float | None:
        return self.rejected / self.resolved if self.resolved else None

    @property
    def expiry_rate(self) -> float | None:
        return self.expired / self.resolved if self.resolved else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "resolved": self.resolved,
            "approved": self.approved,
            "rejected": self.rejected,
            "expired": self.expired,
            "rejection_rate": self.rejection_rate,
            "expiry_rate": self.expiry_rate,
            "median_seconds_to_decide": self.median_seconds,
            "approved_under_10_seconds": self.fast_approvals,
            "by_approver": self.by_approver,
        }


def approval_quality(resolutions: list[Resolution]) -> ApprovalQuality:
    """Counts, median time to decide (people's decisions, not expiries), approvals given
    in under ten seconds, and each approver's tally."""
    q = ApprovalQuality()
    waits: list[float] = []
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for r in resolutions:
        q.resolved += 1
        if r.state == "expired":
            q.expired += 1
            continue
        seconds = (parse_ts(r.resolved_at) - parse_ts(r.decided_at)).total_seconds()
        waits.append(seconds)
        per[r.actor][r.state] += 1
        if r.state == "approved":
            q.approved += 1
            if seconds < FAST_APPROVAL_SECONDS:
                q.fast_approvals.append(r.decision_id)
        elif r.state == "rejected":
            q.rejected += 1
    q.median_seconds = statistics.median(waits) if waits else None
    q.by_approver = {who: dict(c) for who, c in sorted(per.items())}
    return q


@dataclass
class Aggregates:
    """The index-table figures of one period."""

    period: Period
    by_tier: dict[str, int]
    by_day: dict[str, dict[str, int]]
    by_agent: dict[str, dict[str, int]]
    pending_now: int
    approvals: ApprovalQuality
    ledger_size: int
    checkpoint_size: int | None
    checkpoint_at: str | None

    @property
    def total(self) -> int:
        return sum(self.by_tier.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.to_dict(),
            "decisions": self.total,
            "by_tier": self.by_tier,
            "by_day": self.by_day,
            "by_agent": self.by_agent,
            "pending_now": self.pending_now,
            "approvals": self.approvals.to_dict(),
            "ledger": {
                "size": self.ledger_size,
                "checkpoint_size": self.checkpoint_size,
                "checkpoint_at": self.checkpoint_at,
            },
        }


def _nested(rows: list[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for key, tier, n in rows:
        out.setdefault(key, dict.fromkeys(TIERS, 0))[tier] = n
    return out


def aggregates(
    reads: LedgerReads,
    period: Period,
    now: datetime,
    ledger_size: int,
    checkpoint: tuple[int, str] | None,
    counts: DecisionCounts | None = None,
) -> Aggregates:
    """The period's figures from the index tables (`checkpoint`: size and time of the
    latest signed checkpoint, if any; `counts`: running counts to use for whole-day
    periods instead of counting in the store)."""
    if counts is not None and counts.covers(period):
        counts.refresh(reads)
        days, agents = counts.by("day", period), counts.by("agent", period)
        resolved = counts.resolutions(period)
    else:
        days = reads.decision_counts("day", period.since, period.until)
        agents = reads.decision_counts("agent", period.since, period.until)
        resolved = reads.resolutions(period.since, period.until)
    by_day = _nested(days)
    by_tier = dict.fromkeys(TIERS, 0)
    for per_tier in by_day.values():
        for tier, n in per_tier.items():
            by_tier[tier] = by_tier.get(tier, 0) + n
    return Aggregates(
        period=period,
        by_tier=by_tier,
        by_day=by_day,
        by_agent=_nested(agents),
        pending_now=reads.pending_count(now),
        approvals=approval_quality(resolved),
        ledger_size=ledger_size,
        checkpoint_size=checkpoint[0] if checkpoint else None,
        checkpoint_at=checkpoint[1] if checkpoint else None,
    )
