"""`remit drift [--agent] [--record]` and `remit drift review FINDING`: each agent's
behaviour-drift test over the recorded decisions; record findings and demotions; end a
demotion with a human review."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from remit.cli.common import DbOption, OutputFormat, console, fail, print_json
from remit.cli.ledger_access import ledger_or_fail
from remit.cli.loading import envelope_or_fail
from remit.cli.oversight_common import FormatOption, check_format
from remit.domain.clock import utcnow
from remit.domain.envelope import Drift
from remit.errors import RemitError
from remit.ledger.store import LedgerUnavailable
from remit.oversight.drift_runs import plan_of, record_findings, record_review, watch

app = typer.Typer(
    help="Behaviour drift per agent (sequential test with a declared false-alarm rate).",
    invoke_without_command=True,
)


@app.callback()
def drift(
    ctx: typer.Context,
    agent: str | None = typer.Option(None, "--agent", help="Only this agent."),
    envelope: Path | None = typer.Option(
        None, "--envelope", help="Envelope whose `drift` section sets the test (else defaults)."
    ),
    record: bool = typer.Option(
        False, "--record", help="Record new findings and the demotions the envelope sets."
    ),
    actor: str = typer.Option("system:drift", "--actor", help="Identity recorded."),
    db: str | None = DbOption,
    fmt: OutputFormat = FormatOption,
) -> None:
    """Each agent's state: flagged or not (and by which signal), the signals at half
    their threshold or more, its window, and the primary (high-risk) test's baseline,
    statistic and threshold; `--format json` gives every signal's test. Exit 1 when an
    agent is flagged."""
    if ctx.invoked_subcommand is not None:
        return
    check_format(fmt)
    env = envelope_or_fail(envelope).envelope if envelope else None
    plan = plan_of(env)
    ledger = ledger_or_fail(db, create=False)
    try:
        monitor = watch(ledger.store, plan)
        made = []
        if record:
            demote = (env.drift if env else Drift()).demote_to
            made = [m for m in record_findings(ledger, monitor, demote, utcnow(), actor) if m.new]
    except LedgerUnavailable as exc:
        fail(str(exc), 3)
    states = [a.to_dict() for a in monitor.agents.values() if agent in (None, a.agent)]
    if agent is not None and not states:
        fail(f"--agent: no decisions of agent {agent!r} on the ledger")
    flagged = any(s["flagged"] for s in states)
    if fmt == "json":
        print_json(
            {
                "plan": {
                    "arl0": plan.arl0,
                    "shift": plan.shift,
                    "baseline": plan.baseline_size,
                    "primary_share": plan.primary_share,
                },
                "agents": states,
                "recorded": [dataclasses.asdict(m) for m in made],
            }
        )
        raise typer.Exit(1 if flagged else 0)
    tab = Table(title=f"Drift (one false alarm per {plan.arl0:,} decisions declared, all signals)")
    for col in ("agent", "flagged", "elevated signals", "window model", "in window",
                "baseline", "statistic", "threshold"):  # fmt: skip
        tab.add_column(col, overflow="fold")
    for s in states:
        w = s["window"] or {}
        fired = s["alarm"]["signal"] if s["alarm"] else None
        tab.add_row(
            escape(s["agent"]),
            f"[red]YES[/] ({fired})" if fired else "no",
            ", ".join(s["elevated"]) or "—",
            escape(str(w.get("model", "—"))),
            str(s["observed_in_window"]),
            "learning" if s["learning_baseline"] else f"{s['baseline_rate']:.1%}",
            "—" if s["statistic"] is None else str(s["statistic"]),
            "—" if s["threshold"] is None else str(s["threshold"]),
        )
    console.print(tab)
    for m in made:
        console.print(
            f"recorded finding {m.finding_id} at ledger index {m.finding_index}"
            + (f", demotion at {m.demotion_index}" if m.demotion_index is not None else ""),
            highlight=False,
            markup=False,
        )
    raise typer.Exit(1 if flagged else 0)


@app.command()
def review(
    finding: str = typer.Argument(..., help="The drift finding's id."),
    reviewer: str = typer.Option(..., "--reviewer", help="Who reviewed the change."),
    comment: str = typer.Option(..., "--comment", help="What changed and why it is accepted."),
    db: str | None = DbOption,
    fmt: OutputFormat = FormatOption,
) -> None:
    """Record a human review of a drift finding; its demotion ends."""
    check_format(fmt)
    if not reviewer.strip() or not comment.strip():
        fail("--reviewer and --comment must not be empty")
    ledger = ledger_or_fail(db, create=False)
    label = f"reviewer:{reviewer.strip()}"
    try:
        got = record_review(ledger, finding, label, comment, utcnow())
    except LedgerUnavailable as exc:
        fail(str(exc), 3)
    except RemitError as exc:
        fail(str(exc), 2)
    out = {"ledger_index": got.index, "actor": got.actor, **got.record.to_data()}
    if fmt == "json":
        print_json(out)
        return
    console.print(
        f"recorded review of {finding} ({got.record.agent}) at ledger index {got.index}",
        highlight=False,
        markup=False,
    )
