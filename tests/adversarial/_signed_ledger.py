"""A small signed SQLite ledger for the verification regression tests of issue 12: real
decisions (recorded through the gate), organisational events and notes, checkpoints at
chosen sizes, and raw-SQL helpers a forger would use."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import timedelta
from pathlib import Path

from tests.conftest import EXAMPLES, NOW, SIGNED_AT

from remit.decide import Gate
from remit.domain import ActionRequest
from remit.domain.trust import EnvelopeTrust
from remit.envelope import load_envelope
from remit.ledger.kinds import NoteRecord
from remit.ledger.log import Ledger
from remit.ledger.records import make_entry
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.store import STORED_MIN_LEVEL, node_key
from remit.recorder.decisions import DecisionRecorder
from remit.signing.keys import SigningKey
from remit.tlog import merkle


def build(path: Path, key: SigningKey, size: int, checkpoints: set[int], seed: int = 7) -> None:
    """Decisions (about a third), events and notes, in a seeded order; a checkpoint
    signed whenever the size is in `checkpoints`. Entry i is made at NOW + i minutes."""
    loaded = load_envelope(EXAMPLES / "envelope.yaml")
    gate = Gate(loaded.envelope, loaded.digest, EnvelopeTrust(True, SIGNED_AT, "signed off"))
    request = ActionRequest.model_validate(json.loads((EXAMPLES / "request.json").read_text()))
    store = SqliteStore(path)
    ledger = Ledger(store, key)
    recorder = DecisionRecorder(gate, ledger)
    rng = random.Random(seed)
    try:
        for i in range(size):
            at = NOW + timedelta(minutes=i)
            roll = rng.random()
            if roll < 0.35:
                recorder.decide(request, "adversarial-test", at)
            elif roll < 0.45:
                ledger.record_event("model_update", at, f"event {i}", "adversarial-test", at)
            else:
                store.append([make_entry(NoteRecord({"i": i, "pad": "p" * (i % 40)}), at, "t")])
            if store.size() in checkpoints:
                ledger.checkpoint(at)
    finally:
        store.close()


def rows(conn: sqlite3.Connection) -> list[tuple[int, str, str, bytes, bytes]]:
    """(idx, ts, kind, body, leaf_hash) of every entry, in index order."""
    return [
        (int(i), t, k, bytes(b), bytes(h))
        for i, t, k, b, h in conn.execute(
            "SELECT idx, ts, kind, body, leaf_hash FROM entries ORDER BY idx"
        )
    ]


def rewrite_entries(conn: sqlite3.Connection, entries: list[tuple[str, str, bytes]]) -> None:
    """Replace the whole entries table by (ts, kind, body) in order, with correct leaf
    hashes: what a forger does to insert, delete or reorder without leaving a gap."""
    conn.execute("DELETE FROM entries")
    conn.executemany(
        "INSERT INTO entries(idx, ts, kind, body, leaf_hash) VALUES (?,?,?,?,?)",
        [(i, t, k, b, merkle.leaf_hash(b)) for i, (t, k, b) in enumerate(entries)],
    )


def recompute_nodes(conn: sqlite3.Connection) -> None:
    """Rebuild the stored tree nodes from the stored leaf hashes (the careful forger)."""
    hashes = [bytes(h) for (h,) in conn.execute("SELECT leaf_hash FROM entries ORDER BY idx")]
    compact = merkle.CompactRange()
    formed = compact.extend(hashes, nodes_from_level=STORED_MIN_LEVEL)
    conn.execute("DELETE FROM nodes")
    conn.executemany(
        "INSERT INTO nodes(id, hash) VALUES (?, ?)",
        [(node_key(level, index), value) for level, index, value in formed],
    )
