"""Item 3 of issue 12, at the store: a ledger that cannot be written is refused loudly
(never opened read-only behind the caller's back), a read-only mode serves the commands
that only read, and a store that lost its file's writability recovers by itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.adversarial.rootfs import fill, immutable, ledger_files, tiny_tmpfs

from remit.domain.clock import utcnow
from remit.ledger.kinds import NoteRecord
from remit.ledger.records import make_entry
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.store import LedgerUnavailable


def _note() -> list:  # type: ignore[type-arg]
    return [make_entry(NoteRecord({"n": 1}), utcnow(), "tester")]


def _seed(path: Path, n: int = 3) -> None:
    s = SqliteStore(path)
    for _ in range(n):
        s.append(_note())
    s.close()


def test_an_immutable_ledger_is_refused_when_opened_to_write(tmp_path: Path) -> None:
    path = tmp_path / "remit.db"
    _seed(path)
    with immutable(ledger_files(path)):
        with pytest.raises(LedgerUnavailable) as err:
            SqliteStore(path)
        assert str(path) in str(err.value)
        assert "not writable" in str(err.value)


def test_read_only_mode_reads_an_immutable_ledger(tmp_path: Path) -> None:
    path = tmp_path / "remit.db"
    _seed(path)
    with immutable([*ledger_files(path), tmp_path]):
        ro = SqliteStore(path, read_only=True)
        try:
            assert ro.size() == 3
            assert [e.index for e in ro.entries()] == [0, 1, 2]
            with pytest.raises(LedgerUnavailable, match="read-only"):
                ro.append(_note())
        finally:
            ro.close()


def test_read_only_mode_never_creates_a_ledger(tmp_path: Path) -> None:
    with pytest.raises(LedgerUnavailable, match="no ledger"):
        SqliteStore(tmp_path / "none.db", read_only=True)
    assert not (tmp_path / "none.db").exists()


def test_a_ledger_made_immutable_while_open_fails_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "remit.db"
    store = SqliteStore(path)
    try:
        store.append(_note())
        with immutable(ledger_files(path)):
            with pytest.raises(LedgerUnavailable, match="not writable"):
                store.append(_note())
            with pytest.raises(LedgerUnavailable, match="not writable"):
                store.probe()
        store.probe()
        assert store.append(_note()) == [1]  # reconnected: writes again, gap-free
    finally:
        store.close()


def test_a_full_file_system_fails_writes_then_recovers(tmp_path: Path) -> None:
    with tiny_tmpfs(tmp_path / "fs") as fs:
        path = fs / "remit.db"
        store = SqliteStore(path)
        try:
            store.append(_note())
            filler = fill(fs)
            with pytest.raises(LedgerUnavailable, match="disk full"):
                store.probe()
            big = [make_entry(NoteRecord({"pad": "x" * 200_000}), utcnow(), "t")]
            with pytest.raises(LedgerUnavailable):
                store.append(big)
            filler.unlink()
            store.probe()
            assert store.append(_note()) == [1]
        finally:
            store.close()


def test_a_removed_ledger_fails_writes_and_is_not_started_again(tmp_path: Path) -> None:
    path = tmp_path / "remit.db"
    store = SqliteStore(path)
    try:
        store.append(_note())
        for p in ledger_files(path):
            p.unlink()
        for _ in range(2):  # the second attempt reconnects: still no new empty ledger
            with pytest.raises(LedgerUnavailable, match="does not exist"):
                store.append(_note())
        with pytest.raises(LedgerUnavailable):
            store.probe()
        assert not path.exists()
    finally:
        store.close()
