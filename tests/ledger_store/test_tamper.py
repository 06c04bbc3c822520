"""Tamper evidence: any change to a signed SQLite ledger is detected. An honest log of 200
entries with checkpoints at several sizes is copied, and each copy gets one seeded random
mutation made with raw sqlite3 (or on the file itself): a flipped byte in an entry or its
stored leaf hash, a deleted, swapped or truncated row, a forged or relabelled checkpoint,
a corrupted, missing or extra tree node, a truncated database file. `verify_log` (or
opening the store) must never report such a copy ok. Audit bundles likewise: a bundle
verifies as written, and fails once a leaf, an entry or the order is changed.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import EXAMPLES, NOW, SIGNED_AT

from remit.decide import Gate
from remit.domain import ActionRequest
from remit.domain.trust import EnvelopeTrust
from remit.envelope import load_envelope
from remit.ledger.bundle import read_bundle, write_bundle
from remit.ledger.kinds import NoteRecord
from remit.ledger.log import Ledger
from remit.ledger.records import make_entry
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.store import LedgerUnavailable, node_key, split_node_key
from remit.ledger.verify import VerifyReport, verify_log, verify_store
from remit.recorder.decisions import DecisionRecorder
from remit.signing.keys import SigningKey, generate_signing_key, parse_vkey
from remit.tlog import merkle
from remit.tlog.checkpoint import Checkpoint, sign_checkpoint

SIZE = 200
CHECKPOINT_SIZES = (1, 16, 37, 64, 100, 128, 173, SIZE)
DEFAULT_CASES = 60
SLOW_CASES = 600


@dataclass(frozen=True)
class Honest:
    path: Path
    key: SigningKey
    impostor: SigningKey
    bodies: list[bytes]


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory, log_key: SigningKey) -> Honest:
    """An honest log: decisions, events and notes, checkpoints at CHECKPOINT_SIZES."""
    path = tmp_path_factory.mktemp("honest") / "remit.db"
    loaded = load_envelope(EXAMPLES / "envelope.yaml")
    gate = Gate(loaded.envelope, loaded.digest, EnvelopeTrust(True, SIGNED_AT, "signed off"))
    request = ActionRequest.model_validate(json.loads((EXAMPLES / "request.json").read_text()))
    store = SqliteStore(path)
    ledger = Ledger(store, log_key)
    recorder = DecisionRecorder(gate, ledger)
    rng = random.Random(1)
    for i in range(SIZE):
        roll = rng.random()
        if roll < 0.3:
            recorder.decide(request, "tamper-test", NOW + timedelta(minutes=i))
        elif roll < 0.4:
            ledger.record_event("model_update", NOW, f"event {i}", "tamper-test", NOW)
        else:
            store.append(
                [make_entry(NoteRecord({"i": i, "pad": "p" * (i % 90)}), NOW, "tamper-test")]
            )
        if store.size() in CHECKPOINT_SIZES:
            ledger.checkpoint(NOW + timedelta(minutes=i))
    assert store.size() == SIZE
    assert [c.size for c in store.checkpoints()] == list(CHECKPOINT_SIZES)
    bodies = [e.body for e in store.entries()]
    store.close()  # the last connection checkpoints the WAL into the one file
    assert not Path(str(path) + "-wal").exists()
    impostor = generate_signing_key(log_key.name)
    return Honest(path, log_key, impostor, bodies)


def detect(path: Path, key: SigningKey) -> VerifyReport | str:
    """What verification says: a report, or why the store could not even be read."""
    try:
        store = SqliteStore(path, create=False)
    except LedgerUnavailable as exc:
        return f"open failed: {exc}"
    try:
        return verify_store(store, key.verifier(), workers=1)
    except LedgerUnavailable as exc:  # a storage failure never escapes as a driver error
        return f"read failed: {exc}"
    finally:
        store.close()


# -- mutations: each changes a copy and says the earliest entry it touched (if any) -------

Mutation = Callable[[sqlite3.Connection, random.Random, Honest], int | None]


def _flip(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return b"\x00"
    pos = rng.randrange(len(data))
    return data[:pos] + bytes([data[pos] ^ rng.randint(1, 255)]) + data[pos + 1 :]


def _row(conn: sqlite3.Connection, idx: int) -> tuple[Any, ...]:
    row: tuple[Any, ...] = conn.execute(
        "SELECT ts, kind, body, leaf_hash FROM entries WHERE idx = ?", (idx,)
    ).fetchone()
    return row


def flip_entry_byte(conn: sqlite3.Connection, rng: random.Random, h: Honest) -> int:
    idx = rng.randrange(SIZE)
    body = _row(conn, idx)[2]
    conn.execute("UPDATE entries SET body = ? WHERE idx = ?", (_flip(body, rng), idx))
    return idx


def flip_entry_byte_and_rehash(conn: sqlite3.Connection, rng: random.Random, h: Honest) -> int:
    """The careful forger also fixes the stored leaf hash."""
    idx = rng.randrange(SIZE)
    body = _flip(_row(conn, idx)[2], rng)
    conn.execute(
        "UPDATE entries SET body = ?, leaf_hash = ? WHERE idx = ?",
        (body, merkle.leaf_hash(body), idx),
    )
    return idx


def flip_leaf_hash_byte(conn: sqlite3.Connection, rng: random.Random, h: Honest) -> int:
    idx = rng.randrange(SIZE)
    lh = _row(conn, idx)[3]
    conn.execute("UPDATE entries SET leaf_hash = ? WHERE idx = ?", (_flip(lh, rng), idx))
    return idx


def delete_row(conn: sqlite3.Connection, rng: random.Random, h: Honest) -> int:
    idx = rng.randrange(SIZE)
    conn.execute("DELETE FROM entries WHERE idx = ?", (idx,))
    return idx


def swap_rows(conn: sqlite3.Connection, rng: random.Random, h: Honest) -> int:
    i, j = sorted(rng.sample(range(SIZE), 2))
    a, b = _row(conn, i), _row(conn, j)
    for idx, (ts, kind, body, lh) in ((i, b), (j, a)):
        conn.execute(
            "UPDATE entries SET ts = ?, kind = ?, body = ?, leaf_hash = ? WHERE idx = ?",
            (ts, kind, body, lh, idx),
        )
    return i


def truncate_entries(conn: sqlite3.Connection, rng: random.Random, h: Honest) -> int:
    """Cut the log back below the last checkpoint, and remove the nodes that would
    betray it: only the signed checkpoint still remembers the lost entries."""
    keep = rng.randrange(1, SIZE)
    conn.execute("DELETE FROM entries WHERE idx >= ?", (keep,))
    for (nid,) in conn.execute("SELECT id FROM nodes").fetchall():
        level, index = split_node_key(nid)
        if merkle.leaf_range(level, index)[1] > keep:
            conn.execute("DELETE FROM nodes WHERE id = ?", (nid,))
    return keep


def _pick_checkpoint(conn: sqlite3.Connection, rng: random.Random) -> tuple[int, bytes]:
    rows = conn.execute("SELECT size, root FROM checkpoints ORDER BY size").fetchall()
    size, root = rng.choice(rows)
    return int(size), bytes(root)


def checkpoint_by_impostor(conn: sqlite3.Connection, rng: random.Random, h: Honest) -> None:
    """The right statement (size, root), signed by another key of the same name."""
    size, root = _pick_checkpoint(conn, rng)
    note = sign_checkpoint(Checkpoint(h.key.name, size, root), h.impostor)
    conn.execute("UPDATE checkpoints SET note = ? WHERE size = ?", (note, size))


def checkpoint_by_stranger(conn: sqlite3.Connection, rng: random.Random, h: Honest) -> None:
    size, root = _pick_checkpoint(conn, rng)
    stranger = generate_signing_key("example.org/other-log")
    note = sign_checkpoint(Checkpoint(stranger.name, size, root), stranger)
    conn.execute("UPDATE checkpoints SET note = ? WHERE size = ?", (note, size))


def checkpoint_wrong_root(conn: sqlite3.Connection, rng: random.Random, h: Honest) -> None:
    """Signed by the right key, over a root the entries do not have."""
    size, root = _pick_checkpoint(conn, rng)
    choices = [
        _flip(root, rng),
        merkle.root_of([merkle.leaf_hash(b) for b in h.bodies[: max(0, size - 1)]]),
        merkle.root_of([merkle.leaf_hash(b) for b in h.bodies[: size + 1]]),
    ]
    wrong = rng.choice([c for c in choices if c != root])
    note = sign_checkpoint(Checkpoint(h.key.name, size, wrong), h.key)
    conn.execute("UPDATE checkpoints SET note = ?, root = ? WHERE size = ?", (note, wrong, size))


def checkpoint_relabelled(conn: sqlite3.Connection, rng: random.Random, h: Honest) -> None:
    """A genuine note stored under another size."""
    size, _ = _pick_checkpoint(conn, rng)
    free = sorted(set(range(SIZE + 1)) - set(CHECKPOINT_SIZES))
    conn.execute("UPDATE checkpoints SET size = ? WHERE size = ?", (rng.choice(free), size))


def _pick_node(conn: sqlite3.Connection, rng: random.Random) -> tuple[int, bytes]:
    nid, value = rng.choice(conn.execute("SELECT id, hash FROM nodes ORDER BY id").fetchall())
    return int(nid), bytes(value)


def corrupt_node(conn: sqlite3.Connection, rng: random.Random, h: Honest) -> int:
    nid, value = _pick_node(conn, rng)
    conn.execute("UPDATE nodes SET hash = ? WHERE id = ?", (_flip(value, rng), nid))
    return merkle.leaf_range(*split_node_key(nid))[0]


def delete_node(conn: sqlite3.Connection, rng: random.Random, h: Honest) -> int:
    nid, _ = _pick_node(conn, rng)
    conn.execute("DELETE FROM nodes WHERE id = ?", (nid,))
    return merkle.leaf_range(*split_node_key(nid))[0]


def extra_node(conn: sqlite3.Connection, rng: random.Random, h: Honest) -> None:
    """A node for leaves the log does not have (a forged future)."""
    level = rng.randint(4, 8)
    index = (SIZE >> level) + rng.randint(1, 3)
    conn.execute(
        "INSERT INTO nodes(id, hash) VALUES (?, ?)", (node_key(level, index), rng.randbytes(32))
    )


ROW_MUTATIONS: list[Mutation] = [
    flip_entry_byte,
    flip_entry_byte_and_rehash,
    flip_leaf_hash_byte,
    delete_row,
    swap_rows,
    truncate_entries,
    checkpoint_by_impostor,
    checkpoint_by_stranger,
    checkpoint_wrong_root,
    checkpoint_relabelled,
    corrupt_node,
    delete_node,
    extra_node,
]
KINDS = [m.__name__ for m in ROW_MUTATIONS] + ["truncate_file"]
EXACT = {
    "flip_entry_byte",  # the stored leaf hash no longer matches
    "flip_leaf_hash_byte",
    "delete_row",  # a gap
    "truncate_entries",  # the first entry a signed checkpoint needs is missing
    "corrupt_node",  # the entries are proven intact: the node itself is named
    "delete_node",
}
"""Mutations verification names exactly; the others (a rewrite with its leaf hash
recomputed, a swap) are named exactly when the entry's content or index rows give it away,
else bounded to the 16-entry block whose stored node the signed checkpoint authenticates."""


def _case(n: int) -> Any:
    kind = KINDS[n % len(KINDS)]
    marks = [pytest.mark.slow] if n >= DEFAULT_CASES else []
    return pytest.param(n, kind, id=f"{n:03d}-{kind}", marks=marks)


def test_untouched_copy_verifies(honest: Honest, tmp_path: Path) -> None:
    """The control: copying the file is not what makes the mutated copies fail."""
    copy = tmp_path / "remit.db"
    shutil.copy(honest.path, copy)
    result = detect(copy, honest.key)
    assert isinstance(result, VerifyReport), result
    assert result.ok, result.problems
    assert result.size == SIZE
    assert result.checkpoints_checked == len(CHECKPOINT_SIZES)


@pytest.mark.parametrize(("case", "kind"), [_case(n) for n in range(SLOW_CASES)])
def test_every_mutation_is_detected(honest: Honest, tmp_path: Path, case: int, kind: str) -> None:
    rng = random.Random(f"tamper-{case}")
    copy = tmp_path / "remit.db"
    shutil.copy(honest.path, copy)
    touched: int | None = None
    if kind == "truncate_file":
        length = copy.stat().st_size
        cut = rng.choice([rng.randint(1, 100), rng.randint(1, 8192), rng.randint(1, length - 1)])
        with copy.open("r+b") as f:
            f.truncate(length - cut)
        what = f"cut {cut} of {length} bytes"
    else:
        mutate = ROW_MUTATIONS[KINDS.index(kind)]
        conn = sqlite3.connect(copy, isolation_level=None)
        try:
            conn.execute("BEGIN")
            touched = mutate(conn, rng, honest)
            conn.execute("COMMIT")
        finally:
            conn.close()
        what = kind
    result = detect(copy, honest.key)
    if isinstance(result, str):
        # The store refused to read it: detected. Only a damaged file may end this way;
        # a well-formed database with forged rows must be caught by verification.
        assert kind == "truncate_file", result
        return
    assert not result.ok, f"{what} was not detected"
    if touched is not None:
        found = result.first_bad_range
        assert found is not None, (what, result.problems)
        assert found[0] <= touched <= found[1], (what, touched, found, result.problems)
        if kind in EXACT or found[0] == found[1]:
            assert result.first_bad_index == touched, (what, touched, found, result.problems)


def _reads(store: SqliteStore) -> list[Callable[[], object]]:
    return [
        lambda: list(store.raw_rows()),
        lambda: list(store.entries()),
        store.stored_nodes,
        store.checkpoints,
        store.latest_checkpoint,
        store.size,
        store.root,
        lambda: store.leaf_hashes(0, SIZE),
        lambda: store.inclusion_proof(SIZE - 1, SIZE),
        lambda: store.consistency_proof(1, SIZE),
        lambda: store.reads.recent_decisions(SIZE),
    ]


def test_damaged_file_reads_fail_as_ledger_unavailable(honest: Honest, tmp_path: Path) -> None:
    """Every read of a damaged file either works or raises LedgerUnavailable: callers
    (the CLI's verify among them) catch that one error, never a raw driver error."""
    read_failures = 0
    for cut in (600, 1200, 2000, 3000, 4000):
        copy = tmp_path / f"cut{cut}.db"
        shutil.copy(honest.path, copy)
        with copy.open("r+b") as f:
            f.truncate(copy.stat().st_size - cut)
        try:
            store = SqliteStore(copy, create=False)
        except LedgerUnavailable:
            continue
        try:
            for read in _reads(store):
                try:
                    read()
                except LedgerUnavailable:
                    read_failures += 1
        finally:
            store.close()
    assert read_failures > 0


# -- audit bundles ------------------------------------------------------------------------


def _write(honest: Honest, out: Path) -> dict[str, Any]:
    store = SqliteStore(honest.path, create=False)
    try:
        with out.open("w", encoding="utf-8") as f:
            n = write_bundle(store, honest.key.verifier().to_vkey(), f)
    finally:
        store.close()
    assert n == SIZE
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def _verify_bundle(path: Path, key: SigningKey) -> VerifyReport:
    b = read_bundle(path)
    return verify_log(b.rows(), b.checkpoints, key.verifier())


def test_bundle_round_trip_verifies(honest: Honest, tmp_path: Path) -> None:
    out = tmp_path / "bundle.json"
    data = _write(honest, out)
    assert [base64.b64decode(e["leaf"]) for e in data["entries"]] == honest.bodies
    assert parse_vkey(read_bundle(out).public_key) == honest.key.verifier()
    report = _verify_bundle(out, honest.key)
    assert report.ok, report.problems
    assert report.size == SIZE
    assert report.root == merkle.root_of([merkle.leaf_hash(b) for b in honest.bodies])
    assert report.checkpoints_checked == len(CHECKPOINT_SIZES)
    assert not _verify_bundle(out, honest.impostor).ok


def _bundle_flip_leaf(entries: list[dict[str, Any]], rng: random.Random) -> None:
    e = rng.choice(entries)
    e["leaf"] = base64.b64encode(_flip(base64.b64decode(e["leaf"]), rng)).decode()


def _bundle_drop_entry(entries: list[dict[str, Any]], rng: random.Random) -> None:
    del entries[rng.randrange(len(entries))]


def _bundle_swap_pair(entries: list[dict[str, Any]], rng: random.Random) -> None:
    i, j = rng.sample(range(len(entries)), 2)
    entries[i], entries[j] = entries[j], entries[i]


def _bundle_swap_leaves(entries: list[dict[str, Any]], rng: random.Random) -> None:
    """Reordered leaves under unchanged index numbers."""
    i, j = rng.sample(range(len(entries)), 2)
    entries[i]["leaf"], entries[j]["leaf"] = entries[j]["leaf"], entries[i]["leaf"]


@pytest.mark.parametrize(
    "mutate", [_bundle_flip_leaf, _bundle_drop_entry, _bundle_swap_pair, _bundle_swap_leaves]
)
@pytest.mark.parametrize("seed", range(3))
def test_mutated_bundle_fails(
    honest: Honest, tmp_path: Path, mutate: Callable[..., None], seed: int
) -> None:
    out = tmp_path / "bundle.json"
    data = _write(honest, out)
    mutate(data["entries"], random.Random(seed))
    out.write_text(json.dumps(data))
    report = _verify_bundle(out, honest.key)
    assert not report.ok
