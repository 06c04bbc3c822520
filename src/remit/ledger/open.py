"""Opens the ledger store named by a `--db` value: an SQLite path or a postgresql:// URL."""

from __future__ import annotations

import os
from pathlib import Path

from remit.ledger.store import LedgerStore

DEFAULT_DB = ".remit/remit.db"


def open_store(
    db: str | None = None, *, create: bool = True, read_only: bool = False
) -> LedgerStore:
    """The store for `db` (default `.remit/remit.db`, or REMIT_DB). `read_only` opens an
    SQLite ledger only to read it (never created; it may be unwritable); a store opened
    otherwise refuses a ledger it cannot write."""
    target = db or os.environ.get("REMIT_DB") or DEFAULT_DB
    if target.startswith(("postgresql://", "postgres://")):
        from remit.ledger.postgres_store import PostgresStore

        return PostgresStore(target)
    from remit.ledger.sqlite_store import SqliteStore

    return SqliteStore(Path(target), create=create and not read_only, read_only=read_only)


def open_existing_store_or_none(db: str | None) -> LedgerStore | None:
    """The store if it exists (never creates an SQLite file just to read it)."""
    target = db or os.environ.get("REMIT_DB") or DEFAULT_DB
    if not target.startswith(("postgresql://", "postgres://")) and not Path(target).exists():
        return None
    return open_store(target, create=False)
