"""The LedgerStore contract, on SQLite and on PostgreSQL alike: appends get gap-free
consecutive indexes and read back byte-identical; the root and every inclusion and
consistency proof the store serves agree with the pure RFC 6962 maths (`merkle`);
checkpoints are signed only when the tree grew and never without a key; an honest log
verifies; and the GateState queries the gate reads reflect what was recorded.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.conftest import NOW, SIGNED_AT
from tests.ledger_store.conftest import open_target

from remit.decide import Gate
from remit.domain import ActionRequest
from remit.domain.reasons import ReasonCode
from remit.domain.tiers import Tier
from remit.ledger.kinds import NoteRecord
from remit.ledger.log import Ledger, NoLogKey
from remit.ledger.records import NewEntry, make_entry
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.store import LedgerStore
from remit.ledger.verify import CheckpointIn, VerifyReport, verify_log
from remit.recorder.decisions import DecisionRecorder
from remit.signing.keys import SigningKey
from remit.tlog import merkle
from remit.tlog.checkpoint import open_checkpoint

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
R7 = "R7-revoke-stale"


def note(i: int, pad: int = 0) -> NewEntry:
    return make_entry(NoteRecord({"i": i, "pad": "x" * pad}), T0 + timedelta(seconds=i), "tester")


def raw(i: int, body: bytes) -> NewEntry:
    ts = (T0 + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return NewEntry("note", ts, body, NoteRecord(), "tester")  # raw bytes: storage only


def fill(store: LedgerStore, n: int) -> list[bytes]:
    """Append n entries in batches of 1-5; return their leaf hashes."""
    rng = random.Random(n)
    bodies: list[bytes] = []
    while len(bodies) < n:
        batch = [note(len(bodies) + k, rng.randint(0, 40)) for k in range(rng.randint(1, 5))]
        batch = batch[: n - len(bodies)]
        store.append(batch)
        bodies.extend(e.body for e in batch)
    return [merkle.leaf_hash(b) for b in bodies]


def verify_store(store: LedgerStore, key: SigningKey) -> VerifyReport:
    cps = [CheckpointIn(c.size, c.note) for c in store.checkpoints()]
    return verify_log(store.raw_rows(), cps, key.verifier(), store.stored_nodes(), store)


# -- appends and reads -------------------------------------------------------------------


def test_appends_return_gap_free_consecutive_indexes(store: LedgerStore) -> None:
    rng = random.Random(7)
    assert store.size() == 0
    assert store.append([]) == []
    expected = 0
    for _ in range(60):
        n = rng.randint(1, 5)
        got = store.append([note(expected + k) for k in range(n)])
        assert got == list(range(expected, expected + n))
        expected += n
        assert store.size() == expected
    assert store.append([]) == []
    assert store.size() == expected
    assert [e.index for e in store.entries()] == list(range(expected))


def test_entries_read_back_byte_identical(store: LedgerStore) -> None:
    rng = random.Random(11)
    bodies = [
        b"",
        b"\x00",
        bytes(range(256)),
        b"\xff\xfe not utf-8 \x80",
        rng.randbytes(100_000),
        *(rng.randbytes(rng.randint(1, 300)) for _ in range(20)),
        note(99).body,
    ]
    written = [raw(i, b) for i, b in enumerate(bodies)]
    assert store.append(written) == list(range(len(bodies)))
    for i, e in enumerate(written):
        got = store.entry(i)
        assert (got.index, got.kind, got.ts, got.body) == (i, e.kind, e.ts, e.body)
        assert type(got.body) is bytes
    assert [(e.index, e.body) for e in store.entries()] == list(enumerate(bodies))
    assert [e.body for e in store.entries(3, 9)] == bodies[3:9]
    assert [(i, b, h) for i, b, h in store.raw_rows()] == [
        (i, b, merkle.leaf_hash(b)) for i, b in enumerate(bodies)
    ]
    assert store.leaf_hashes(2, 7) == [merkle.leaf_hash(b) for b in bodies[2:7]]
    with pytest.raises(IndexError):
        store.entry(len(bodies))


def test_root_matches_merkle_root_of_leaf_hashes(store: LedgerStore) -> None:
    assert store.root() == merkle.EMPTY_ROOT
    hashes: list[bytes] = []
    rng = random.Random(3)
    while len(hashes) < 140:
        batch = [note(len(hashes) + k, rng.randint(0, 9)) for k in range(rng.randint(1, 5))]
        store.append(batch)
        hashes.extend(merkle.leaf_hash(e.body) for e in batch)
        assert store.root() == merkle.root_of(hashes)
    for size in range(len(hashes) + 1):
        assert store.root(size) == merkle.root_of(hashes[:size]), size


def _check_inclusion(store: LedgerStore, hashes: list[bytes], size: int) -> None:
    root = merkle.root_of(hashes[:size])
    for index in range(size):
        proof = store.inclusion_proof(index, size)
        merkle.verify_inclusion(hashes[index], index, size, proof, root)


def test_inclusion_proofs_verify_for_every_index_at_sizes_1_to_40(store: LedgerStore) -> None:
    hashes: list[bytes] = []
    for size in range(1, 41):
        store.append([note(size - 1, size % 5)])
        hashes.append(merkle.leaf_hash(note(size - 1, size % 5).body))
        _check_inclusion(store, hashes, size)


def test_inclusion_proofs_verify_at_larger_and_historical_sizes(store: LedgerStore) -> None:
    hashes = fill(store, 300)
    for size in (300, 257, 256, 255, 129, 64, 63, 17):
        _check_inclusion(store, hashes, size)
    # A proof for the wrong leaf, or against another size's root, does not verify.
    proof = store.inclusion_proof(5, 300)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(hashes[6], 5, 300, proof, merkle.root_of(hashes))
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(hashes[5], 5, 300, proof, merkle.root_of(hashes[:299]))
    with pytest.raises(merkle.MerkleError):
        store.inclusion_proof(300, 300)
    with pytest.raises(merkle.MerkleError):
        store.inclusion_proof(0, 301)


def test_consistency_proofs_verify_between_many_sizes(store: LedgerStore) -> None:
    hashes = fill(store, 300)
    roots = {s: merkle.root_of(hashes[:s]) for s in range(301)}
    pairs = {(s1, s2) for s2 in range(1, 41) for s1 in range(1, s2 + 1)}
    rng = random.Random(5)
    for _ in range(150):
        a, b = sorted(rng.sample(range(1, 301), 2))
        pairs.add((a, b))
    pairs |= {(1, 300), (255, 256), (256, 257), (128, 300), (299, 300), (300, 300)}
    for s1, s2 in sorted(pairs):
        proof = store.consistency_proof(s1, s2)
        merkle.verify_consistency(s1, s2, proof, roots[s1], roots[s2])
    proof = store.consistency_proof(100, 300)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(100, 300, proof, roots[99], roots[300])


def test_reopened_and_second_stores_continue_the_same_tree(db_target: str) -> None:
    """A store that resumes (reopened, or another handle that appended meanwhile) must
    rebuild its view of the tree from the stored nodes, never from a stale cache."""
    first = open_target(db_target)
    second = open_target(db_target)
    try:
        hashes: list[bytes] = []
        rng = random.Random(17)
        for round_ in range(40):
            who = first if rng.random() < 0.5 else second
            batch = [note(len(hashes) + k, round_ % 4) for k in range(rng.randint(1, 5))]
            assert who.append(batch) == list(range(len(hashes), len(hashes) + len(batch)))
            hashes.extend(merkle.leaf_hash(e.body) for e in batch)
            other = second if who is first else first
            assert other.root() == who.root() == merkle.root_of(hashes)
        first.close()
        first = open_target(db_target)
        batch = [note(len(hashes) + k) for k in range(3)]
        assert first.append(batch) == list(range(len(hashes), len(hashes) + 3))
        hashes.extend(merkle.leaf_hash(e.body) for e in batch)
        assert first.root() == merkle.root_of(hashes)
        _check_inclusion(first, hashes, len(hashes))
        for s1 in range(1, len(hashes)):
            merkle.verify_consistency(
                s1,
                len(hashes),
                second.consistency_proof(s1, len(hashes)),
                merkle.root_of(hashes[:s1]),
                merkle.root_of(hashes),
            )
    finally:
        first.close()
        second.close()


# -- checkpoints and verification ---------------------------------------------------------


def test_checkpoint_refuses_without_a_key(store: LedgerStore) -> None:
    store.append([note(0)])
    with pytest.raises(NoLogKey):
        Ledger(store).checkpoint(NOW)
    assert store.checkpoints() == []


def test_checkpoint_signs_only_when_the_tree_grew(store: LedgerStore, log_key: SigningKey) -> None:
    ledger = Ledger(store, log_key)
    hashes = fill(store, 5)
    first = ledger.checkpoint(NOW)
    assert (first.size, first.root) == (5, merkle.root_of(hashes))
    parsed = open_checkpoint(first.note, [log_key.verifier()], expected_origin=log_key.name)
    assert (parsed.size, parsed.root) == (5, merkle.root_of(hashes))

    again = ledger.checkpoint(NOW + timedelta(minutes=1))
    assert again == first
    forced = ledger.checkpoint(NOW + timedelta(minutes=2), force=True)
    assert forced == first
    assert len(store.checkpoints()) == 1

    hashes += [merkle.leaf_hash(e.body) for e in (note(5), note(6))]
    store.append([note(5), note(6)])
    second = ledger.checkpoint(NOW + timedelta(minutes=3))
    assert (second.size, second.root) == (7, merkle.root_of(hashes))
    assert second != first
    assert store.latest_checkpoint() == second
    assert [c.size for c in store.checkpoints()] == [5, 7]
    parsed = open_checkpoint(second.note, [log_key.verifier()], expected_origin=log_key.name)
    assert (parsed.size, parsed.root) == (7, merkle.root_of(hashes))


def test_verify_log_passes_on_an_honest_log(
    store: LedgerStore,
    log_key: SigningKey,
    impostor_key: SigningKey,
    gate: Gate,
    make_request: Callable[..., ActionRequest],
) -> None:
    ledger = Ledger(store, log_key)
    recorder = DecisionRecorder(gate, ledger)
    rng = random.Random(23)
    sizes = []
    for i in range(120):
        roll = rng.random()
        if roll < 0.2:
            d = recorder.decide(make_request(), "tester", NOW + timedelta(seconds=i))
            assert d.extra.get("ledger_index") == i
        elif roll < 0.3:
            ledger.record_event("model_update", NOW, f"event {i}", "tester", NOW)
        else:
            store.append([make_entry(NoteRecord({"i": i}), NOW, "tester")])
        if rng.random() < 0.08 or i in (0, 15, 16, 63):
            ledger.checkpoint(NOW)
            sizes.append(i + 1)
    store.append([note(1000), note(1001)])  # not yet covered by a checkpoint
    report = verify_store(store, log_key)
    assert report.ok, report.problems
    assert report.size == store.size() == 122
    assert report.root == store.root() == merkle.root_of([h for _, _, h in store.raw_rows()])
    assert report.checkpoints_checked == len(sizes) == len(store.checkpoints())
    assert report.uncovered == 122 - sizes[-1]
    # The same log does not verify under another key of the same name.
    wrong = verify_store(store, impostor_key)
    assert not wrong.ok


# -- GateState ----------------------------------------------------------------------------


def test_events_after_reflects_recorded_events(store: LedgerStore) -> None:
    ledger = Ledger(store)
    store.append([make_entry(NoteRecord({"filler": True}), NOW, "tester")])
    recorded = [
        ("acquisition", datetime(2026, 10, 1, tzinfo=UTC), "bought co"),
        ("model_update", datetime(2026, 11, 5, tzinfo=UTC), "new model"),
        ("acquisition", datetime(2026, 11, 2, 3, 4, 5, 678901, tzinfo=UTC), "bought more"),
        ("regulation_change", datetime(2026, 12, 1, tzinfo=UTC), "new rule"),
    ]
    indexes = [ledger.record_event(k, at, n, "tester", NOW) for k, at, n in recorded]
    assert indexes == [1, 2, 3, 4]
    everything = frozenset({"acquisition", "model_update", "regulation_change"})

    def seen(after: datetime | None, kinds: frozenset[str]) -> list[tuple[Any, ...]]:
        return [(e.kind, e.at, e.note, e.index) for e in store.events_after(after, kinds)]

    def want(after: datetime | None, kinds: frozenset[str]) -> list[tuple[Any, ...]]:
        rows = [
            (k, at, n, idx)
            for (k, at, n), idx in zip(recorded, indexes, strict=True)
            if k in kinds and (after is None or at > after)
        ]
        return sorted(rows, key=lambda r: r[1])

    for after in (None, SIGNED_AT, recorded[2][1], datetime(2027, 1, 1, tzinfo=UTC)):
        for kinds in (everything, frozenset({"acquisition"}), frozenset({"other"}), frozenset()):
            assert seen(after, kinds) == want(after, kinds), (after, kinds)
    # "strictly after": an event exactly at `after` is not included.
    assert seen(recorded[1][1], frozenset({"model_update"})) == []


def test_recorded_events_reach_the_gate(
    store: LedgerStore, gate: Gate, make_request: Callable[..., ActionRequest]
) -> None:
    ledger = Ledger(store)
    recorder = DecisionRecorder(gate, ledger)
    before = recorder.decide(make_request(), "tester", NOW)
    assert before.tier is Tier.NOTIFY
    ledger.record_event("acquisition", NOW - timedelta(days=1), "bought co", "tester", NOW)
    after = recorder.decide(make_request(), "tester", NOW)
    assert after.tier is Tier.APPROVE
    assert ReasonCode.ENVELOPE_REVALIDATION_PENDING in {r.code for r in after.reasons}


def test_actions_in_window_reflects_recorded_decisions(
    store: LedgerStore, gate: Gate, make_request: Callable[..., ActionRequest]
) -> None:
    recorder = DecisionRecorder(gate, Ledger(store))
    times = [NOW - timedelta(minutes=m) for m in (200, 90, 61, 59, 30, 10, 1, 0)]
    decisions = [recorder.decide(make_request(), "tester", t) for t in times]
    assert all(d.tier is Tier.NOTIFY for d in decisions)
    # Decisions that did not run (deny, approve) take no slot in the window.
    break_glass = [{"arn": "arn:aws:iam::111122223333:role/OrganizationAccountAccessRole"}]
    denied = recorder.decide(make_request(resources=break_glass), "tester", NOW)
    low = recorder.decide(make_request(confidence=0.1), "tester", NOW)
    assert denied.tier is Tier.DENY
    assert low.tier in (Tier.DENY, Tier.APPROVE)
    for since in (
        NOW - timedelta(hours=5),
        NOW - timedelta(hours=1),
        NOW - timedelta(minutes=5),
        NOW,
    ):
        assert store.actions_in_window("remediator", R7, since) == sum(t >= since for t in times)
    assert store.actions_in_window("someone-else", R7, NOW - timedelta(days=1)) == 0
    assert store.actions_in_window("remediator", "R1-read", NOW - timedelta(days=1)) == 0
    # Every recorded decision is findable by id, with exactly the bytes the ledger holds.
    for d in (*decisions, denied, low):
        found = store.reads.decision(d.id)
        assert found is not None
        assert found.index == d.extra["ledger_index"]
        assert found.record.id == d.id
        assert json.loads(store.entry(found.index).body)["data"]["decision"]["id"] == d.id
    assert [e.index for e in store.reads.recent_decisions(3)] == [9, 8, 7]
    assert store.reads.decision("dec_missing") is None


def test_rate_window_closes_at_the_limit(
    store: LedgerStore, gate: Gate, make_request: Callable[..., ActionRequest]
) -> None:
    recorder = DecisionRecorder(gate, Ledger(store))
    tiers = [recorder.decide(make_request(), "tester", NOW).tier for _ in range(23)]
    assert tiers == [Tier.NOTIFY] * 20 + [Tier.APPROVE] * 3
    later = recorder.decide(make_request(), "tester", NOW + timedelta(hours=1, seconds=1))
    assert later.tier is Tier.NOTIFY
    assert store.actions_in_window("remediator", R7, NOW) == 21
    assert store.actions_in_window("remediator", R7, NOW + timedelta(microseconds=1)) == 1


@pytest.mark.parametrize("folder", ["a b", "a#b", "a?b", "a%20b", "a%b", "a%23b"])
def test_sqlite_scans_read_the_ledger_at_a_path_with_uri_characters(
    tmp_path: Path, log_key: SigningKey, folder: str
) -> None:
    """Verification and export stream through a second, read-only connection opened by
    URI: a '#', '?' or '%' in the path must not make it read (or create) another file."""
    decoy = SqliteStore(tmp_path / "a")  # what "file:.../a#b/..." would wrongly name
    decoy.append([note(1000 + i) for i in range(5)])
    decoy.close()
    store = SqliteStore(tmp_path / folder / "remit.db")
    try:
        written = [note(i) for i in range(3)]
        store.append(written)
        Ledger(store, log_key).checkpoint(NOW)
        assert [e.body for e in store.entries()] == [e.body for e in written]
        assert [b for _, b, _ in store.raw_rows()] == [e.body for e in written]
        report = verify_store(store, log_key)
        assert report.ok, report.problems
        assert report.size == 3
    finally:
        store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"a", folder})


@pytest.mark.postgres
def test_postgres_keeps_decision_sized_entries_in_their_row_uncompressed(pg_url: str) -> None:
    """Bodies up to ~8 KB stay in the row as written (no pglz pass on every append) and
    still read back byte for byte."""
    store = open_target(pg_url)
    try:  # about 3 KB each, and compressible: what a pglz pass would have shrunk
        bodies = [b'{"n": %d, "reasoning": "%s"}' % (i, b"check " * 500) for i in range(4)]
        store.append([raw(i, b) for i, b in enumerate(bodies)])
        assert [store.entry(i).body for i in range(4)] == bodies
    finally:
        store.close()
    with psycopg.connect(pg_url) as conn:
        options = conn.execute("SELECT reloptions FROM pg_class WHERE oid = 'entries'::regclass")
        assert "toast_tuple_target=8160" in (options.fetchone() or [[]])[0]
        sizes = conn.execute("SELECT pg_column_size(body), octet_length(body) FROM entries")
        assert all(stored >= length for stored, length in sizes.fetchall())
