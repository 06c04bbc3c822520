"""Fixtures for the ledger store tests: the same suite runs on a fresh SQLite file and on
a fresh PostgreSQL database (its own, created and dropped per test), plus log keys.

PostgreSQL is the server on 127.0.0.1:5432 (trust auth). When it is unreachable the
PostgreSQL cases skip with the reason, except under CI (the CI environment variable set),
where they fail: a CI run must not pass by silently skipping the shared store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tests.support.postgres import admin_url, fresh_database

from remit.ledger.postgres_store import PostgresStore
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.store import LedgerStore
from remit.signing.keys import SigningKey, generate_signing_key

LOG_KEY_NAME = "example.com/remit-test-log"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database of its own; dropped (with its sessions) after."""
    with fresh_database("remit_test") as url:
        yield url


@pytest.fixture
def pg_admin() -> Iterator[psycopg.Connection]:
    """An autocommit admin connection (to terminate sessions, hold locks from outside)."""
    with psycopg.connect(admin_url(), autocommit=True, connect_timeout=5) as conn:
        yield conn


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh ledger lives: an SQLite path or a postgresql:// URL (what `--db` takes)."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger" / "remit.db")
    return str(request.getfixturevalue("pg_url"))


def open_target(target: str) -> LedgerStore:
    """A store on `target`: PostgresStore for a postgresql:// URL, else SqliteStore."""
    if target.startswith("postgresql://"):
        return PostgresStore(target)
    return SqliteStore(target)


@pytest.fixture
def store(db_target: str) -> Iterator[LedgerStore]:
    """A fresh, empty store: SqliteStore (tmp_path) or PostgresStore (own database)."""
    s = open_target(db_target)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def log_key() -> SigningKey:
    return generate_signing_key(LOG_KEY_NAME)


@pytest.fixture(scope="session")
def impostor_key() -> SigningKey:
    """Another key with the same name as the log key: its signatures must not count."""
    return generate_signing_key(LOG_KEY_NAME)
