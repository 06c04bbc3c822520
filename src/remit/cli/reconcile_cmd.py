"""`remit reconcile`: join every AI principal's event in the trail store to the ledger,
classify it, print the summary and the findings, and record the run on the ledger.

Exit status: 0 when every AI call is explained (or denied), 1 when there are findings,
2 for bad input (a bad time or envelope, no AI principal, no trail store), 3 when a
store is unreachable.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from remit.cli.cloudtrail_cmd import TrailDbOption, trail_path
from remit.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    console,
    err_console,
    fail,
    parse_time,
    print_json,
)
from remit.cli.ledger_access import store_or_fail
from remit.cloudtrail.creep import first_seen, outside_steps, undeclared_flows
from remit.cloudtrail.reconcile import (
    ESCALATION_SECONDS,
    ai_principals,
    classify,
    ledger_export,
    make_record,
)
from remit.cloudtrail.store import TrailStore
from remit.domain.clock import ts_text, utcnow
from remit.envelope.loader import EnvelopeError, load_envelope
from remit.errors import Unavailable
from remit.ledger.records import make_entry
from remit.ledger.store import LedgerUnavailable


def reconcile(
    since: str | None = typer.Option(None, "--since", help="Window start (ISO-8601)."),
    until: str | None = typer.Option(None, "--until", help="Window end, exclusive."),
    format_: OutputFormat = FormatOption,
    envelope: Path | None = typer.Option(
        None, "--envelope", help="Envelope YAML: its agents' service accounts and roles."
    ),
    ai_principal: list[str] = typer.Option(
        [], "--ai-principal", help="Another AI principal's ARN (repeatable)."
    ),
    escalation_window: int = typer.Option(
        ESCALATION_SECONDS,
        "--escalation-window",
        min=1,
        help="Seconds after an AccessDenied in which a call by the same agent is its retry.",
    ),
    trail_db: str | None = TrailDbOption,
    db: str | None = DbOption,
    actor: str = typer.Option("cli", "--actor", help="Identity recorded as running it."),
) -> None:
    """Classify every AI principal's cloud call against the decisions on the ledger, and
    record the run (counts and findings) on the ledger."""
    if format_ not in ("table", "json"):
        fail(f"--format must be table or json, not {format_!r}")
    start = parse_time(since, "--since") if since else None
    end = parse_time(until, "--until") if until else None
    if start and end and start >= end:
        fail(f"--since ({since}) must be before --until ({until})")
    loaded = None
    if envelope is not None:
        try:
            loaded = load_envelope(envelope).envelope
        except EnvelopeError as exc:
            fail(f"--envelope {envelope}: {exc}")
    for arn in ai_principal:
        if not arn.startswith("arn:"):
            fail(f"--ai-principal {arn!r} is not an ARN")
    principals = ai_principals(loaded, ai_principal)
    if not principals:
        fail("no AI principals: give --envelope (its agents) or --ai-principal ARN")
    path = trail_path(trail_db, db)
    if not path.exists():
        fail(f"no trail store at {path}; run `remit cloudtrail ingest` first")
    ledger = store_or_fail(db, create=False)
    now = utcnow()
    try:
        size = ledger.size()
        root = ledger.root(size).hex() if size else ""
        rows, decisions = ledger_export(ledger.reads)
        with TrailStore(path, read_only=True) as store:
            outcome = classify(store, rows, principals, start, end, escalation_window)
            before, prev_since = None, None
            if start is not None:  # the window before, of the same length (or all before)
                prev_since = start - (end - start) if end else None
                before = classify(store, rows, principals, prev_since, start, escalation_window)
        creep = None
        if loaded is not None:
            creep = {
                "previous": None if before is None else {
                    "since": ts_text(prev_since) if prev_since else None,
                    "until": ts_text(start) if start else None,
                },
                "new": None if before is None else first_seen(outcome.calls, before.calls),
                "outside_declared_steps": outside_steps(outcome.calls, decisions, loaded),
                "undeclared_data_flows": undeclared_flows(decisions, loaded, start, end),
            }  # fmt: skip
        record = make_record(outcome, principals, start, end, size, root, now, creep)
        index = ledger.append([make_entry(record, now, actor)])[0]
    except (LedgerUnavailable, Unavailable) as exc:
        fail(str(exc), 3)
    out = {
        "run_id": record.run_id,
        "ledger_index": index,
        "since": ts_text(start) if start else None,
        "until": ts_text(end) if end else None,
        "events": outcome.events,
        "summary": outcome.counts,
        "findings": outcome.findings,
        "trust_creep": creep,
    }
    if outcome.events == 0:
        err_console.print(
            "note: no events in the window: nothing to reconcile (the empty run is recorded)",
            highlight=False,
            markup=False,
        )
    if format_ == "json":
        print_json(out)
    else:
        _table(out)
    creeping = creep is not None and bool(
        creep["outside_declared_steps"] or creep["undeclared_data_flows"]
    )
    if outcome.findings or creeping:
        raise typer.Exit(1)


def _table(out: dict[str, object]) -> None:
    console.print(
        f"run {out['run_id']} (ledger entry {out['ledger_index']}): {out['events']} event(s)",
        highlight=False,
        markup=False,
    )
    summary = Table(title="summary", title_justify="left")
    summary.add_column("class")
    summary.add_column("events", justify="right")
    counts = out["summary"]
    assert isinstance(counts, dict)
    for name, n in counts.items():
        summary.add_row(name, str(n))
    console.print(summary)
    creep = out["trust_creep"]
    if isinstance(creep, dict):
        for agent, new in (creep["new"] or {}).items():
            console.print(
                f"new in the window for {agent}: services {', '.join(new['services']) or '—'}; "
                f"actions {', '.join(new['actions']) or '—'}",
                highlight=False,
                markup=False,
            )
        for item in [*creep["outside_declared_steps"], *creep["undeclared_data_flows"]]:
            console.print(f"trust creep: {item['why']}", highlight=False, markup=False)
    findings = out["findings"]
    assert isinstance(findings, list)
    if not findings:
        return
    table = Table(title=f"findings ({len(findings)})", title_justify="left")
    for col in ("class", "time", "principal", "action", "decision", "why"):
        table.add_column(col)
    for f in findings:
        table.add_row(
            f["class"], f["event_time"], f["principal"], f["action"], f["decision_id"] or "—",
            f["why"],
        )  # fmt: skip
    console.print(table)
