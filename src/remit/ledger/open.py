"""Opens the ledger store named by a `--db` value: an SQLite path (or `sqlite:///path`) or
a postgresql:// URL. Any other URL scheme is refused by name, never taken as a file path."""

from __future__ import annotations

import os
import re
from pathlib import Path

from remit.ledger.store import LedgerStore

DEFAULT_DB = ".remit/remit.db"

_POSTGRES = ("postgresql://", "postgres://")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class UnsupportedDatabase(ValueError):
    """A `--db` value that names neither an SQLite file nor a PostgreSQL database."""


def resolve_db(db: str | None = None) -> str:
    """The store `db` names (default REMIT_DB, then `.remit/remit.db`): a postgresql:// URL
    as given, or an SQLite file path (`sqlite:///rel.db` is `rel.db`, `sqlite:////abs.db`
    is `/abs.db`). Raises UnsupportedDatabase for any other scheme, or an empty value."""
    target = db or os.environ.get("REMIT_DB") or DEFAULT_DB
    if target.startswith(_POSTGRES):
        return target
    if target.startswith("sqlite:"):
        path = target.removeprefix("sqlite:")
        if not path.startswith("///") or not path.removeprefix("///"):
            raise UnsupportedDatabase(
                f"{target!r}: an SQLite URL is sqlite:///relative/path.db or "
                "sqlite:////absolute/path.db"
            )
        return path.removeprefix("///")
    m = _SCHEME.match(target)
    if m:
        raise UnsupportedDatabase(
            f"{target!r}: database URL scheme {m.group(1)!r} is not supported; use an SQLite "
            "file path (or sqlite:///path) or a postgresql:// URL"
        )
    return target


def is_postgres(target: str) -> bool:
    return target.startswith(_POSTGRES)


def open_store(
    db: str | None = None, *, create: bool = True, read_only: bool = False
) -> LedgerStore:
    """The store for `db` (default `.remit/remit.db`, or REMIT_DB). `read_only` opens an
    SQLite ledger only to read it (never created; it may be unwritable); a store opened
    otherwise refuses a ledger it cannot write."""
    target = resolve_db(db)
    if is_postgres(target):
        from remit.ledger.postgres_store import PostgresStore

        return PostgresStore(target)
    from remit.ledger.sqlite_store import SqliteStore

    return SqliteStore(Path(target), create=create and not read_only, read_only=read_only)


def open_existing_store_or_none(db: str | None) -> LedgerStore | None:
    """The store if it exists (never creates an SQLite file just to read it)."""
    target = resolve_db(db)
    if not is_postgres(target) and not Path(target).exists():
        return None
    return open_store(target, create=False)
