"""Opening the ledger and the log key for a CLI command, or exiting with a clear error:
an unsupported `--db` is bad input (2); a writing command does not start a new SQLite
ledger unless asked (`--init`, or `remit init`) — a typo in `--db` must not silently begin
an empty ledger (and so lift every hold); a database that cannot be reached exits 3."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from remit.cli.common import BAD_INPUT, UNREACHABLE, fail
from remit.ledger.log import Ledger
from remit.ledger.open import UnsupportedDatabase, is_postgres, open_store, resolve_db
from remit.ledger.store import LedgerStore, LedgerUnavailable
from remit.signing.keys import KeyFormatError, SigningKey, load_signing_key

InitOption = typer.Option(
    False,
    "--init",
    help="Start a new SQLite ledger if --db names none (otherwise a missing file is an error).",
)


def db_target_or_fail(db: str | None, *, init: bool = False) -> str:
    """The store `db` names, checked without opening it: a supported scheme, and for
    SQLite an existing file unless `init`."""
    try:
        target = resolve_db(db)
    except UnsupportedDatabase as exc:
        fail(f"--db {exc}", BAD_INPUT)
    if not is_postgres(target) and not init and not Path(target).exists():
        fail(
            f"--db {target}: no ledger there. To start a new one pass --init (or run "
            "`remit init`); if you meant an existing ledger, check the path (or REMIT_DB)",
            BAD_INPUT,
        )
    return target


def store_or_fail(db: str | None, *, create: bool = False, read_only: bool = False) -> LedgerStore:
    """Open the store; `create` (from --init) allows starting a new SQLite file;
    `read_only` for commands that only read (the ledger may be unwritable)."""
    target = db_target_or_fail(db, init=create)
    try:
        return open_store(target, create=create, read_only=read_only)
    except LedgerUnavailable as exc:
        fail(str(exc) + postgres_hint(target, str(exc)), UNREACHABLE)


def postgres_hint(target: str, message: str) -> str:
    """What to do about a PostgreSQL database that is missing, or a role without rights."""
    if not is_postgres(target):
        return ""
    if "does not exist" in message and "database" in message:
        return (
            "\nCreate it first, e.g. `createdb -h HOST -U ADMIN remit`, and grant Remit's role "
            "CONNECT on it and USAGE, CREATE on schema public (docs/postgres.md)"
        )
    if "permission denied" in message:
        return "\nRemit's role needs CONNECT, and USAGE, CREATE on schema public (docs/postgres.md)"
    return ""


def log_key_or_none(source: str | None) -> SigningKey | None:
    src = source or os.environ.get("REMIT_LOG_KEY")
    if not src:
        return None
    try:
        return load_signing_key(src)
    except (KeyFormatError, OSError) as exc:
        fail(f"--log-key: {exc}")


def ledger_or_fail(db: str | None, log_key: str | None = None, *, create: bool = False) -> Ledger:
    key = log_key_or_none(log_key)  # a bad key must fail before the store is opened (created)
    return Ledger(store_or_fail(db, create=create), key)
