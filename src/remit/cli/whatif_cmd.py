"""`remit envelope whatif PROPOSED.yaml`: replay recorded decisions under a proposed
envelope and print the flips (never writes the ledger)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from remit.cli.common import (
    DbOption,
    OutputFormat,
    console,
    err_console,
    fail,
    iso,
    parse_time,
    print_json,
)
from remit.cli.loading import envelope_or_fail
from remit.cli.oversight_common import FormatOption, check_format, since_time
from remit.decide import Gate
from remit.domain.trust import EnvelopeTrust
from remit.ledger.history import decision_count
from remit.ledger.open import open_existing_store_or_none
from remit.ledger.store import LedgerStore, LedgerUnavailable
from remit.oversight.runs import whatif as run_whatif
from remit.oversight.whatif import WhatIfReport


def whatif(
    proposed: Path = typer.Argument(..., help="The proposed envelope YAML (need not be signed)."),
    since: str = typer.Option("90d", "--since", help="Window start: 90d, 12h or ISO-8601."),
    until: str | None = typer.Option(None, "--until", help="Window end (ISO-8601); default now."),
    now: str | None = typer.Option(None, "--now", help="What --since is relative to."),
    limit: int = typer.Option(100, "--limit", help="Flipped decisions listed (0: all)."),
    workers: int | None = typer.Option(
        None, "--workers", help="Worker processes (default: one per CPU; 1: in this process)."
    ),
    db: str | None = DbOption,
    fmt: OutputFormat = FormatOption,
) -> None:
    """Decide every recorded request of the window again under PROPOSED, with the state
    recorded at each decision, and report the flips by tier, agent, rule and action, each
    with its ledger index. Writes nothing."""
    check_format(fmt)
    t = parse_time(now)
    start = since_time(since, t)
    end = parse_time(until, "--until") if until else None
    if end is not None and end <= start:
        fail("--until must be after --since")
    if limit < 0:
        fail("--limit must be 0 (all) or more")
    if workers is not None and workers < 1:
        fail("--workers must be 1 or more")
    procs = workers or os.cpu_count() or 1
    loaded = envelope_or_fail(proposed)
    store = open_existing_store_or_none(db)
    if store is None:
        fail(f"--db: no ledger at {db or 'the default location'}")
    gate = Gate(loaded.envelope, loaded.digest, EnvelopeTrust(False, None, "proposed"))
    try:
        report = _with_progress(store, gate, start, end, procs)
    except LedgerUnavailable as exc:
        fail(str(exc), 3)
    if fmt == "json":
        print_json(report.to_dict(limit or None))
        return
    print_report(report, limit or None)


def _with_progress(
    store: LedgerStore, gate: Gate, since: datetime, until: datetime | None, workers: int
) -> WhatIfReport:
    total = decision_count(store, since, until)
    if total < 50_000 or not err_console.is_terminal:
        return run_whatif(store, gate, since, until, workers=workers)
    with Progress(
        TextColumn("replaying"),
        BarColumn(),
        TextColumn("{task.completed:,} records"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("replay", total=None)
        return run_whatif(
            store, gate, since, until, lambda n: bar.update(task, completed=n), workers
        )


def print_report(report: WhatIfReport, limit: int | None) -> None:
    """The report as tables on the console (stdout)."""
    window = f"{iso(report.since)} → {iso(report.until) if report.until else 'now'}"
    console.print(
        f"What-if {escape(report.envelope)} over {window}: {report.replayed:,} decisions "
        f"replayed, {len(report.flips):,} flipped ({report.stricter:,} stricter, "
        f"{report.looser:,} looser).",
        highlight=False,
    )
    if report.unreplayable:
        console.print(
            f"[yellow]{len(report.unreplayable)} recorded request(s) could not be read "
            "again[/] (see --format json).",
            highlight=False,
        )
    if not report.flips:
        console.print("No recorded decision would change.")
        return
    tiers = Table(title="Flips by tier")
    for col in ("old tier", "new tier", "decisions"):
        tiers.add_column(col)
    for (old, new), n in sorted(report.by_tiers.items()):
        tiers.add_row(old, new, f"{n:,}")
    console.print(tiers)
    for title, counts in (
        ("agent", report.by_agent),
        ("rule", report.by_rule),
        ("action", report.by_action),
    ):
        tab = Table(title=f"Flips by {title}")
        tab.add_column(title, overflow="fold")
        tab.add_column("decisions")
        for key, n in counts.most_common():
            tab.add_row(escape(key), f"{n:,}")
        console.print(tab)
    shown = report.flips if limit is None else report.flips[:limit]
    flips = Table(title=f"Flipped decisions ({len(shown):,} of {len(report.flips):,})")
    for col in ("index", "decided", "agent", "action", "old → new", "rules", "why now"):
        flips.add_column(col, overflow="fold")
    for f in shown:
        flips.add_row(
            str(f.index),
            iso(f.decided_at),
            escape(f.agent),
            escape(f.action),
            f"{f.old_tier.value} → {f.new_tier.value}",
            escape(", ".join(f.new_rules) or "—"),
            escape(f.new_reasons[-1] if f.new_reasons else ""),
        )
    console.print(flips)
