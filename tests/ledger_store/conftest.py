"""Fixtures for the ledger store tests: the same suite runs on a fresh SQLite file and on
a fresh PostgreSQL database (its own, created and dropped per test), plus log keys.

PostgreSQL is the server on 127.0.0.1:5432 (trust auth). When it is unreachable the
PostgreSQL cases skip with the reason, except under CI (the CI environment variable set),
where they fail: a CI run must not pass by silently skipping the shared store.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import psycopg
import pytest

from remit.ledger.postgres_store import PostgresStore
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.store import LedgerStore
from remit.signing.keys import SigningKey, generate_signing_key

PG_HOST = os.environ.get("REMIT_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("REMIT_TEST_PG_PORT", "5432"))
LOG_KEY_NAME = "example.com/remit-test-log"


def _admin_candidates() -> list[str]:
    return [
        f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{db}"
        for user in ("root", "postgres")
        for db in ("postgres", "test")
    ]


@cache
def _admin_url() -> tuple[str | None, str]:
    """A URL that may CREATE and DROP databases, or None and why none works."""
    errors = []
    for url in _admin_candidates():
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            return url, ""
        except psycopg.Error as exc:
            errors.append(f"{url}: {str(exc).strip().splitlines()[0] if str(exc) else exc!r}")
    return None, "; ".join(errors)


def postgres_unavailable(reason: str) -> None:
    """Skip (or, under CI, fail) a test that needs PostgreSQL."""
    message = f"PostgreSQL at {PG_HOST}:{PG_PORT} is not usable: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set, so this is a failure, not a skip)")
    pytest.skip(message)


def admin_url() -> str:
    url, why = _admin_url()
    if url is None:
        postgres_unavailable(why)
    assert url is not None
    return url


def as_url(admin: str, name: str) -> str:
    """A postgresql:// URL for database `name` (what open_store and subprocesses take)."""
    info = psycopg.conninfo.conninfo_to_dict(admin)
    return f"postgresql://{info['user']}@{info['host']}:{info['port']}/{name}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database of its own; dropped (with its sessions) after."""
    admin = admin_url()
    name = f"remit_test_{secrets.token_hex(6)}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield as_url(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
