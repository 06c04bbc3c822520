"""Fail closed: when a decision cannot be recorded on the ledger, `DecisionRecorder.decide`
answers deny with reason LEDGER_UNAVAILABLE and `extra["recorded"] is False`, nothing is
appended, and an allow is never returned for an unrecorded decision. Covered on SQLite
(folder or file removed or replaced under an open store, read-only file, closed store,
lock held by another connection, full disk) and on PostgreSQL (server down, session
terminated, append lock held by another session), plus errors injected into the append.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.conftest import NOW
from tests.ledger_store import _workers
from tests.ledger_store.conftest import open_target

from remit.decide import Gate
from remit.domain import ActionRequest
from remit.domain.decisions import Decision
from remit.domain.reasons import ReasonCode
from remit.domain.tiers import Tier
from remit.ledger.kinds import NoteRecord
from remit.ledger.log import Ledger
from remit.ledger.open import open_store
from remit.ledger.postgres_store import PostgresStore
from remit.ledger.records import make_entry
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.store import LedgerStore, LedgerUnavailable, node_key
from remit.recorder.decisions import DecisionRecorder

APPEND_LOCK = 0x52454D4954  # the advisory lock PostgresStore appends under


def assert_denied_unrecorded(d: Decision) -> None:
    assert d.tier is Tier.DENY, d.reasons
    assert ReasonCode.LEDGER_UNAVAILABLE in {r.code for r in d.reasons}
    assert d.extra.get("recorded") is False
    assert "ledger_index" not in d.extra


def assert_recorded(d: Decision, index: int) -> None:
    assert d.tier is Tier.NOTIFY, d.reasons
    assert ReasonCode.LEDGER_UNAVAILABLE not in {r.code for r in d.reasons}
    assert d.extra == {"ledger_index": index}


def seed(store: LedgerStore, n: int = 3) -> int:
    store.append([make_entry(NoteRecord({"seed": i}), NOW, "tester") for i in range(n)])
    return store.size()


def size_at(target: str) -> int:
    """The ledger's size as a fresh store on `target` sees it."""
    s = open_target(target)
    try:
        return s.size()
    finally:
        s.close()


@contextmanager
def raw_connection(target: str) -> Iterator[Any]:
    """A plain driver connection to the ledger, in autocommit mode."""
    if target.startswith("postgresql://"):
        with psycopg.connect(target, autocommit=True) as pg:
            yield pg
    else:
        lite = sqlite3.connect(target, isolation_level=None)
        try:
            yield lite
        finally:
            lite.close()


# -- SQLite: the file goes away or cannot be written -------------------------------------


@pytest.mark.parametrize("how", ["folder-removed", "files-removed", "folder-moved"])
def test_sqlite_file_gone_under_an_open_store_denies(
    tmp_path: Path, gate: Gate, make_request: Callable[..., ActionRequest], how: str
) -> None:
    """An append into a database file that was unlinked or moved away would be 'committed'
    where no one reads the ledger: that must not count as recorded."""
    folder = tmp_path / "ledger"
    path = folder / "remit.db"
    store = SqliteStore(path)
    try:
        before = seed(store)
        recorder = DecisionRecorder(gate, Ledger(store))
        assert_recorded(recorder.decide(make_request(), "tester", NOW), before)
        before += 1
        if how == "folder-removed":
            shutil.rmtree(folder)
        elif how == "files-removed":
            for p in folder.iterdir():
                p.unlink()
        else:
            folder.rename(tmp_path / "moved")
        for _ in range(3):
            assert_denied_unrecorded(recorder.decide(make_request(), "tester", NOW))
        with pytest.raises(LedgerUnavailable):
            store.append([make_entry(NoteRecord({}), NOW, "tester")])
        assert store.size() == before  # nothing committed, even into the orphaned file
    finally:
        store.close()
    if how == "folder-moved":
        assert size_at(str(tmp_path / "moved" / "remit.db")) == before


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="running as root: file permissions do not stop root from writing",
)
def test_sqlite_read_only_file_fails_to_open_or_denies(
    tmp_path: Path, gate: Gate, make_request: Callable[..., ActionRequest]
) -> None:
    folder = tmp_path / "ledger"
    path = folder / "remit.db"
    store = SqliteStore(path)
    before = seed(store)
    store.close()
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        try:
            ro = SqliteStore(path, create=False)
        except LedgerUnavailable:
            pass
        else:
            try:
                d = DecisionRecorder(gate, Ledger(ro)).decide(make_request(), "tester", NOW)
                assert_denied_unrecorded(d)
            finally:
                ro.close()
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)
    assert size_at(str(path)) == before


def test_sqlite_full_disk_denies_then_recovers(tmp_path: Path) -> None:
    """Writes fail with EFBIG past RLIMIT_FSIZE (a full disk, in a subprocess): every
    decision is denied unrecorded; once space is back the next one lands gap-free."""
    path = tmp_path / "ledger" / "remit.db"
    proc = _workers.start("diskfull", str(path))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    before = result["before"]
    assert before == 5
    for d in result["full"]:
        assert d["tier"] == "deny", d
        assert "LEDGER_UNAVAILABLE" in d["codes"]
        assert d["extra"] == {"recorded": False}
    assert result["size_while_full"] == before
    assert result["after"]["tier"] == "notify"
    assert result["after"]["extra"] == {"ledger_index": before}
    assert result["size_after"] == before + 1
    s = SqliteStore(path, create=False)
    try:
        assert [e.index for e in s.entries()] == list(range(before + 1))
    finally:
        s.close()


# -- both stores -------------------------------------------------------------------------


def test_closed_store_denies(
    db_target: str, gate: Gate, make_request: Callable[..., ActionRequest]
) -> None:
    store = open_target(db_target)
    before = seed(store)
    recorder = DecisionRecorder(gate, Ledger(store))
    store.close()
    for _ in range(2):
        assert_denied_unrecorded(recorder.decide(make_request(), "tester", NOW))
    assert size_at(db_target) == before


@contextmanager
def append_lock_held(target: str) -> Iterator[None]:
    """Another session holds the ledger's append lock."""
    with raw_connection(target) as conn:
        if target.startswith("postgresql://"):
            conn.execute("SELECT pg_advisory_lock(%s)", (APPEND_LOCK,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (APPEND_LOCK,))
        else:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                conn.execute("ROLLBACK")


def test_append_lock_held_elsewhere_denies_within_the_timeout(
    db_target: str, gate: Gate, make_request: Callable[..., ActionRequest]
) -> None:
    timeout_ms = 200
    if db_target.startswith("postgresql://"):
        store: LedgerStore = PostgresStore(db_target, lock_timeout_ms=timeout_ms)
    else:
        store = SqliteStore(db_target, busy_timeout_ms=timeout_ms)
    try:
        before = seed(store)
        recorder = DecisionRecorder(gate, Ledger(store))
        with append_lock_held(db_target):
            for _ in range(2):
                t0 = time.monotonic()
                d = recorder.decide(make_request(), "tester", NOW)
                elapsed = time.monotonic() - t0
                assert_denied_unrecorded(d)
                assert timeout_ms / 1000 * 0.5 <= elapsed < 5, elapsed
            assert store.size() == before
        # The lock released, the next decision is recorded right after the seed entries.
        assert_recorded(recorder.decide(make_request(), "tester", NOW), before)
        assert store.size() == before + 1
    finally:
        store.close()


def test_an_append_waiting_for_another_writer_goes_in_once_it_is_released(
    tmp_path: Path, gate: Gate, make_request: Callable[..., ActionRequest]
) -> None:
    """SQLite: the store waits for another connection's write lock in short steps (not
    SQLite's 1, 2, 5… ms sleeps) and keeps its busy timeout for everything else."""
    target = str(tmp_path / "ledger.db")
    store = SqliteStore(target, busy_timeout_ms=5000)
    try:
        before = seed(store)
        recorder = DecisionRecorder(gate, Ledger(store))
        other = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.3, other.execute, ("ROLLBACK",))
        release.start()
        t0 = time.monotonic()
        decision = recorder.decide(make_request(), "tester", NOW)
        waited = time.monotonic() - t0
        release.join()
        other.close()
        assert_recorded(decision, before)
        assert 0.25 <= waited < 5, waited  # it waited for the other write, then went in
        conn = store._usable(writing=True)
        assert conn.execute("PRAGMA busy_timeout").fetchone() == (5000,)
    finally:
        store.close()


class Boom(Exception):
    pass


def _errors() -> list[Any]:
    return [
        pytest.param(lambda: sqlite3.OperationalError("disk I/O error"), id="sqlite3-io"),
        pytest.param(
            lambda: psycopg.OperationalError("server closed the connection"), id="psycopg"
        ),
        pytest.param(lambda: LedgerUnavailable("ledger gone"), id="ledger-unavailable"),
        pytest.param(lambda: OSError(28, "No space left on device"), id="oserror"),
        pytest.param(lambda: Boom("a bug"), id="other-exception"),
    ]


@pytest.mark.parametrize("make_error", _errors())
def test_append_raising_after_the_gate_ran_never_allows(
    store: LedgerStore,
    gate: Gate,
    make_request: Callable[..., ActionRequest],
    monkeypatch: pytest.MonkeyPatch,
    make_error: Callable[[], BaseException],
) -> None:
    """The gate decided (notify: the action would run), then the append raised."""
    before = seed(store)
    ran: list[int] = []

    def broken(build: Callable[..., Any]) -> Any:
        entries = build(store, store.size())
        ran.append(len(entries))
        raise make_error()

    monkeypatch.setattr(store, "append_computed", broken)
    d = DecisionRecorder(gate, Ledger(store)).decide(make_request(), "tester", NOW)
    assert ran == [1]
    assert_denied_unrecorded(d)
    assert ReasonCode.RULE_MATCHED in {r.code for r in d.reasons}  # the gate's own reasons
    monkeypatch.undo()
    assert store.size() == before


@pytest.mark.parametrize("make_error", _errors())
def test_error_inside_the_append_transaction_rolls_back(
    store: LedgerStore,
    gate: Gate,
    make_request: Callable[..., ActionRequest],
    monkeypatch: pytest.MonkeyPatch,
    make_error: Callable[[], BaseException],
) -> None:
    """The real append transaction: the gate ran under the lock, then a failure: deny,
    rolled back, and the next decision takes the very next index."""
    before = seed(store)
    real = store.append_computed
    fail = [True]

    def failing(build: Callable[..., Any]) -> Any:
        def wrapped(state: Any, size: int) -> Any:
            entries = build(state, size)
            if fail[0]:
                raise make_error()
            return entries

        return real(wrapped)

    monkeypatch.setattr(store, "append_computed", failing)
    recorder = DecisionRecorder(gate, Ledger(store))
    assert_denied_unrecorded(recorder.decide(make_request(), "tester", NOW))
    assert store.size() == before
    fail[0] = False
    assert_recorded(recorder.decide(make_request(), "tester", NOW), before)


def test_write_failing_midway_rolls_back_every_row(
    db_target: str, store: LedgerStore, gate: Gate, make_request: Callable[..., ActionRequest]
) -> None:
    """The entry row is inserted, then the node insert hits a conflicting row: the whole
    transaction rolls back (no entry, decision or window row survives) and it is a deny."""
    before = seed(store, 15)  # the 16th leaf completes stored node (4, 0)
    with raw_connection(db_target) as conn:
        conn.execute(
            store._sql("INSERT INTO nodes(id, hash) VALUES (?, ?)"), (node_key(4, 0), b"x" * 32)
        )
    recorder = DecisionRecorder(gate, Ledger(store))
    d = recorder.decide(make_request(), "tester", NOW)
    assert_denied_unrecorded(d)
    assert store.size() == before
    assert store.reads.decision(d.id) is None
    assert store.actions_in_window("remediator", "R7-revoke-stale", NOW) == 0
    with raw_connection(db_target) as conn:
        conn.execute(store._sql("DELETE FROM nodes WHERE id = ?"), (node_key(4, 0),))
    ok = recorder.decide(make_request(), "tester", NOW)
    assert_recorded(ok, before)
    assert store.actions_in_window("remediator", "R7-revoke-stale", NOW) == 1
    assert store.stored_nodes()[(4, 0)] == store.root(16)


# -- PostgreSQL: server down, session terminated ----------------------------------------


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_postgres_down_fails_to_open_with_ledger_unavailable() -> None:
    url = f"postgresql://root@127.0.0.1:{_unused_port()}/test"
    t0 = time.monotonic()
    with pytest.raises(LedgerUnavailable) as info:
        PostgresStore(url, connect_timeout=2)
    with pytest.raises(LedgerUnavailable):
        open_store(url)
    assert time.monotonic() - t0 < 15
    assert "cannot open ledger" in str(info.value)


@pytest.mark.postgres
def test_postgres_session_terminated_denies(
    pg_url: str,
    pg_admin: psycopg.Connection,
    gate: Gate,
    make_request: Callable[..., ActionRequest],
) -> None:
    store = PostgresStore(pg_url)
    try:
        before = seed(store)
        recorder = DecisionRecorder(gate, Ledger(store))
        assert_recorded(recorder.decide(make_request(), "tester", NOW), before)
        before += 1
        dbname = psycopg.conninfo.conninfo_to_dict(pg_url)["dbname"]
        # Pick the pids first, then terminate exactly those (never a broad WHERE clause).
        pids = [
            pid
            for (pid,) in pg_admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            ).fetchall()
        ]
        assert pids
        for pid in pids:
            pg_admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # The decision that meets the dead session is denied and not recorded ...
        assert_denied_unrecorded(recorder.decide(make_request(), "tester", NOW))
        assert size_at(pg_url) == before
        # ... and the store reconnects: the next one is recorded, gap-free.
        assert_recorded(recorder.decide(make_request(), "tester", NOW), before)
        assert store.size() == before + 1
    finally:
        store.close()
    with pytest.raises(LedgerUnavailable):
        store.size()  # closed on purpose: never reopened


def test_optimistic_append_failing_midway_rolls_back_and_denies(
    db_target: str, gate: Gate, make_request: Callable[..., ActionRequest]
) -> None:
    """The same with an optimistic store (the decision writer's): its claimed size was
    right, but an insert failed; that is a deny and a rollback, never a silent retry that
    could hide the failure, and the next decision is recorded at the very next index."""
    store = open_target(db_target)
    store.optimistic = True
    try:
        recorder = DecisionRecorder(gate, Ledger(store))
        for i in range(15):  # the 16th leaf completes stored node (4, 0)
            assert_recorded(recorder.decide(make_request(), "tester", NOW), i)
        with raw_connection(db_target) as conn:
            conn.execute(
                store._sql("INSERT INTO nodes(id, hash) VALUES (?, ?)"),
                (node_key(4, 0), b"x" * 32),
            )
        d = recorder.decide(make_request(), "tester", NOW)
        assert_denied_unrecorded(d)
        assert store.size() == 15
        assert store.reads.decision(d.id) is None
        with raw_connection(db_target) as conn:
            conn.execute(store._sql("DELETE FROM nodes WHERE id = ?"), (node_key(4, 0),))
        assert_recorded(recorder.decide(make_request(), "tester", NOW), 15)
        assert store.stored_nodes()[(4, 0)] == store.root(16)
    finally:
        store.close()
