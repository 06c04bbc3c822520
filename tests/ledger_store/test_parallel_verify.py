"""Parallel verification (large logs): leaf hashing spread over worker processes must give
exactly the report the serial path gives — on an honest log and on tampered ones."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from remit.ledger.kinds import NoteRecord
from remit.ledger.log import Ledger
from remit.ledger.records import make_entry
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.verify import verify_store
from remit.signing.keys import SigningKey, generate_signing_key

NOW = datetime(2026, 11, 21, tzinfo=UTC)


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_signing_key("remit.test/parallel")


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory, key: SigningKey) -> Path:
    path = tmp_path_factory.mktemp("parallel") / "ledger.db"
    store = SqliteStore(path)
    ledger = Ledger(store, key)
    for batch in range(6):
        store.append(
            [make_entry(NoteRecord({"n": batch * 1000 + i}), NOW, "tester") for i in range(997)]
        )
        ledger.checkpoint(NOW)
    store.close()
    return path


def both(path: Path, key: SigningKey) -> tuple[object, object]:
    store = SqliteStore(path, create=False)
    try:
        serial = verify_store(store, key.verifier(), workers=1)
        parallel = verify_store(store, key.verifier(), workers=2, parallel_from=1, range_size=333)
    finally:
        store.close()
    return serial, parallel


def test_parallel_and_serial_agree_on_an_honest_log(honest: Path, key: SigningKey) -> None:
    serial, parallel = both(honest, key)
    assert serial.ok and parallel.ok, (serial.problems, parallel.problems)  # type: ignore[attr-defined]
    assert parallel.__dict__ == serial.__dict__


@pytest.mark.parametrize("target", [0, 1, 332, 333, 2500, 5981])
def test_parallel_finds_the_same_tampered_entry(
    honest: Path, key: SigningKey, tmp_path: Path, target: int
) -> None:
    copy = tmp_path / "ledger.db"
    shutil.copy(honest, copy)
    with sqlite3.connect(copy) as conn:
        (body,) = conn.execute("SELECT body FROM entries WHERE idx = ?", (target,)).fetchone()
        flipped = bytes([body[0] ^ 1]) + body[1:]
        conn.execute("UPDATE entries SET body = ? WHERE idx = ?", (flipped, target))
    serial, parallel = both(copy, key)
    assert not serial.ok and not parallel.ok  # type: ignore[attr-defined]
    assert serial.first_bad_index == parallel.first_bad_index == target  # type: ignore[attr-defined]
    assert parallel.problems == serial.problems  # type: ignore[attr-defined]
