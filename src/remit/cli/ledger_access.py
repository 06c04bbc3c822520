"""Opening the ledger and the log key for a CLI command, or exiting with a clear error."""

from __future__ import annotations

import os

from remit.cli.common import fail
from remit.ledger.log import Ledger
from remit.ledger.open import open_store
from remit.ledger.store import LedgerStore, LedgerUnavailable
from remit.signing.keys import KeyFormatError, SigningKey, load_signing_key


def store_or_fail(db: str | None, *, create: bool = True, read_only: bool = False) -> LedgerStore:
    """The store for `db`; `read_only` for commands that only read (it may be unwritable)."""
    try:
        return open_store(db, create=create, read_only=read_only)
    except LedgerUnavailable as exc:
        fail(str(exc), 1)


def log_key_or_none(source: str | None) -> SigningKey | None:
    src = source or os.environ.get("REMIT_LOG_KEY")
    if not src:
        return None
    try:
        return load_signing_key(src)
    except (KeyFormatError, OSError) as exc:
        fail(f"--log-key: {exc}")


def ledger_or_fail(db: str | None, log_key: str | None = None, *, create: bool = True) -> Ledger:
    key = log_key_or_none(log_key)  # a bad key must fail before the store is opened (created)
    return Ledger(store_or_fail(db, create=create), key)
