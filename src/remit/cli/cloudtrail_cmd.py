"""`remit cloudtrail ingest|stats`: read real CloudTrail into the trail store (DuckDB) and
summarise what it holds.

Exit status of `ingest`: 0 when every file and record was stored (or was already), 2 when
anything was rejected (bad input; the rest is stored, a rejected file not at all) or a
path or bucket does not exist (nothing is stored), 3 when S3 or the store is unreachable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from remit.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    console,
    err_console,
    fail,
    print_json,
)
from remit.cloudtrail.ingest import IngestReport, ingest
from remit.cloudtrail.reader import MAX_FILE_BYTES, BadInput
from remit.cloudtrail.stats import trail_stats
from remit.cloudtrail.store import TrailStore, default_path
from remit.domain.clock import utcnow
from remit.errors import Unavailable

app = typer.Typer(
    help="Ingest CloudTrail into the trail store and summarise it.", no_args_is_help=True
)

TrailDbOption = typer.Option(
    None,
    "--trail-db",
    help="The trail store (DuckDB file). Default: cloudtrail.duckdb beside the ledger "
    "(--db), else .remit/cloudtrail.duckdb. Also REMIT_TRAIL_DB.",
    envvar="REMIT_TRAIL_DB",
)
EndpointOption = typer.Option(
    None,
    "--endpoint-url",
    help="S3 endpoint for s3:// paths (e.g. a local moto server). Also AWS_ENDPOINT_URL.",
)


def trail_path(trail_db: str | None, db: str | None) -> Path:
    return Path(trail_db) if trail_db else default_path(db)


def _format(value: str) -> str:
    if value not in ("table", "json"):
        fail(f"--format must be table or json, not {value!r}")
    return value


def _s3_client(endpoint: str | None) -> Any:
    import boto3

    url = endpoint or os.environ.get("AWS_ENDPOINT_URL") or None
    return boto3.client("s3", endpoint_url=url)


@app.command("ingest")
def ingest_cmd(
    paths: list[str] = typer.Argument(..., help="Files, folders or s3://bucket/prefix URLs."),
    format_: OutputFormat = FormatOption,
    trail_db: str | None = TrailDbOption,
    db: str | None = DbOption,
    endpoint_url: str | None = EndpointOption,
    max_file_mb: int = typer.Option(
        MAX_FILE_BYTES // (1024 * 1024), "--max-file-mb", min=1, help="Largest file read."
    ),
) -> None:
    """Store CloudTrail files (S3 delivery JSON, .gz, JSON arrays, NDJSON) and report what
    was rejected. Ingesting the same file twice stores it once."""
    fmt = _format(format_)
    missing = [p for p in paths if "://" not in p and not Path(p).exists()]
    if missing:  # before the trail store is opened (or created): nothing written
        fail(f"{', '.join(missing)}: no such file or folder")
    client: list[Any] = []

    def s3() -> Any:
        if not client:
            client.append(_s3_client(endpoint_url))
        return client[0]

    try:
        with TrailStore(trail_path(trail_db, db)) as store:
            report = _run(paths, store, s3, max_file_mb * 1024 * 1024)
    except BadInput as exc:
        fail(str(exc))
    except Unavailable as exc:
        fail(str(exc), 3)
    if fmt == "json":
        print_json(report.to_json())
    else:
        _print_ingest(report)
    if not report.clean:
        raise typer.Exit(2)


def _run(paths: list[str], store: TrailStore, s3: Any, limit: int) -> IngestReport:
    if not err_console.is_terminal:
        return ingest(paths, store, utcnow(), s3, limit=limit)
    with Progress(
        TextColumn("ingesting"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} files, {task.fields[events]:,} events"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("ingest", total=0, events=0)

        def tick(done: int, total: int, events: int) -> None:
            bar.update(task, completed=done, total=total, events=events)

        return ingest(paths, store, utcnow(), s3, tick, limit)


def _print_ingest(report: IngestReport) -> None:
    console.print(
        f"{report.files} file(s), {report.events:,} event(s), {report.new_events:,} new"
        + (f", {len(report.duplicate_files)} already stored" if report.duplicate_files else ""),
        highlight=False,
        markup=False,
    )
    for path in report.skipped_files:
        err_console.print(f"skipped (not a trail file): {path}", highlight=False, markup=False)
    for r in report.rejected_files:
        err_console.print(f"rejected file {r.path}: {r.reason}", highlight=False, markup=False)
    for r in report.rejected_records:
        err_console.print(
            f"rejected record {r.path} #{r.record}: {r.reason}", highlight=False, markup=False
        )


@app.command("export-index")
def export_index(
    out: Path = typer.Option(..., "--out", help="Folder to write the two NDJSON files into."),
    envelope: Path | None = typer.Option(None, "--envelope", help="Envelope YAML (agents)."),
    ai_principal: list[str] = typer.Option([], "--ai-principal", help="Another AI ARN."),
    db: str | None = DbOption,
) -> None:
    """Write the ledger's decision/grant index (`ledger_decisions.ndjson`) and the AI
    principals (`ai_principals.ndjson`) for the reconciliation SQL on Athena/Trino."""
    from remit.cli.ledger_access import store_or_fail
    from remit.cloudtrail.reconcile import ai_principals, export_rows
    from remit.cloudtrail.sql import AI_COLUMNS, LEDGER_COLUMNS
    from remit.envelope.loader import EnvelopeError, load_envelope

    loaded = None
    if envelope is not None:
        try:
            loaded = load_envelope(envelope).envelope
        except EnvelopeError as exc:
            fail(f"--envelope {envelope}: {exc}")
    principals = ai_principals(loaded, ai_principal)
    store = store_or_fail(db, create=False)
    rows = export_rows(store.reads)
    out.mkdir(parents=True, exist_ok=True)
    for name, columns, values in (
        ("ledger_decisions", LEDGER_COLUMNS, rows),
        ("ai_principals", AI_COLUMNS, [p.row() for p in principals]),
    ):
        names = [c for c, _ in columns]
        with (out / f"{name}.ndjson").open("w", encoding="utf-8") as fh:
            for row in values:
                fh.write(json.dumps(dict(zip(names, row, strict=True))) + "\n")
    console.print(
        f"wrote {len(rows)} decision(s) and {len(principals)} AI principal(s) to {out}",
        highlight=False,
        markup=False,
    )


@app.command("moto-trail")
def moto_trail(
    endpoint_url: str = typer.Option(..., "--endpoint-url", help="The local moto server."),
    out: Path | None = typer.Option(None, "--out", help="Trail file to write (.json/.gz)."),
    start: bool = typer.Option(False, "--start", help="Start recording, write nothing."),
) -> None:
    """The local stand-in for CloudTrail delivery: moto's recorded requests as a trail
    file (identity from the request's key, sourceIdentity from its AssumeRole). Only
    for the embedded stack: moto has no CloudTrail. Records carry no error codes."""
    import gzip

    import httpx

    from remit.cloudtrail import moto_trail as mt

    try:
        if start:
            mt.start(endpoint_url)
            console.print(f"recording requests at {endpoint_url}", highlight=False)
            return
        if out is None:
            fail("--out is required (or --start)")
        recording, state = mt.fetch(endpoint_url)
    except httpx.HTTPError as exc:
        fail(f"{endpoint_url}: {exc}", 3)
    records = mt.to_records(recording, state)
    doc = mt.trail_document(records)
    out.write_bytes(gzip.compress(doc) if out.name.endswith(".gz") else doc)
    console.print(f"wrote {len(records)} record(s) to {out}", highlight=False, markup=False)


@app.command("stats")
def stats_cmd(
    format_: OutputFormat = FormatOption,
    trail_db: str | None = TrailDbOption,
    db: str | None = DbOption,
    top: int = typer.Option(20, "--top", min=1, help="Rows per table (table format)."),
) -> None:
    """What the trail store holds: events, time span, principals, IAM actions, calls that
    map to no IAM action, errors."""
    fmt = _format(format_)
    path = trail_path(trail_db, db)
    if not path.exists():
        fail(f"no trail store at {path}; run `remit cloudtrail ingest` first")
    try:
        with TrailStore(path, read_only=True) as store:
            stats = trail_stats(store)
    except Unavailable as exc:
        fail(str(exc), 3)
    if fmt == "json":
        print_json(stats.to_json())
        return
    data = stats.to_json()
    console.print(f"{stats.events:,} events, {data['first']} … {data['last']}", highlight=False)
    for title, rows in (
        ("principal", stats.principals),
        ("IAM action", stats.actions),
        ("unmapped call", stats.unmapped),
        ("error", stats.errors),
    ):
        if not rows:
            continue
        table = Table(title=f"{title}s ({len(rows)})", title_justify="left")
        table.add_column(title)
        table.add_column("events", justify="right")
        for name, n in rows[:top]:
            table.add_row(name, f"{n:,}")
        console.print(table)
