"""The real PostgreSQL the tests use (127.0.0.1:5432, trust auth): finding an account that
may create databases, a fresh database per test, and skip-or-fail when it is not there
(a skip locally, a failure when CI is set)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import psycopg
from tests.support.ci import skip_or_fail

PG_HOST = os.environ.get("REMIT_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("REMIT_TEST_PG_PORT", "5432"))


@cache
def _admin_url() -> tuple[str | None, str]:
    """A URL that may CREATE and DROP databases, or None and why none works."""
    errors = []
    for user in ("root", "postgres"):
        for db in ("postgres", "test"):
            url = f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{db}"
            try:
                with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
                    conn.execute("SELECT 1")
                return url, ""
            except psycopg.Error as exc:
                errors.append(f"{url}: {str(exc).strip().splitlines()[0] if str(exc) else exc!r}")
    return None, "; ".join(errors)


def postgres_unavailable(reason: str) -> None:
    """Skip (or, under CI, fail) a test that needs PostgreSQL."""
    skip_or_fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} is not usable: {reason}")


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


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new, empty database of its own; dropped (with its sessions) afterwards."""
    admin = admin_url()
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield as_url(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
