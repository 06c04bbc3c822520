"""Drawing a review sample and recording verdicts on the ledger: the checks that make
each safe (the period has closed and has decisions, a signed checkpoint covers it, a
period is sampled once; a verdict is on a sampled decision, once, and never by the person
who approved or asked for it). Each check runs under the append lock, in the same step as
the append. Errors are `remit.errors` kinds; nothing is written when one is raised.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from remit.domain.clock import parse_ts, ts_text
from remit.domain.tiers import Tier
from remit.errors import Conflict, Forbidden, NotFound, Unprocessable
from remit.identity.model import principal_of_label, principal_of_name
from remit.ledger import oversight_reads as oreads
from remit.ledger.gate_reads import LockedReads
from remit.ledger.history import period_decisions
from remit.ledger.kinds import ReviewSampleRecord, SampleStratum, VerdictRecord
from remit.ledger.log import Ledger
from remit.ledger.records import NewEntry, Recorded, make_entry
from remit.ledger.store import StoredCheckpoint
from remit.oversight.review_report import ReviewReport, report
from remit.oversight.sampling import DEFAULT_TIERS, METHOD, Candidate, draw
from remit.oversight.stats import DEFAULT_CONFIDENCE, DEFAULT_MAX_RATE, plan_size


def sample_id_for(since: datetime, until: datetime) -> str:
    def short(t: datetime) -> str:
        return ts_text(t)[:19].replace("-", "").replace(":", "") + "Z"

    return f"rs-{short(since)}-{short(until)}"


def _checkpoint_after(ledger: Ledger, until: datetime, last_index: int) -> StoredCheckpoint:
    for cp in ledger.store.checkpoints():
        if cp.size > last_index and parse_ts(cp.ts) >= until:
            if ledger.store.root(cp.size) != cp.root:
                raise Conflict(f"checkpoint of size {cp.size} does not match the ledger")
            return cp
    raise Unprocessable(
        f"no signed checkpoint taken after the period ended ({ts_text(until)}) covers its "
        "decisions; sign one with `remit ledger checkpoint` after the period closes"
    )


def draw_sample(
    ledger: Ledger,
    since: datetime,
    until: datetime,
    now: datetime,
    actor: str,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    max_rate: float = DEFAULT_MAX_RATE,
    size: int | None = None,
    tiers: Iterable[Tier] = DEFAULT_TIERS,
) -> Recorded[ReviewSampleRecord]:
    """Draw the period's sample and record it (once per period)."""
    if until <= since:
        raise Unprocessable("the period must end after it starts")
    if until > now:
        raise Unprocessable(
            f"the period ends {ts_text(until)}, which is after now: a sample is drawn once "
            "the period has closed, so nobody can know it in advance"
        )
    n = size if size is not None else plan_size(confidence, max_rate)
    tier_list = tuple(tiers)
    rows = list(period_decisions(ledger.store, since, until))
    if not rows:
        raise Unprocessable(f"no decisions were recorded in [{ts_text(since)}, {ts_text(until)})")
    cp = _checkpoint_after(ledger, until, max(r[1] for r in rows))
    strata = draw((Candidate(d, Tier(t), a) for d, _, t, a in rows), cp.root, n, tier_list)
    if not strata:
        wanted = ", ".join(t.value for t in tier_list)
        raise Unprocessable(f"the period has no decisions of the tiers sampled ({wanted})")
    record = ReviewSampleRecord(
        sample_id_for(since, until), since, until, cp.size, cp.root.hex(), cp.note, METHOD,
        confidence, max_rate, n,
        tuple(SampleStratum(s.tier.value, s.agent, s.population, s.decision_ids) for s in strata),
    )  # fmt: skip

    def build(locked: LockedReads, _size: int) -> list[NewEntry]:
        known = oreads.sample(locked, record.sample_id)
        if known is not None:
            raise Conflict(
                f"the period was already sampled: {record.sample_id} at ledger index {known.index}"
            )
        return [make_entry(record, now, actor)]

    _, indexes = ledger.store.append_computed(build)
    return Recorded(indexes[0], ts_text(now), actor, record)


def record_verdict(
    ledger: Ledger,
    decision_id: str,
    verdict: str,
    comment: str,
    reviewer: str,
    now: datetime,
    sample_id: str | None = None,
) -> Recorded[VerdictRecord]:
    """Record `reviewer`'s verdict on a sampled decision. `reviewer` is the identity label
    the entry will carry (`role:name#key`)."""
    checked: list[VerdictRecord] = []

    def build(locked: LockedReads, _size: int) -> list[NewEntry]:
        decision = locked.decision(decision_id)
        if decision is None:
            raise NotFound(f"no decision {decision_id!r} on the ledger")
        samples = oreads.samples_with(locked, decision_id)
        if sample_id is not None:
            if sample_id not in samples:
                raise Unprocessable(
                    f"decision {decision_id} was not sampled in {sample_id}; only sampled "
                    "decisions take verdicts"
                )
            chosen = sample_id
        else:
            if not samples:
                raise Unprocessable(
                    f"decision {decision_id} was not sampled; only sampled decisions take verdicts"
                )
            open_ = [s for s in samples if oreads.verdict(locked, s, decision_id) is None]
            chosen = open_[0] if open_ else samples[-1]
        prior = oreads.verdict(locked, chosen, decision_id)
        if prior is not None:
            raise Conflict(
                f"decision {decision_id} already has a verdict in {chosen} "
                f"({prior.verdict} by {prior.actor}, ledger index {prior.index})"
            )
        me = principal_of_label(reviewer)
        involved = {principal_of_label(decision.actor)}
        if decision.record.on_behalf_of:
            involved.add(principal_of_name(decision.record.on_behalf_of))
        approval = locked.approval(decision_id)
        if approval is not None and approval.resolved_by:
            involved.add(principal_of_label(approval.resolved_by))
        if me in involved:
            raise Forbidden(
                f"{reviewer} asked for, acted for or approved decision {decision_id}; "
                "a reviewer may not give a verdict on their own decision"
            )
        record = VerdictRecord(chosen, decision_id, verdict, comment)
        checked.append(record)
        return [make_entry(record, now, reviewer)]

    _, indexes = ledger.store.append_computed(build)
    return Recorded(indexes[0], ts_text(now), reviewer, checked[-1])


def review(ledger: Ledger, sample_id: str) -> ReviewReport:
    """The review of a recorded sample so far."""
    reads = ledger.store.reads
    found = oreads.sample(reads, sample_id)
    if found is None:
        raise NotFound(f"no review sample {sample_id!r}")
    verdicts = {v.record.decision_id: v.record.verdict for v in oreads.verdicts(reads, sample_id)}
    rules: dict[str, tuple[str, ...]] = {}
    for d in verdicts:
        rec = reads.decision(d)
        if rec is not None:
            rules[d] = rec.record.rules
    return report(found.record, verdicts, rules)
