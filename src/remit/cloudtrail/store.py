"""The trail's storage: a DuckDB file (by default beside the ledger) with one table of
files ingested and one of events, written one batch of whole files per transaction, so a
file is stored entirely or not at all and a file already stored (same content) is not
stored again. Columns are plain SQL types, so the queries over them (`stats`, and the
reconciliation SQL in docs/cloudtrail.md) run unchanged over the S3 trail in Athena/Trino.

It does not parse records (`normalize`) or decide what to store (`ingest`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import duckdb
import orjson

from remit.cloudtrail.normalize import Event
from remit.errors import Unavailable

DEFAULT_NAME: Final = "cloudtrail.duckdb"
MEMORY_LIMIT: Final = "320MB"
"""DuckDB's memory cap (it spills to disk beyond it), so ingest and reconcile stay small.
DuckDB's own use goes somewhat past it: at 512 MB reconciling 1,000,000 events against
100,000 decisions peaked at 1,047 MiB for the whole process, at 320 MB at 861 MiB, in the
same time (`benchmarks/bench_cloudtrail.py`)."""
CHECKPOINT_THRESHOLD: Final = "1GB"
"""How much write-ahead log DuckDB lets grow before it folds it into the database file.
At its default (16 MB) an ingest of 1,000,000 events checkpoints every few batches and
each checkpoint takes seconds: storing 1,000,000 prepared rows took 38.9 s; at 1 GB,
25.6 s (docs/benchmarks.md, CloudTrail, session 12). Closing the store checkpoints what
is left."""

EVENT_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("event_key", "VARCHAR"),
    ("file_digest", "VARCHAR"),
    ("position", "INTEGER"),
    ("event_time", "TIMESTAMPTZ"),
    ("event_id", "VARCHAR"),
    ("event_source", "VARCHAR"),
    ("event_name", "VARCHAR"),
    ("event_type", "VARCHAR"),
    ("region", "VARCHAR"),
    ("account_id", "VARCHAR"),
    ("principal", "VARCHAR"),
    ("principal_arn", "VARCHAR"),
    ("identity_type", "VARCHAR"),
    ("principal_id", "VARCHAR"),
    ("access_key_id", "VARCHAR"),
    ("role_arn", "VARCHAR"),
    ("session_name", "VARCHAR"),
    ("source_identity", "VARCHAR"),
    ("error_code", "VARCHAR"),
    ("error_message", "VARCHAR"),
    ("read_only", "BOOLEAN"),
    ("kind", "VARCHAR"),
    ("iam_action", "VARCHAR"),
    ("resources", "VARCHAR[]"),
    ("raw", "VARCHAR"),
)
"""The `events` table, in column order."""

COMPRESSION: Final = {"raw": "zstd"}
"""Columns DuckDB stores with a compression chosen here. Each event's raw record (~1.3 KB
of JSON) in zstd takes a quarter of the space and less time to store than DuckDB's own
choice: 500,000 events 359 → 83 MB, stored in 7.9–9.0 s instead of 10.0–10.4 s
(docs/benchmarks.md, CloudTrail, session 12). Stores made before keep their columns."""

_DDL: Final = (
    """CREATE TABLE IF NOT EXISTS files (
        digest VARCHAR PRIMARY KEY, path VARCHAR NOT NULL, events BIGINT NOT NULL,
        rejected_records BIGINT NOT NULL, ingested_at TIMESTAMPTZ NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS events ("
    + ", ".join(
        f"{n} {t}" + (f" USING COMPRESSION {COMPRESSION[n]}" if n in COMPRESSION else "")
        for n, t in EVENT_COLUMNS
    )
    + ")",
)


def default_path(ledger_db: str | None) -> Path:
    """`cloudtrail.duckdb` beside an SQLite ledger; `.remit/` for a PostgreSQL one."""
    if ledger_db and "://" not in ledger_db:
        return Path(ledger_db).parent / DEFAULT_NAME
    return Path(".remit") / DEFAULT_NAME


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file to store: its content digest, path, the file holding its events as `events`
    table rows (NDJSON, one line each, made by `row`), how many, and how many of its
    records were rejected."""

    digest: str
    path: str
    rows: Path
    count: int
    rejected_records: int


class TrailStore:
    """One DuckDB database of ingested trail files and events."""

    def __init__(self, path: Path | str, read_only: bool = False) -> None:
        self.path = str(path)
        try:
            if not read_only and self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.con = duckdb.connect(self.path, read_only=read_only)
        except (duckdb.Error, OSError) as exc:
            raise Unavailable(f"trail database {self.path}: {exc}") from None
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        if not read_only:
            self.con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
            for stmt in _DDL:
                self.con.execute(stmt)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> TrailStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def known_digests(self, digests: Iterable[str]) -> set[str]:
        """Those of `digests` whose file is already stored."""
        wanted = list(set(digests))
        if not wanted:
            return set()
        rows = self.con.execute(
            "SELECT digest FROM files WHERE list_contains(?, digest)", [wanted]
        ).fetchall()
        return {str(r[0]) for r in rows}

    def file_events(self, digest: str) -> int:
        row = self.con.execute("SELECT events FROM files WHERE digest = ?", [digest]).fetchone()
        return int(row[0]) if row else 0

    def add(self, files: Sequence[StoredFile], at: Any) -> int:
        """Store whole files in one transaction; returns the number of events added. It
        runs on a cursor of its own, so one thread may add while another reads."""
        if not files:
            return 0
        paths = [str(f.rows) for f in files if f.count]
        cur = self.con.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            try:
                if paths:
                    cols = ", ".join(f"'{n}': '{t}'" for n, t in EVENT_COLUMNS)
                    cur.execute(
                        f"INSERT INTO events SELECT * FROM read_json(?, "
                        f"format='newline_delimited', columns={{{cols}}}, "
                        "maximum_object_size=67108864)",
                        [paths],
                    )
                cur.executemany(
                    "INSERT INTO files VALUES (?, ?, ?, ?, ?)",
                    [[f.digest, f.path, f.count, f.rejected_records, at] for f in files],
                )
                cur.execute("COMMIT")
            except BaseException as exc:
                cur.execute("ROLLBACK")
                if isinstance(exc, duckdb.Error):
                    raise Unavailable(f"trail database {self.path}: {exc}") from exc
                raise
        finally:
            cur.close()
        return sum(f.count for f in files)

    def load_temp(
        self, table: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]
    ) -> None:
        """(Re)create the temporary table `table` holding `rows` (JSON-ready values)."""
        names = [n for n, _ in columns]
        fd, tmp = tempfile.mkstemp(suffix=".ndjson", prefix="remit-temp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                for row in rows:
                    fh.write(orjson.dumps(dict(zip(names, row, strict=True))) + b"\n")
            cols = ", ".join(f"'{n}': '{t}'" for n, t in columns)
            defs = ", ".join(f"{n} {t}" for n, t in columns)
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({defs})")
            if Path(tmp).stat().st_size:
                self.con.execute(
                    f"INSERT INTO {table} SELECT * FROM read_json(?, "
                    f"format='newline_delimited', columns={{{cols}}})",
                    [tmp],
                )
        finally:
            Path(tmp).unlink(missing_ok=True)

    def count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM events").fetchone()
        return int(row[0]) if row else 0


def row(key: str, digest: str, position: int, e: Event, raw: bytes) -> bytes:
    """One `events` row as an NDJSON line."""
    return (
        orjson.dumps(
            {
                "event_key": key,
                "file_digest": digest,
                "position": position,
                "event_time": e.event_time.isoformat(),
                "event_id": e.event_id,
                "event_source": e.event_source,
                "event_name": e.event_name,
                "event_type": e.event_type,
                "region": e.region,
                "account_id": e.account_id,
                "principal": e.principal,
                "principal_arn": e.principal_arn,
                "identity_type": e.identity_type,
                "principal_id": e.principal_id,
                "access_key_id": e.access_key_id,
                "role_arn": e.role_arn,
                "session_name": e.session_name,
                "source_identity": e.source_identity,
                "error_code": e.error_code,
                "error_message": e.error_message,
                "read_only": e.read_only,
                "kind": e.kind,
                "iam_action": e.iam_action,
                "resources": list(e.resources),
                "raw": raw.decode("utf-8"),
            }
        )
        + b"\n"
    )
