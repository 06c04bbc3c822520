"""Review samples and verdicts on a real ledger (issue 15 §2): drawn from a signed
checkpoint after the period, recorded so anyone can recompute them, verdicts once per
sampled decision, never by whoever asked for or approved it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.oversight.history import History, record_history

from remit.domain.tiers import Tier
from remit.envelope import LoadedEnvelope
from remit.errors import Conflict, Forbidden, NotFound, Unprocessable
from remit.ledger import oversight_reads as oreads
from remit.ledger.history import period_decisions
from remit.ledger.kinds import ReviewSampleRecord
from remit.ledger.log import Ledger
from remit.oversight.review import draw_sample, record_verdict, review
from remit.oversight.sampling import Candidate, draw
from remit.signing.keys import generate_signing_key

SINCE = datetime(2026, 11, 21, tzinfo=UTC)
UNTIL = datetime(2026, 11, 22, tzinfo=UTC)
LATER = datetime(2026, 11, 23, tzinfo=UTC)
ALL = list(Tier)
REVIEWER = "reviewer:rita@example.com#k1"


@pytest.fixture
def history(tmp_path: Path, example: LoadedEnvelope, make_request) -> History:  # type: ignore[no-untyped-def]
    h = record_history(tmp_path / "ledger.db", example, make_request)
    h.ledger = Ledger(h.store, generate_signing_key("log.example.com"))
    return h


def checkpoint(h: History, at: datetime = LATER) -> None:
    h.ledger.checkpoint(at)


def test_sample_is_recorded_and_recomputable_from_its_entry(history: History) -> None:
    checkpoint(history)
    got = draw_sample(history.ledger, SINCE, UNTIL, LATER, "reviewer:rita", tiers=ALL)
    entry = history.store.entry(got.index).read()
    rec = entry.record
    assert isinstance(rec, ReviewSampleRecord) and rec == got.record
    assert rec.plan_size == 299 and rec.checkpoint_size == history.store.checkpoints()[0].size
    # Anyone: the period's decisions from the ledger, the root from the entry.
    rows = period_decisions(history.store, rec.since, rec.until)
    again = draw(
        (Candidate(d, Tier(t), a) for d, _, t, a in rows),
        bytes.fromhex(rec.checkpoint_root),
        299,
        ALL,
    )
    assert tuple(s.decision_ids for s in again) == tuple(s.decision_ids for s in rec.strata)
    assert [s.tier for s in rec.strata] == ["autonomous", "notify", "approve"]
    assert sum(s.population for s in rec.strata) == 28


def test_default_tiers_are_what_ran_without_a_human(history: History) -> None:
    checkpoint(history)
    got = draw_sample(history.ledger, SINCE, UNTIL, LATER, "reviewer:rita", size=5)
    assert [(s.tier, len(s.decision_ids), s.population) for s in got.record.strata] == [
        ("autonomous", 3, 3), ("notify", 5, 20)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("since", "until", "now", "words"),
    [
        (SINCE - timedelta(days=9), SINCE - timedelta(days=8), LATER, "no decisions"),
        (SINCE, UNTIL, UNTIL - timedelta(hours=1), "after now"),
        (UNTIL, SINCE, LATER, "must end after"),
    ],
)
def test_bad_periods_record_nothing(
    history: History, since: datetime, until: datetime, now: datetime, words: str
) -> None:
    checkpoint(history)
    size = history.store.size()
    with pytest.raises(Unprocessable, match=words):
        draw_sample(history.ledger, since, until, now, "reviewer:rita")
    assert history.store.size() == size


def test_a_checkpoint_from_before_the_period_closed_is_not_enough(history: History) -> None:
    checkpoint(history, UNTIL - timedelta(hours=2))
    size = history.store.size()
    with pytest.raises(Unprocessable, match="checkpoint"):
        draw_sample(history.ledger, SINCE, UNTIL, LATER, "reviewer:rita")
    assert history.store.size() == size


def test_a_period_is_sampled_once(history: History) -> None:
    checkpoint(history)
    first = draw_sample(history.ledger, SINCE, UNTIL, LATER, "reviewer:rita")
    size = history.store.size()
    with pytest.raises(Conflict, match=f"index {first.index}"):
        draw_sample(history.ledger, SINCE, UNTIL, LATER, "reviewer:rita", size=3)
    assert history.store.size() == size


@pytest.fixture
def sampled(history: History) -> tuple[History, str]:
    checkpoint(history)
    got = draw_sample(history.ledger, SINCE, UNTIL, LATER, "reviewer:rita", tiers=ALL)
    return history, got.record.sample_id


def _id(h: History, name: str) -> str:
    return str(h.store.entry(h.indexes[name]).document()["data"]["decision"]["id"])


def test_verdicts_once_per_sampled_decision(sampled: tuple[History, str]) -> None:
    h, sid = sampled
    did = _id(h, "revoke-3")
    got = record_verdict(h.ledger, did, "inappropriate", "role was in use", REVIEWER, LATER)
    assert got.record.sample_id == sid and got.actor == REVIEWER
    size = h.store.size()
    with pytest.raises(Conflict, match="already has a verdict"):
        record_verdict(h.ledger, did, "appropriate", "second thoughts", REVIEWER, LATER)
    assert h.store.size() == size
    row = oreads.verdict(h.store.reads, sid, did)
    assert row is not None and row.verdict == "inappropriate" and row.index == got.index


def test_a_decision_not_sampled_takes_no_verdict(history: History) -> None:
    checkpoint(history)
    got = draw_sample(history.ledger, SINCE, UNTIL, LATER, "reviewer:rita", size=1)
    drawn = set(got.record.decision_ids)
    left_out = next(
        _id(history, f"revoke-{i}") for i in range(20) if _id(history, f"revoke-{i}") not in drawn
    )
    size = history.store.size()
    with pytest.raises(Unprocessable, match="not sampled"):
        record_verdict(history.ledger, left_out, "appropriate", "", REVIEWER, LATER)
    with pytest.raises(Unprocessable, match="not sampled"):
        record_verdict(
            history.ledger, left_out, "appropriate", "", REVIEWER, LATER, got.record.sample_id
        )
    with pytest.raises(NotFound):
        record_verdict(history.ledger, "dec-nope", "appropriate", "", REVIEWER, LATER)
    assert history.store.size() == size


def test_a_reviewer_may_not_judge_their_own_approval(sampled: tuple[History, str]) -> None:
    h, _ = sampled
    size = h.store.size()
    with pytest.raises(Forbidden, match="own decision"):
        record_verdict(
            h.ledger,
            _id(h, "revoke-20"),
            "appropriate",
            "",
            "reviewer:Oncall@example.com#k9",
            LATER,
        )
    with pytest.raises(Forbidden):  # nor the agent on its own request
        record_verdict(
            h.ledger, _id(h, "read-0"), "appropriate", "", "reviewer:remediator#k", LATER
        )
    assert h.store.size() == size


def test_an_unknown_verdict_is_refused(sampled: tuple[History, str]) -> None:
    h, _ = sampled
    size = h.store.size()
    with pytest.raises(ValueError, match="verdict"):
        record_verdict(h.ledger, _id(h, "read-0"), "meh", "", REVIEWER, LATER)
    assert h.store.size() == size


def test_report_states_error_rate_bound_and_suggestion(sampled: tuple[History, str]) -> None:
    h, sid = sampled
    for i in range(20):
        v = "inappropriate" if i < 3 else "appropriate"
        record_verdict(h.ledger, _id(h, f"revoke-{i}"), v, "", REVIEWER, LATER)
    rep = review(h.ledger, sid)
    notify = next(s for s in rep.strata if s.tier == "notify")
    assert (notify.reviewed, notify.inappropriate, notify.population) == (20, 3, 20)
    assert notify.error_rate == notify.upper_bound == 3 / 20  # a census: no sampling error
    auto = next(s for s in rep.strata if s.tier == "autonomous")
    assert auto.reviewed == 0 and auto.upper_bound is None
    assert [str(s) for s in rep.suggestions] == [
        "R7-revoke-stale: 3 of 20 inappropriate → tier approve"
    ]
