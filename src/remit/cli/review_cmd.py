"""`remit review sample|verdict|report|changes`: the shadow-governance review of a
period's decisions — draw the sample, record verdicts, report error rates and suggested
changes — and the periodic change review."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import typer
from rich.markup import escape
from rich.table import Table

from remit.cli.common import DbOption, OutputFormat, console, fail, iso, parse_time, print_json
from remit.cli.ledger_access import ledger_or_fail
from remit.cli.oversight_common import FormatOption, check_format
from remit.domain.clock import utcnow
from remit.domain.tiers import Tier
from remit.errors import RemitError
from remit.ledger.kinds.oversight import VERDICTS
from remit.ledger.log import Ledger
from remit.ledger.store import LedgerUnavailable
from remit.oversight.change_review import change_report, report_digest, sign_change_review
from remit.oversight.review import draw_sample, record_verdict, review
from remit.oversight.sampling import DEFAULT_TIERS

app = typer.Typer(help="Shadow-governance review of sampled decisions.", no_args_is_help=True)


def _period(period: str | None, since: str | None, until: str | None) -> tuple[datetime, datetime]:
    if period is not None:
        if since or until:
            fail("give --period or --since/--until, not both")
        m = re.fullmatch(r"(\d{4})-(\d{2})", period)
        if not m or not 1 <= int(m.group(2)) <= 12:
            fail(f"--period: {period!r} is not a month like 2026-11")
        y, mo = int(m.group(1)), int(m.group(2))
        start = datetime(y, mo, 1, tzinfo=UTC)
        end = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=UTC)
        return start, end
    if not since or not until:
        fail("give --period YYYY-MM, or both --since and --until")
    return parse_time(since, "--since"), parse_time(until, "--until")


def _tiers(text: str | None) -> tuple[Tier, ...]:
    if text is None:
        return DEFAULT_TIERS
    out = []
    for word in (w.strip() for w in text.split(",")):
        try:
            out.append(Tier(word))
        except ValueError:
            fail(f"--tiers: {word!r} is not a tier (autonomous, notify, approve, deny)")
    return tuple(out)


def _guard_errors(exc: Exception) -> None:
    if isinstance(exc, LedgerUnavailable):
        fail(str(exc), 3)
    if isinstance(exc, RemitError | ValueError):
        fail(str(exc), 2)
    raise exc


@app.command()
def sample(
    period: str | None = typer.Option(None, "--period", help="A month, e.g. 2026-11."),
    since: str | None = typer.Option(None, "--since", help="Period start (ISO-8601)."),
    until: str | None = typer.Option(None, "--until", help="Period end, exclusive (ISO-8601)."),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence of the claim."),
    max_rate: float = typer.Option(0.01, "--max-rate", help="Error rate to claim below."),
    size: int | None = typer.Option(None, "--size", help="Per stratum (default: the plan's)."),
    tiers: str | None = typer.Option(
        None, "--tiers", help="Tiers to sample, comma-separated (default autonomous,notify)."
    ),
    now: str | None = typer.Option(None, "--now", help="Current time (ISO-8601)."),
    actor: str = typer.Option("cli", "--actor", help="Identity recorded as drawing it."),
    db: str | None = DbOption,
    fmt: OutputFormat = FormatOption,
) -> None:
    """Draw the period's stratified random sample, keyed by the first signed checkpoint
    taken after the period closed, and record it on the ledger (once per period)."""
    check_format(fmt)
    start, end = _period(period, since, until)
    chosen = _tiers(tiers)
    if size is not None and size < 1:
        fail("--size must be at least 1")
    t = parse_time(now)
    ledger = ledger_or_fail(db, create=False)
    try:
        got = draw_sample(
            ledger, start, end, t, actor, confidence=confidence, max_rate=max_rate, size=size,
            tiers=chosen,
        )  # fmt: skip
    except Exception as exc:
        _guard_errors(exc)
        raise
    rec = got.record
    if fmt == "json":
        print_json({"ledger_index": got.index, **rec.to_data()})
        return
    console.print(
        f"Sample {rec.sample_id} of [{iso(rec.since)}, {iso(rec.until)}) recorded at ledger "
        f"index {got.index}; keyed by checkpoint of size {rec.checkpoint_size} "
        f"(root {rec.checkpoint_root[:16]}…); plan {rec.plan_size} per stratum "
        f"(< {rec.max_rate:.0%} at {rec.confidence:.0%} if no deviation).",
        highlight=False,
        markup=False,
    )
    tab = Table(title="Strata (autonomous and notify first)")
    for col in ("tier", "agent", "population", "sampled", "decisions"):
        tab.add_column(col, overflow="fold")
    for s in rec.strata:
        shown = ", ".join(s.decision_ids[:5]) + (" …" if len(s.decision_ids) > 5 else "")
        tab.add_row(s.tier, escape(s.agent), str(s.population), str(len(s.decision_ids)), shown)
    console.print(tab)


@app.command()
def verdict(
    decision_id: str = typer.Argument(..., help="A sampled decision's id."),
    value: str = typer.Option(..., "--verdict", help=", ".join(VERDICTS)),
    comment: str = typer.Option("", "--comment", help="Why, in a sentence."),
    reviewer: str = typer.Option(..., "--reviewer", help="Who reviews, e.g. rita@example.com."),
    sample_id: str | None = typer.Option(None, "--sample", help="The sample (if several)."),
    db: str | None = DbOption,
    fmt: OutputFormat = FormatOption,
) -> None:
    """Record a reviewer's verdict on a sampled decision (once per decision)."""
    check_format(fmt)
    if value not in VERDICTS:
        fail(f"--verdict: {value!r} is not one of {', '.join(VERDICTS)}")
    if not reviewer.strip():
        fail("--reviewer must name who reviews")
    ledger = ledger_or_fail(db, create=False)
    label = f"reviewer:{reviewer.strip()}"
    try:
        got = record_verdict(ledger, decision_id, value, comment, label, utcnow(), sample_id)
    except Exception as exc:
        _guard_errors(exc)
        raise
    out = {"ledger_index": got.index, "actor": got.actor, **got.record.to_data()}
    if fmt == "json":
        print_json(out)
        return
    console.print(
        f"recorded {value} on {decision_id} in {got.record.sample_id} at ledger index "
        f"{got.index} as {label}",
        highlight=False,
        markup=False,
    )


@app.command("report")
def report_cmd(
    sample_id: str = typer.Argument(..., help="The sample's id (from `remit review sample`)."),
    db: str | None = DbOption,
    fmt: OutputFormat = FormatOption,
) -> None:
    """Error rates with their upper confidence bound per stratum, and the envelope changes
    the inappropriate verdicts suggest."""
    check_format(fmt)
    ledger: Ledger = ledger_or_fail(db, create=False)
    try:
        rep = review(ledger, sample_id)
    except Exception as exc:
        _guard_errors(exc)
        raise
    if fmt == "json":
        print_json(rep.to_dict())
        return
    tab = Table(title=f"Review {rep.sample_id}: error rate, upper bound at {rep.confidence:.0%}")
    for col in ("tier", "agent", "population", "sampled", "reviewed", "inappropriate",
                "policy gap", "rate", "upper bound"):  # fmt: skip
        tab.add_column(col)
    for s in rep.strata:
        tab.add_row(
            s.tier, escape(s.agent), str(s.population), str(s.sampled), str(s.reviewed),
            str(s.inappropriate), str(s.policy_gap),
            "—" if s.error_rate is None else f"{s.error_rate:.2%}",
            "—" if s.upper_bound is None else f"{s.upper_bound:.2%}",
        )  # fmt: skip
    console.print(tab)
    for sug in rep.suggestions:
        console.print(f"suggested change: {sug}", highlight=False, markup=False)
    if not rep.suggestions:
        console.print("No rule collected inappropriate verdicts.")


@app.command()
def changes(
    period: str | None = typer.Option(None, "--period", help="A month, e.g. 2026-11."),
    since: str | None = typer.Option(None, "--since", help="Period start (ISO-8601)."),
    until: str | None = typer.Option(None, "--until", help="Period end, exclusive (ISO-8601)."),
    sign: bool = typer.Option(False, "--sign", help="Sign the review off (needs --reviewer)."),
    reviewer: str | None = typer.Option(None, "--reviewer", help="Who signs it off."),
    comment: str = typer.Option("", "--comment", help="The reviewer's conclusion."),
    now: str | None = typer.Option(None, "--now", help="Current time (ISO-8601)."),
    db: str | None = DbOption,
    fmt: OutputFormat = FormatOption,
) -> None:
    """What is new in the period against everything before it: agents, model versions,
    prompt hashes, actions and services, workflows and steps, fallback rules, effective
    permissions granted, envelope versions, sign-offs. `--sign` records the reviewer's
    sign-off of it on the ledger (once per period)."""
    check_format(fmt)
    start, end = _period(period, since, until)
    if sign and not (reviewer and reviewer.strip()):
        fail("--sign needs --reviewer")
    ledger = ledger_or_fail(db, create=False)
    try:
        report = change_report(ledger.store, start, end)
        signed = None
        if sign:
            assert reviewer is not None
            label = f"reviewer:{reviewer.strip()}"
            signed = sign_change_review(ledger, start, end, label, comment, parse_time(now))
    except Exception as exc:
        _guard_errors(exc)
        raise
    out = report.to_dict()
    out["report_sha256"] = report_digest(report)
    if signed is not None:
        out["signed_off"] = {"ledger_index": signed.index, "by": signed.actor}
    if fmt == "json":
        print_json(out)
        return
    tab = Table(title=f"New in [{iso(start)}, {iso(end)})")
    for col in ("what", "agent", "first seen", "index", "value"):
        tab.add_column(col, overflow="fold")
    for c in report.changes:
        tab.add_row(c.category, escape(c.agent), iso(c.at), str(c.index), escape(c.value))
    console.print(tab)
    counts = ", ".join(f"{k} {v}" for k, v in report.counts().items() if v)
    console.print(f"counts: {counts or 'nothing new'}", highlight=False, markup=False)
    if signed is not None:
        console.print(
            f"signed off by {signed.actor} at ledger index {signed.index}",
            highlight=False,
            markup=False,
        )
