"""What a store keeps from one append to the next, on SQLite and PostgreSQL: the gate's
reads (`remit.ledger.gate_reads`) and, for an optimistic store, the ledger size it left.
What it keeps must always give what a fresh read gives — when the same store appends
again, when windows slide on for hours, and above all when another process or replica
appended in between (then nothing kept may be used, and an optimistic append is redone).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from tests.conftest import NOW
from tests.ledger_store.conftest import open_target

from remit.decide import Gate
from remit.domain import ActionRequest
from remit.domain.reasons import ReasonCode
from remit.domain.tiers import Tier
from remit.ledger.kinds import NoteRecord
from remit.ledger.log import Ledger
from remit.ledger.postgres_store import PostgresStore
from remit.ledger.records import NewEntry, make_entry
from remit.ledger.verify import CheckpointIn, verify_log
from remit.recorder.decisions import DecisionRecorder
from remit.signing.keys import SigningKey

R7 = "R7-revoke-stale"
LIMIT = 20  # the example envelope's R7 window: 20 actions per hour run without approval


@pytest.mark.parametrize("optimistic", [False, True], ids=["reads-size", "optimistic"])
def test_another_writer_between_two_appends_is_counted(
    db_target: str, gate: Gate, make_request: Callable[..., ActionRequest], optimistic: bool
) -> None:
    """Two stores on one ledger (two replicas' writers): each has kept its window and
    event reads; what the other appended in between must count, whoever decides next."""
    one, two = open_target(db_target), open_target(db_target)
    one.optimistic = two.optimistic = optimistic
    try:
        first, second = DecisionRecorder(gate, Ledger(one)), DecisionRecorder(gate, Ledger(two))
        tiers = [first.decide(make_request(), "one", NOW).tier for _ in range(LIMIT - 1)]
        assert tiers == [Tier.NOTIFY] * (LIMIT - 1)
        assert second.decide(make_request(), "two", NOW).tier is Tier.NOTIFY  # the 20th
        held = first.decide(make_request(), "one", NOW)  # one's kept count says 19
        assert held.tier is Tier.APPROVE
        assert ReasonCode.RATE_LIMIT_EXCEEDED in held.codes
        # An organisational event recorded by the other store reaches this one's gate.
        later = NOW + timedelta(hours=2)
        assert first.decide(make_request(), "one", later).tier is Tier.NOTIFY
        Ledger(two).record_event("acquisition", later, "bought co", "two", later)
        after = first.decide(make_request(), "one", later)
        assert after.tier is Tier.APPROVE
        assert ReasonCode.ENVELOPE_REVALIDATION_PENDING in after.codes
        assert [e.index for e in one.entries()] == list(range(one.size()))
    finally:
        one.close()
        two.close()


def test_kept_window_counts_equal_fresh_reads_as_windows_slide(
    db_target: str, gate: Gate, make_request: Callable[..., ActionRequest]
) -> None:
    """Six hours of asks, some in one batch, some arriving slightly out of order: every
    tier is what a fresh count of the recorded window gives, after old times were dropped
    from what the store keeps."""
    store = open_target(db_target)
    store.optimistic = True
    fresh = open_target(db_target)  # never appends: every count it gives is read anew
    try:
        recorder = DecisionRecorder(gate, Ledger(store))
        rng = random.Random(4)
        at = NOW
        held = ran = 0
        for _ in range(420):
            at += timedelta(seconds=rng.randint(10, 90))
            when = at - timedelta(seconds=rng.randint(0, 5))  # clocks are not monotonic
            recorded = fresh.actions_in_window("remediator", R7, when - timedelta(hours=1))
            d = recorder.decide(make_request(), "tester", when)
            assert d.tier is (Tier.NOTIFY if recorded < LIMIT else Tier.APPROVE), (when, recorded)
            ran += d.tier is Tier.NOTIFY
            held += d.tier is Tier.APPROVE
        assert ran > 64 + LIMIT and held > 0  # the window slid far enough to drop old times
        assert fresh.actions_in_window("remediator", R7, NOW) == ran
    finally:
        store.close()
        fresh.close()


def test_optimistic_appends_take_the_next_index_whoever_appended_before(
    db_target: str, log_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An optimistic store appends without reading the size first (on PostgreSQL the
    claim goes with the inserts); when another store appended meanwhile, its claim fails,
    nothing of it is written, and the append is redone at the right index. The log stays
    gap-free and verifies."""
    mine, other = open_target(db_target), open_target(db_target)
    mine.optimistic = True
    reads = []
    real_size_in = mine._size_in
    monkeypatch.setattr(mine, "_size_in", lambda cur: reads.append(1) or real_size_in(cur))
    try:
        assert mine.append([note(0)]) == [0]  # nothing kept yet: the size is read
        assert [mine.append([note(i), note(i)]) for i in (1, 2, 3)] == [[1, 2], [3, 4], [5, 6]]
        assert len(reads) == (1 if isinstance(mine, PostgresStore) else 4)
        assert other.append([note(4)]) == [7]
        assert mine.append([note(5)]) == [8]  # its claim of size 7 failed: redone
        assert len(reads) == (2 if isinstance(mine, PostgresStore) else 6)
        expected = 9
        for i in range(6, 60):  # the other store appends every 7th time
            who = mine if i % 7 else other
            got = who.append([note(i) for _ in range(1 + i % 3)])
            assert got == list(range(expected, expected + 1 + i % 3)), i
            expected += 1 + i % 3
        assert mine.size() == other.size() == expected
        assert [e.index for e in other.entries()] == list(range(expected))
        Ledger(mine, log_key).checkpoint(NOW)
        cps = [CheckpointIn(c.size, c.note) for c in mine.checkpoints()]
        report = verify_log(mine.raw_rows(), cps, log_key.verifier(), mine.stored_nodes(), mine)
        assert report.ok and report.size == expected, report.problems
    finally:
        mine.close()
        other.close()


def note(i: int) -> NewEntry:
    return make_entry(NoteRecord({"i": i}), NOW + timedelta(seconds=i), "tester")


def test_threads_appending_through_one_store_count_each_action_once(
    db_target: str, gate: Gate, make_request: Callable[..., ActionRequest]
) -> None:
    """The HTTP process appends from several threads through one store (approvals,
    outcomes, events): what it keeps must not count one thread's actions twice when
    another thread read the window right after that thread's commit."""
    store = open_target(db_target)
    store.optimistic = True
    recorder = DecisionRecorder(gate, Ledger(store))
    rounds = 6
    try:
        for r in range(rounds):  # each round: a fresh hour, 8 threads racing for 20 slots
            ats = [NOW + timedelta(hours=2 * r)] * 32
            with ThreadPoolExecutor(8) as pool:
                tiers = list(
                    pool.map(lambda at: recorder.decide(make_request(), "t", at).tier, ats)
                )
            assert tiers.count(Tier.NOTIFY) == LIMIT, (r, tiers.count(Tier.NOTIFY))
            assert tiers.count(Tier.APPROVE) == 32 - LIMIT
    finally:
        store.close()


def test_two_optimistic_stores_missing_again_and_again_keep_appending(
    db_target: str,
    gate: Gate,
    make_request: Callable[..., ActionRequest],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two replicas' writers, each optimistic, taking turns: every claim misses (no pause
    between misses here), each miss is redone, and no failed claim leaves the connection
    unable to append (as a prepared statement the server never saw would)."""
    monkeypatch.setattr("remit.ledger.store.OPTIMISM_PAUSE", 0)
    one, two = open_target(db_target), open_target(db_target)
    one.optimistic = two.optimistic = True
    try:
        recorders = [DecisionRecorder(gate, Ledger(s)) for s in (one, two)]
        decided = []
        for i in range(60):
            at = NOW + timedelta(minutes=10 * i)
            d = recorders[i % 2].decide(make_request(), f"replica-{i % 2}", at)
            assert ReasonCode.LEDGER_UNAVAILABLE not in d.codes, (i, d.reasons[-1].message)
            assert d.extra["ledger_index"] == i
            decided.append(d.tier)
        assert decided.count(Tier.NOTIFY) == 60  # 6 an hour: the window never fills
        assert [e.index for e in one.entries()] == list(range(60))
    finally:
        one.close()
        two.close()
