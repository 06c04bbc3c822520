"""The governance report of one period, computed from the ledger (C10): envelope health,
decisions by tier, agent, rule and day, actions that ran under a stale or unsigned
envelope, decisions with thin reasoning, approvals quality, fallbacks, rollback
availability, denials and their top reasons, rules that never matched, ledger integrity.

Reads through the ledger's typed reads only; knows no HTTP and no file format (`render`
writes JSON, Markdown and HTML). Claims no more than the ledger shows: what this
installation does not record is reported as not recorded, never as zero."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from remit.domain.clock import ts_text
from remit.envelope.status import EnvelopeStatus
from remit.ledger.kinds import DecisionRecord
from remit.ledger.records import Recorded
from remit.ledger.store import LedgerStore
from remit.ledger.verify import VerifyReport
from remit.report.aggregate import TIERS, aggregates
from remit.report.period import Period

STALE_CODES = frozenset(
    {
        "ENVELOPE_EXPIRED",
        "ENVELOPE_REVIEW_OVERDUE",
        "ENVELOPE_REVALIDATION_PENDING",
        "ENVELOPE_SIGNATURE_INVALID",
        "ENVELOPE_UNSIGNED_INSECURE",
    }
)
"""Reason codes a decision carries when the envelope was not fully authority."""
THIN_SUMMARY_CHARS = 20
LIST_LIMIT = 200
NOT_RECORDED = "not recorded on this ledger"


def thin_reasoning(request: dict[str, Any]) -> list[str]:
    """What a request's reasoning lacks: a summary of at least 20 characters, a signal, a
    confidence, an alternative considered (empty: the reasoning is complete)."""
    r = request.get("reasoning") or {}
    missing = []
    if len(str(r.get("summary") or "").strip()) < THIN_SUMMARY_CHARS:
        missing.append("summary")
    if not r.get("signals"):
        missing.append("signals")
    if r.get("confidence") is None:
        missing.append("confidence")
    if not r.get("alternatives"):
        missing.append("alternatives")
    return missing


@dataclass
class _Scan:
    """What one pass over the period's decisions finds."""

    by_rule: Counter[str]
    ran_stale: list[dict[str, Any]]
    thin: list[dict[str, Any]]
    thin_count: int
    fallbacks_asked: int
    fallbacks_granted: int
    deny_reasons: Counter[str]
    rollback: Counter[str]


def _ran(rec: DecisionRecord, approval_state: str | None) -> bool:
    return rec.tier.value in ("autonomous", "notify") or approval_state == "approved"


def _scan(store: LedgerStore, period: Period) -> _Scan:
    reads = store.reads
    scan = _Scan(Counter(), [], [], 0, 0, 0, Counter(), Counter())
    for found in reads.decisions_between(period.since, period.until):
        _one(reads, found, scan)
    return scan


def _one(reads: Any, found: Recorded[DecisionRecord], scan: _Scan) -> None:
    rec = found.record
    d, request = rec.decision, dict(rec.request)
    state = None
    if rec.tier.value == "approve":
        standing = reads.approval(rec.id)
        state = standing.state if standing else None
    ran = _ran(rec, state)
    for rule in rec.rules:
        scan.by_rule[rule] += 1
    codes = [str(r.get("code")) for r in d.get("reasons") or ()]
    stale = sorted(STALE_CODES.intersection(codes))
    line = {"id": rec.id, "index": found.index, "agent": rec.agent, "action": rec.action,
            "tier": rec.tier.value, "at": found.ts}  # fmt: skip
    if ran and stale:
        scan.ran_stale.append({**line, "codes": stale, "approval": state})
    missing = thin_reasoning(request)
    if missing:
        scan.thin_count += 1
        if len(scan.thin) < LIST_LIMIT:
            scan.thin.append({**line, "missing": missing})
    if request.get("fallback"):
        scan.fallbacks_asked += 1
        scan.fallbacks_granted += int(ran)
    if rec.tier.value == "deny":
        for code in codes:  # a deny rule is named: "which rule" is the reason
            key = f"rule {', '.join(rec.rules)}" if code == "RULE_MATCHED" else code
            scan.deny_reasons[key] += 1
    if ran:
        scan.rollback[str(d.get("rollback") or "unknown")] += 1


def build_report(
    store: LedgerStore,
    period: Period,
    now: datetime,
    envelope: EnvelopeStatus,
    rule_ids: list[str],
    integrity: VerifyReport | None,
) -> dict[str, Any]:
    """The report as one JSON-ready document (`rule_ids`: the rules of the envelope in
    force, to name the ones that never matched; `integrity`: a verification of the whole
    ledger, or None when no public key was given)."""
    cp = store.latest_checkpoint()
    agg = aggregates(store.reads, period, now, store.size(), (cp.size, cp.ts) if cp else None)
    scan = _scan(store, period)
    env = envelope.to_dict()
    expiry_before_review = (
        envelope.next_review_due is not None and envelope.expires_at < envelope.next_review_due
    )
    return {
        "report": "remit governance report",
        "generated_at": ts_text(now),
        "period": period.to_dict(),
        "envelope": {**env, "expires_before_next_review": expiry_before_review},
        "decisions": {
            "total": agg.total,
            "by_tier": agg.by_tier,
            "by_agent": agg.by_agent,
            "by_rule": dict(scan.by_rule.most_common()),
            "by_day": agg.by_day,
        },
        "ran_under_stale_or_unsigned_envelope": {
            "count": len(scan.ran_stale),
            "decisions": scan.ran_stale[:LIST_LIMIT],
            "verdict": "none: every action that ran was decided by an envelope in force"
            if not scan.ran_stale
            else f"{len(scan.ran_stale)} actions ran while the envelope was not fully authority",
        },
        "thin_reasoning": {
            "count": scan.thin_count,
            "rule": f"summary under {THIN_SUMMARY_CHARS} characters, or no signal, "
            "confidence or alternative",
            "decisions": scan.thin,
        },
        "approvals": {
            **agg.approvals.to_dict(),
            "pending_now": agg.pending_now,
            "self_approval_attempts_refused": NOT_RECORDED,
        },
        "fallbacks": {"asked": scan.fallbacks_asked, "granted": scan.fallbacks_granted},
        "rollbacks": {
            "actions_that_ran_by_rollback": dict(scan.rollback),
            "rollbacks_executed": NOT_RECORDED,
        },
        "denials": {
            "count": agg.by_tier.get("deny", 0),
            "top_reasons": dict(scan.deny_reasons.most_common(10)),
        },
        "rules_never_matched": sorted(set(rule_ids) - set(scan.by_rule)),
        "reconciliation": "not available in this installation",
        "reviews": "not available in this installation",
        "ledger": {
            "size": agg.ledger_size,
            "last_checkpoint": {"size": cp.size, "at": cp.ts} if cp else None,
            "verification": _integrity(integrity),
        },
        "tiers": list(TIERS),
    }


def _integrity(report: VerifyReport | None) -> dict[str, Any]:
    if report is None:
        return {"status": "not verified (no --public-key given)"}
    return {
        "status": "verified" if report.ok else "FAILED",
        "entries": report.size,
        "checkpoints_checked": report.checkpoints_checked,
        "first_bad_index": report.first_bad_index,
        "problems": report.problems[:20],
    }
