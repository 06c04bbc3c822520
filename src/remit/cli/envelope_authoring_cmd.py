"""`remit envelope test` and `remit envelope diff`: policy authoring like the tools people
know — request → expected-tier fixtures run against an envelope (like `opa test`), and
what changed between two envelopes in plain words, with the agents that gain or lose
autonomy."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from remit.catalog import default_catalog
from remit.cli.common import (
    CHECK_FAILED,
    FormatOption,
    OutputFormat,
    console,
    fail,
    parse_time,
    print_json,
)
from remit.cli.loading import envelope_or_fail
from remit.envelope.cases import CasesError, load_cases, run_cases
from remit.envelope.diff import diff_envelopes


def test(
    envelope: Path = typer.Argument(..., help="Envelope YAML file."),
    cases: Path = typer.Argument(..., help="Cases YAML: {now?, cases: [{name, request, expect}]}."),
    now: str | None = typer.Option(None, "--now", help="Decide as of (default: the file's now)."),
    format_: OutputFormat = FormatOption,
) -> None:
    """Run request → expected-tier cases against the envelope (its rules taken as authority,
    an empty history). Exit 0 if all pass, 1 if any fails, 2 if a file is bad."""
    loaded = envelope_or_fail(envelope)
    try:
        at, items = load_cases(cases, parse_time(now))
    except CasesError as exc:
        fail(str(exc))
    if now is not None:
        at = parse_time(now)
    results = run_cases(loaded, at, items)
    failed = [r for r in results if not r.passed]
    if format_ is OutputFormat.JSON:
        print_json(
            {
                "passed": len(results) - len(failed),
                "failed": len(failed),
                "cases": [r.to_dict() for r in results],
            }
        )
    else:
        t = Table(title=f"{envelope}: {len(results) - len(failed)}/{len(results)} passed")
        for col in ("case", "expected", "got", "", "first reason"):
            t.add_column(col, overflow="fold")
        for r in results:
            mark = "[green]PASS[/]" if r.passed else "[red]FAIL[/]"
            extra = f" (missing codes: {', '.join(r.missing_codes)})" if r.missing_codes else ""
            t.add_row(escape(r.name), r.expected, r.got, mark, escape(r.reason + extra))
        console.print(t)
    if failed:
        raise typer.Exit(CHECK_FAILED)


def diff(
    old: Path = typer.Argument(..., help="The envelope as it was."),
    new: Path = typer.Argument(..., help="The envelope as proposed."),
    format_: OutputFormat = FormatOption,
) -> None:
    """What changed, in plain words, and which agents gain or lose actions they may take
    without a person (autonomous or notify)."""
    a, b = envelope_or_fail(old), envelope_or_fail(new)
    result = diff_envelopes(a.envelope, b.envelope, default_catalog())
    if format_ is OutputFormat.JSON:
        print_json(result.to_dict())
        return
    if result.empty:
        console.print("No changes.")
        return
    for change in result.changes:
        console.print(f"- {escape(change)}", highlight=False)
    for shift in result.agents:
        if shift.gains:
            console.print(
                f"[yellow]agent {escape(shift.agent)} GAINS autonomy[/] over "
                f"{len(shift.gains)} action(s): {escape(', '.join(shift.gains[:20]))}"
                + (" …" if len(shift.gains) > 20 else ""),
                highlight=False,
            )
        if shift.loses:
            console.print(
                f"agent {escape(shift.agent)} loses autonomy over {len(shift.loses)} "
                f"action(s): {escape(', '.join(shift.loses[:20]))}"
                + (" …" if len(shift.loses) > 20 else ""),
                highlight=False,
            )
    if not result.agents:
        console.print("No agent gains or loses autonomy.")
