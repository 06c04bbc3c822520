"""The shared ledger store: PostgreSQL through psycopg 3, for many Remit replicas.

Appends take a transaction-scoped advisory lock, so all replicas append in one gap-free
order; `synchronous_commit` stays on, so an acknowledged append is durable.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from remit.ledger.schema import ddl
from remit.ledger.store import LedgerStore, LedgerUnavailable

_APPEND_LOCK = 0x52454D4954  # "REMIT"


def redact(url: str) -> str:
    """The URL without its password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://…"
    info.pop("password", None)
    return psycopg.conninfo.make_conninfo(**info)  # type: ignore[arg-type]


class PostgresStore(LedgerStore):
    """A ledger in a PostgreSQL database (tables created if missing)."""

    ph = "%s"

    def __init__(self, url: str, *, connect_timeout: int = 5, lock_timeout_ms: int = 5000) -> None:
        super().__init__()
        self.url = url
        self._lock = threading.RLock()
        self._connect_timeout = connect_timeout
        self._lock_timeout_ms = lock_timeout_ms
        self._closed = False
        try:
            self._conn = self._open()
            with self._write_tx() as cur:
                for stmt in ddl("BYTEA"):
                    cur.execute(stmt)
        except psycopg.Error as exc:
            raise LedgerUnavailable(f"cannot open ledger {redact(url)}: {exc}") from exc

    def _open(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=self._connect_timeout)
        conn.execute(f"SET lock_timeout = {int(self._lock_timeout_ms)}")
        conn.execute("SET synchronous_commit = on")
        return conn

    def _live(self) -> psycopg.Connection[Any]:
        """The connection, reopened if the server dropped it (never after close())."""
        if self._conn.broken and not self._closed:
            self._conn = self._open()
        return self._conn

    @property
    def location(self) -> str:
        return redact(self.url)

    @property
    def reopen_spec(self) -> str | None:
        return self.url

    @contextmanager
    def _write_tx(self) -> Iterator[Any]:
        with self._lock:
            conn = self._live()
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_APPEND_LOCK,))
                yield cur

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._live().cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    def _chunks(
        self, sql: str, params: Sequence[Any] = (), batch: int = 10_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        with psycopg.connect(self.url) as conn, conn.cursor(name="remit_scan") as cur:
            cur.execute(sql, params)
            while True:
                rows = cur.fetchmany(batch)
                if not rows:
                    return
                yield rows

    def _is_storage_error(self, exc: BaseException) -> bool:
        return isinstance(exc, psycopg.Error | OSError)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._conn.close()
