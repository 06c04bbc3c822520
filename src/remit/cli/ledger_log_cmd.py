"""`remit ledger log`: the ledger's entries decoded (kind, time, who, and the record's
fields), not base64 — for reading; `ledger export` stays the exact-bytes format."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from remit.cli.common import UNREACHABLE, DbOption, FormatOption, OutputFormat, console, fail
from remit.cli.ledger_access import store_or_fail
from remit.ledger.kinds import EntryFormatError
from remit.ledger.store import LedgerUnavailable


def log(
    start: int | None = typer.Option(
        None, "--from", min=0, help="First index (default: the last --limit)."
    ),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many entries."),
    kind: str | None = typer.Option(None, "--kind", help="Only entries of this kind."),
    db: str | None = DbOption,
    format_: OutputFormat = FormatOption,
) -> None:
    """Entries decoded: index, time, kind, who, and what was recorded."""
    store = store_or_fail(db)
    try:
        size = store.size()
        first = start if start is not None else max(0, size - limit)
        rows: list[dict[str, Any]] = []
        for entry in store.entries(first, min(size, first + limit) if kind is None else None):
            if kind is not None and entry.kind != kind:
                continue
            try:
                rec = entry.read()
            except EntryFormatError as exc:
                fail(f"damaged ledger: {exc}", 1)
            rows.append(
                {
                    "index": entry.index,
                    "ts": rec.ts,
                    "kind": entry.kind,
                    "actor": rec.actor,
                    "data": rec.record.to_data(),
                }
            )
            if len(rows) >= limit:
                break
    except LedgerUnavailable as exc:
        fail(str(exc), UNREACHABLE)
    if format_ is OutputFormat.JSON:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False, default=str))
        return
    t = Table(
        title=f"Ledger entries {rows[0]['index']}–{rows[-1]['index']} of {size}"
        if rows
        else "Ledger: no entries"
    )
    for col in ("index", "time", "kind", "actor", "what"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(
            str(r["index"]),
            r["ts"],
            r["kind"],
            escape(r["actor"]),
            escape(_what(r["kind"], r["data"])),
        )
    console.print(t)


def _what(kind: str, data: dict[str, Any]) -> str:
    """One line for a person; the full record is in --format json."""
    if kind == "decision":
        d = data.get("decision")
        if isinstance(d, dict):
            return f"{d.get('id')}: {d.get('agent')} {d.get('action')} → {d.get('tier')}"
    text = json.dumps(data, ensure_ascii=False, default=str)
    return text if len(text) <= 160 else text[:157] + "…"
