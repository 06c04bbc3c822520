"""Issue 12, item 1: `remit ledger verify` names the first bad entry. A property test makes
one random mutation of a small signed ledger (a flipped byte, a rewrite with its leaf hash
recomputed — with or without the tree nodes —, a flipped stored leaf hash, a swap, a
deletion, an insertion) and checks that the index verification names is the first index
mutated whenever the evidence pins it, and that the range it gives always holds it.

What pins it is documented in docs/ledger.md ("Verifying"): the stored leaf hash, a gap,
the entry's own content and index rows, and the stored nodes a signed checkpoint
authenticates (down to the 16-entry block they cover)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.adversarial._signed_ledger import build, recompute_nodes, rewrite_entries, rows

from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.verify import VerifyReport, verify_store
from remit.signing.keys import SigningKey, generate_signing_key
from remit.tlog import merkle

SIZE = 90
CHECKPOINTS = {5, 33, 64, SIZE}


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SigningKey]:
    key = generate_signing_key("example.com/remit-log")
    path = tmp_path_factory.mktemp("signed") / "remit.db"
    build(path, key, SIZE, CHECKPOINTS)
    return path, key


def _flip(data: bytes, pos: int, bit: int) -> bytes:
    pos %= len(data)
    return data[:pos] + bytes([data[pos] ^ (1 << bit)]) + data[pos + 1 :]


Mutate = Callable[[sqlite3.Connection, st.DataObject], int]


def flip_byte(conn: sqlite3.Connection, data: st.DataObject) -> int:
    i = data.draw(st.integers(0, SIZE - 1), "index")
    body = rows(conn)[i][3]
    new = _flip(body, data.draw(st.integers(0, 10_000)), data.draw(st.integers(0, 7)))
    conn.execute("UPDATE entries SET body = ? WHERE idx = ?", (new, i))
    return i


def flip_byte_rehash(conn: sqlite3.Connection, data: st.DataObject) -> int:
    i = flip_byte(conn, data)
    (body,) = conn.execute("SELECT body FROM entries WHERE idx = ?", (i,)).fetchone()
    conn.execute("UPDATE entries SET leaf_hash = ? WHERE idx = ?", (merkle.leaf_hash(body), i))
    return i


def flip_byte_rehash_nodes(conn: sqlite3.Connection, data: st.DataObject) -> int:
    i = flip_byte_rehash(conn, data)
    recompute_nodes(conn)
    return i


def flip_leaf_hash(conn: sqlite3.Connection, data: st.DataObject) -> int:
    i = data.draw(st.integers(0, SIZE - 1), "index")
    lh = rows(conn)[i][4]
    new = _flip(lh, data.draw(st.integers(0, 31)), data.draw(st.integers(0, 7)))
    conn.execute("UPDATE entries SET leaf_hash = ? WHERE idx = ?", (new, i))
    return i


def swap(conn: sqlite3.Connection, data: st.DataObject) -> int:
    i = data.draw(st.integers(0, SIZE - 2), "i")
    j = data.draw(st.integers(i + 1, SIZE - 1), "j")
    entries = [(t, k, b) for _, t, k, b, _ in rows(conn)]
    entries[i], entries[j] = entries[j], entries[i]
    rewrite_entries(conn, entries)
    return i


def delete_gap(conn: sqlite3.Connection, data: st.DataObject) -> int:
    i = data.draw(st.integers(0, SIZE - 2), "index")
    conn.execute("DELETE FROM entries WHERE idx = ?", (i,))
    return i


def delete_renumber(conn: sqlite3.Connection, data: st.DataObject) -> int:
    i = data.draw(st.integers(0, SIZE - 2), "index")
    entries = [(t, k, b) for _, t, k, b, _ in rows(conn)]
    del entries[i]
    rewrite_entries(conn, entries)
    return i


def insert_copy(conn: sqlite3.Connection, data: st.DataObject) -> int:
    """A copy of another entry slipped in at i, later ones renumbered."""
    i = data.draw(st.integers(0, SIZE - 1), "index")
    entries = [(t, k, b) for _, t, k, b, _ in rows(conn)]
    source = data.draw(st.integers(0, SIZE - 1).filter(lambda s: entries[s] != entries[i]))
    entries.insert(i, entries[source])
    rewrite_entries(conn, entries)
    return i


MUTATIONS: dict[str, Mutate] = {
    m.__name__: m
    for m in (
        flip_byte,
        flip_byte_rehash,
        flip_byte_rehash_nodes,
        flip_leaf_hash,
        swap,
        delete_gap,
        delete_renumber,
        insert_copy,
    )
}
EXACT = {"flip_byte", "flip_leaf_hash", "delete_gap"}
"""Always named exactly: the stored leaf hash or the gap says which entry."""


def mutated_report(
    signed: tuple[Path, SigningKey], copy: Path, kind: str, data: st.DataObject
) -> tuple[int, VerifyReport]:
    path, key = signed
    shutil.copy(path, copy)
    conn = sqlite3.connect(copy, isolation_level=None)
    try:
        conn.execute("BEGIN")
        touched = MUTATIONS[kind](conn, data)
        conn.execute("COMMIT")
    finally:
        conn.close()
    store = SqliteStore(copy, create=False)
    try:
        return touched, verify_store(store, key.verifier(), workers=1)
    finally:
        store.close()


@settings(
    max_examples=160,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(kind=st.sampled_from(sorted(MUTATIONS)), data=st.data())
def test_the_index_named_is_the_first_index_mutated(
    signed: tuple[Path, SigningKey], tmp_path: Path, kind: str, data: st.DataObject
) -> None:
    copy = tmp_path / f"{kind}.db"
    touched, report = mutated_report(signed, copy, kind, data)
    copy.unlink()
    assert not report.ok, kind
    found = report.first_bad_range
    assert found is not None, (kind, report.problems)
    assert found[0] <= touched <= found[1], (kind, touched, found, report.problems)
    if kind in EXACT or found[0] == found[1]:
        assert report.first_bad_index == touched, (kind, touched, found, report.problems)
    if kind != "flip_byte_rehash_nodes" and touched < 64:
        # Below the checkpoint at 64 (one stored node, (6, 0)), the stored nodes that
        # checkpoint authenticates bound the change to a 16-entry block. Past it, the
        # checkpoint at 90 also folds in hashes of fewer than 16 leaves (from the stored
        # leaf hashes a forger rewrote), so the hashes alone only say [64, 90).
        assert found[1] - found[0] < 16, (kind, touched, found, report.problems)
    if kind == "flip_leaf_hash":
        # Only a stored hash is wrong: every entry is proven intact, that hash is named.
        assert report.proven_intact == SIZE
    else:
        # What verification calls proven intact never holds the changed entry.
        assert report.proven_intact <= touched


def test_cli_names_the_rewritten_entry_exactly(
    signed: tuple[Path, SigningKey], tmp_path: Path
) -> None:
    """A decision rewritten with its leaf hash (and every node) recomputed: the hashes
    only bound it between two checkpoints, its index rows name it; the human output and
    `--format json` say the same index."""
    path, key = signed
    db = tmp_path / "remit.db"
    shutil.copy(path, db)
    conn = sqlite3.connect(db, isolation_level=None)
    target = next(i for i, _, k, _, _ in rows(conn) if k == "decision" and i > 40)
    body = rows(conn)[target][3].replace(b'"adversarial-test"', b'"someone-else"')
    conn.execute(
        "UPDATE entries SET body = ?, leaf_hash = ? WHERE idx = ?",
        (body, merkle.leaf_hash(body), target),
    )
    recompute_nodes(conn)
    conn.close()
    pub = tmp_path / "log.pub"
    pub.write_text(key.verifier().to_vkey() + "\n")
    base = [sys.executable, "-m", "remit.cli", "ledger", "verify", "--db", str(db),
            "--public-key", str(pub)]  # fmt: skip
    human = subprocess.run(base, capture_output=True, text=True, check=False, timeout=120)
    assert human.returncode == 1, human.stderr
    assert f"first bad index: {target}" in human.stderr, human.stderr
    js = subprocess.run(
        [*base, "--format", "json"], capture_output=True, text=True, check=False, timeout=120
    )
    assert js.returncode == 1, js.stderr
    out = json.loads(js.stdout)
    assert out["ok"] is False and out["first_bad_index"] == target
    assert out["first_bad_range"][1] == target
