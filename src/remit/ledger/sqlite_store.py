"""The embedded ledger store: one SQLite file in WAL mode with `synchronous=FULL`, so an
acknowledged append survives a crash or power loss; writers serialise with
`BEGIN IMMEDIATE`, waiting for one another in short steps up to a busy timeout.

A store opened to write refuses a ledger it cannot write (SQLite would silently open it
read-only and deny every decision): it checks the files before each transaction, and
after any storage error opens its connection again on the next attempt, so it recovers
by itself once the file is writable. `read_only=True` is for commands that only read
(verify, export): it opens the file with `mode=ro` and never writes.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Final

from remit.ledger.schema import ddl
from remit.ledger.store import LedgerStore, LedgerUnavailable
from remit.ledger.writable import free_space_reason, unwritable_reason

FIRST_PAUSE_S: Final = 0.00005
LONGEST_PAUSE_S: Final = 0.002
"""How a writer waits for another process's write: 50 µs, doubling up to 2 ms, until the
busy timeout. SQLite's own busy handler sleeps 1, 2, 5, 10… ms between tries, so a
decision waiting behind an outcome that held the lock for half a millisecond lost a
millisecond or more."""


class SqliteStore(LedgerStore):
    """A ledger in one SQLite file (created with its folder if missing)."""

    ph = "?"

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_ms: int = 5000,
        create: bool = True,
        read_only: bool = False,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.read_only = read_only
        self._busy_timeout_ms = int(busy_timeout_ms)
        # Percent-encoded, so a '#', '?' or '%' in the path cannot name another file.
        self._uri = self.path.absolute().as_uri()
        self._ro_uri = self._uri + "?mode=ro"
        self._lock = threading.RLock()
        self._closing = threading.Event()  # stops the background checkpoints
        self._broken = False  # a storage error happened: reconnect before the next use
        try:
            if read_only or not create:
                if not self.path.exists():
                    raise LedgerUnavailable(f"no ledger at {self.path}")
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            if read_only:
                self._conn = self._open_read_only()
                self._file_id = _file_id(self.path)
                return
            if self.path.exists():
                self._refuse_unwritable()
            self._conn = self._connect(self._uri + ("?mode=rwc" if create else "?mode=rw"))
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._file_id = _file_id(self.path)
            self._refuse_unwritable()  # now that the WAL exists
            with self._write_tx() as cur:
                for stmt in ddl("BLOB"):
                    cur.execute(stmt)
        except (sqlite3.Error, OSError) as exc:
            raise LedgerUnavailable(f"cannot open ledger {self.path}: {exc}") from exc

    def _connect(self, uri: str) -> sqlite3.Connection:
        conn = sqlite3.connect(
            uri,
            uri=True,
            timeout=self._busy_timeout_ms / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        # No memory-mapped reads: a mapped file that vanishes or turns immutable under
        # the process kills it with SIGBUS instead of failing the read.
        conn.execute("PRAGMA mmap_size = 0")
        if not self.read_only:
            conn.execute("PRAGMA synchronous = FULL")
        return conn

    def _open_read_only(self) -> sqlite3.Connection:
        conn = self._connect(self._ro_uri)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
        except sqlite3.OperationalError:
            # SQLite could not create the `-shm` file (a read-only folder or mount). With
            # no WAL file either, nobody can be writing (a writer needs both), so the file
            # is read as unchanging: no locks, no shared memory.
            conn.close()
            if Path(f"{self.path}-wal").exists():
                raise
            self._ro_uri += "&immutable=1"
            conn = self._connect(self._ro_uri)
        return conn

    def _refuse_unwritable(self) -> None:
        why = unwritable_reason(self.path)
        if why is not None:
            raise LedgerUnavailable(f"ledger {self.path} cannot be written: {why}")

    def _usable(self, writing: bool) -> sqlite3.Connection:
        """The connection, after checking the files, and reopened if a storage error
        happened since it was last used. Called under `_lock`. A write needs every file
        writable; a read is refused only while an existing file is unwritable (a reader
        writes to the memory-mapped `-shm` file: SIGBUS if it turned immutable), and
        still reads a removed file through the open connection."""
        if self.read_only:
            return self._conn
        why = unwritable_reason(self.path)
        if why is not None and (writing or self.path.exists()):
            self._broken = True  # SQLite may have fallen back to reading only
            raise LedgerUnavailable(f"ledger {self.path} cannot be written: {why}")
        if self._broken and why is None and not self._closing.is_set():
            with suppress(sqlite3.Error):
                self._conn.close()
            try:
                self._conn = self._connect(self._uri + "?mode=rw")  # never creates a file
            except sqlite3.Error as exc:
                raise LedgerUnavailable(f"cannot reopen ledger {self.path}: {exc}") from exc
            self._broken = False
        return self._conn

    def dedicate_to_appends(self, checkpoint_every: float = 1.0) -> None:
        """Also moves WAL checkpoints out of commits: SQLite otherwise runs one inside
        whichever commit finds the WAL past 1,000 pages, and that commit waits for the
        whole copy (about 90 ms here). A daemon thread runs a passive checkpoint every
        `checkpoint_every` seconds on its own connection instead; passive checkpoints
        never block writers."""
        if self.read_only:
            raise LedgerUnavailable(f"ledger {self.path} was opened read-only")
        super().dedicate_to_appends()
        with self._lock:
            self._conn.execute("PRAGMA wal_autocheckpoint = 0")

        def run() -> None:
            conn: sqlite3.Connection | None = None
            while not self._closing.wait(checkpoint_every):
                if unwritable_reason(self.path) is not None:  # SIGBUS-safe: do not touch
                    continue
                try:
                    if conn is None:
                        conn = sqlite3.connect(
                            self._uri + "?mode=rw", uri=True, timeout=5, isolation_level=None
                        )
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    if conn is not None:
                        conn.close()
                    conn = None  # reopened on the next round
            if conn is not None:
                conn.close()

        threading.Thread(target=run, name="remit-wal-checkpoint", daemon=True).start()

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def reopen_spec(self) -> str | None:
        return str(self.path)

    @contextmanager
    def _write_tx(self) -> Iterator[Any]:
        with self._lock:
            if self.read_only:
                raise LedgerUnavailable(f"ledger {self.path} was opened read-only")
            cur = self._usable(writing=True).cursor()
            try:
                self._begin_immediate(cur)
            except sqlite3.Error:
                self._broken = True
                cur.close()
                raise
            try:
                self._check_same_file()
                yield cur
            except BaseException as exc:
                with suppress(sqlite3.Error):
                    cur.execute("ROLLBACK")
                if self._is_storage_error(exc) or isinstance(exc, LedgerUnavailable):
                    self._broken = True
                raise
            else:
                try:
                    cur.execute("COMMIT")
                except sqlite3.Error:
                    self._broken = True
                    with suppress(sqlite3.Error):
                        cur.execute("ROLLBACK")
                    raise
            finally:
                cur.close()

    def _begin_immediate(self, cur: sqlite3.Cursor) -> None:
        """`BEGIN IMMEDIATE`, trying again after `FIRST_PAUSE_S`, doubling to
        `LONGEST_PAUSE_S`, while another connection holds the write lock, until the busy
        timeout has passed; then SQLite's "database is locked" error."""
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        pause = FIRST_PAUSE_S
        cur.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    cur.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                        raise
                    if time.monotonic() >= deadline:
                        raise
                time.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE_S)
        finally:
            cur.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")

    def probe(self) -> None:
        """Also refuses a file system that is full (below `MIN_FREE_BYTES` free)."""
        if self.read_only:
            raise LedgerUnavailable(f"ledger {self.path} was opened read-only")
        why = free_space_reason(self.path)
        if why is not None:
            raise LedgerUnavailable(f"ledger {self.path} cannot be written: {why}")
        super().probe()

    def _check_same_file(self) -> None:
        # SQLite in WAL mode keeps committing into a file that was deleted or replaced
        # while open (with its folder): acknowledged appends that no one can ever read.
        try:
            same = _file_id(self.path) == self._file_id
        except OSError:
            same = False
        if not same:
            raise LedgerUnavailable(f"ledger file {self.path} was removed or replaced")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._usable(writing=False).execute(sql, params).fetchall())
            except sqlite3.Error:
                self._broken = True
                raise

    def _chunks(
        self, sql: str, params: Sequence[Any] = (), batch: int = 10_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        # A separate connection, so a long scan neither blocks nor is disturbed by writes.
        if not self.read_only and self.path.exists():
            self._refuse_unwritable()  # a reader writes to the -shm file too (SIGBUS)
        conn = sqlite3.connect(self._ro_uri, uri=True)
        try:
            conn.execute("PRAGMA mmap_size = 0")
            cur = conn.execute(sql, params)
            while True:
                rows = cur.fetchmany(batch)
                if not rows:
                    return
                yield rows
        finally:
            conn.close()

    def _is_storage_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.Error | OSError)

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            self._conn.close()


def _file_id(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino
