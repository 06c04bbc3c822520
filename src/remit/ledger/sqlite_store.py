"""The embedded ledger store: one SQLite file in WAL mode with `synchronous=FULL`, so an
acknowledged append survives a crash or power loss; writers serialise with
`BEGIN IMMEDIATE` and a busy timeout.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from remit.ledger.schema import ddl
from remit.ledger.store import LedgerStore, LedgerUnavailable


class SqliteStore(LedgerStore):
    """A ledger in one SQLite file (created with its folder if missing)."""

    ph = "?"

    def __init__(
        self, path: str | Path, *, busy_timeout_ms: int = 5000, create: bool = True
    ) -> None:
        super().__init__()
        self.path = Path(path)
        # Percent-encoded, so a '#', '?' or '%' in the path cannot name another file.
        self._ro_uri = self.path.absolute().as_uri() + "?mode=ro"
        self._lock = threading.RLock()
        self._closing = threading.Event()  # stops the background checkpoints
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            elif not self.path.exists():
                raise LedgerUnavailable(f"no ledger at {self.path}")
            self._conn = sqlite3.connect(
                str(self.path),
                timeout=busy_timeout_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._file_id = _file_id(self.path)
            with self._write_tx() as cur:
                for stmt in ddl("BLOB"):
                    cur.execute(stmt)
        except sqlite3.Error as exc:
            raise LedgerUnavailable(f"cannot open ledger {self.path}: {exc}") from exc

    def dedicate_to_appends(self, checkpoint_every: float = 1.0) -> None:
        """Also moves WAL checkpoints out of commits: SQLite otherwise runs one inside
        whichever commit finds the WAL past 1,000 pages, and that commit waits for the
        whole copy (about 90 ms here). A daemon thread runs a passive checkpoint every
        `checkpoint_every` seconds on its own connection instead; passive checkpoints
        never block writers."""
        super().dedicate_to_appends()
        with self._lock:
            self._conn.execute("PRAGMA wal_autocheckpoint = 0")

        def run() -> None:
            conn = sqlite3.connect(str(self.path), timeout=5, isolation_level=None)
            while not self._closing.wait(checkpoint_every):
                with suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
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
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                self._check_same_file()
                yield cur
            except BaseException:
                with suppress(sqlite3.Error):
                    cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
            finally:
                cur.close()

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
            return list(self._conn.execute(sql, params).fetchall())

    def _chunks(
        self, sql: str, params: Sequence[Any] = (), batch: int = 10_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        # A separate connection, so a long scan neither blocks nor is disturbed by writes.
        conn = sqlite3.connect(self._ro_uri, uri=True)
        try:
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
