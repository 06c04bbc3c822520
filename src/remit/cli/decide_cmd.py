"""`remit decide` and `remit event add`: decide one request and record it (or, with
`--dry-run`, only decide); record an organisational event of a checked kind."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.table import Table

from remit.cli.common import (
    CHECK_FAILED,
    UNREACHABLE,
    DbOption,
    JsonFirstFormatOption,
    OutputFormat,
    console,
    did_you_mean,
    err_console,
    fail,
    iso,
    parse_time,
    print_json,
)
from remit.cli.ledger_access import InitOption, db_target_or_fail, ledger_or_fail
from remit.cli.loading import envelope_or_fail, gate_for
from remit.decide.state import GateState, StaticState
from remit.domain.clock import utcnow
from remit.domain.decisions import Decision
from remit.domain.events import KNOWN_EVENT_KINDS
from remit.domain.requests import ActionRequest
from remit.domain.tiers import Tier
from remit.envelope.loader import EnvelopeError
from remit.ledger.open import is_postgres, open_store
from remit.ledger.store import LedgerUnavailable
from remit.recorder import DecisionRecorder

MAX_REQUEST_BYTES = 1024 * 1024


def parse_request(text: str, source: str) -> ActionRequest:
    """Validate request JSON; raise ValueError naming each bad field."""
    if len(text.encode("utf-8")) > MAX_REQUEST_BYTES:
        raise ValueError(f"{source}: request is larger than {MAX_REQUEST_BYTES} bytes")
    try:
        return ActionRequest.model_validate_json(text)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"]) or "(request)"
            lines.append(f"{source}: {loc}: {err['msg'].removeprefix('Value error, ')}")
        raise ValueError("\n".join(lines)) from None


def parse_fail_on(value: str | None) -> frozenset[Tier]:
    """`--fail-on deny,approve`: the tiers that make `decide` exit 1."""
    if not value:
        return frozenset()
    tiers = set()
    names = [t.value for t in Tier]
    for part in value.split(","):
        name = part.strip().lower()
        if name not in names:
            fail(
                f"--fail-on: {part.strip()!r} is not a tier{did_you_mean(name, names)}; "
                f"use a comma-separated list of {', '.join(names)}"
            )
        tiers.add(Tier(name))
    return frozenset(tiers)


def decide(
    envelope: Path = typer.Option(..., "--envelope", help="Envelope YAML file."),
    trusted_keys: list[str] = typer.Option(
        None, "--trusted-keys", help="Trusted public key file(s) or verifier-key strings."
    ),
    request: Path = typer.Option(..., "--request", help="ActionRequest JSON file ('-' for stdin)."),
    now: str | None = typer.Option(None, "--now", help="Decide as of this time (ISO-8601)."),
    db: str | None = DbOption,
    init: bool = InitOption,
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Decide without recording (reads the ledger's events and rate windows if "
        "--db names one; writes nothing).",
    ),
    fail_on: str | None = typer.Option(
        None, "--fail-on", help="Exit 1 when the tier is one of these, e.g. deny,approve (CI)."
    ),
    format_: OutputFormat = JsonFirstFormatOption,
    insecure_unsigned: bool = typer.Option(
        False, "--insecure-unsigned", help="Accept an unsigned envelope (experiments only)."
    ),
    actor: str = typer.Option("cli", "--actor", help="Identity recorded as having asked."),
) -> None:
    """Decide one request, record it on the ledger, and print the decision."""
    t = parse_time(now)
    failing = parse_fail_on(fail_on)
    try:
        text = (
            typer.get_text_stream("stdin").read()
            if str(request) == "-"
            else request.read_text("utf-8")
        )
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"--request {request}: cannot read: {exc}")
    try:
        req = parse_request(text, str(request))
    except ValueError as exc:
        fail(f"request is not valid:\n{exc}")
    try:
        gate, _, checks = gate_for(envelope, trusted_keys, insecure_unsigned, t)
    except EnvelopeError as exc:
        fail(str(exc))
    if dry_run:
        decision = gate.decide(req, t, _read_only_state(db))
        err_console.print("dry run: decided, not recorded on the ledger", highlight=False)
    else:
        ledger = ledger_or_fail(db, create=init)
        with contextlib.suppress(LedgerUnavailable):  # the decision below fails closed
            ledger.record_signoffs(checks, t, actor)
        decision = DecisionRecorder(gate, ledger).decide(req, actor, t)
    data = decision.to_dict()
    if dry_run:
        data["dry_run"] = True
    if format_ is OutputFormat.JSON:
        print_json(data)
    else:
        _print_decision(decision, dry_run)
    if decision.tier in failing:
        err_console.print(f"--fail-on: the tier is {decision.tier.value}", highlight=False)
        raise typer.Exit(CHECK_FAILED)


def _read_only_state(db: str | None) -> GateState:
    """The recorded state a dry run decides with: the ledger's if --db names one that
    exists (opened without creating anything), else an empty history."""
    target = db_target_or_fail(db, init=True)  # checks the scheme only
    if not is_postgres(target) and not Path(target).exists():
        return StaticState()
    try:
        return open_store(target, create=False)
    except LedgerUnavailable as exc:
        fail(str(exc), UNREACHABLE)


def _print_decision(d: Decision, dry_run: bool) -> None:
    t = Table.grid(padding=(0, 2))
    t.add_column(no_wrap=True)
    t.add_column(overflow="fold")
    t.add_row("Decision", d.id + ("  (dry run: not recorded)" if dry_run else ""))
    t.add_row("Tier", d.tier.value.upper())
    t.add_row("Agent", d.agent)
    t.add_row("Action", d.action)
    t.add_row("Rules", ", ".join(d.rules) or "—")
    t.add_row("Envelope", f"{d.envelope.name} v{d.envelope.version}")
    idx = d.extra.get("ledger_index")
    if idx is not None:
        t.add_row("Ledger index", str(idx))
    console.print(t)
    for i, r in enumerate(d.reasons, 1):
        console.print(f"{i}. [{r.code.value}] {r.message}", highlight=False, markup=False)


def event_add(
    kind: str = typer.Option(..., "--kind", help="acquisition, regulation_change, …"),
    at: str | None = typer.Option(None, "--at", help="When it happened (ISO-8601); default now."),
    note: str = typer.Option("", "--note", help="What happened, in a sentence."),
    envelope: Path | None = typer.Option(
        None, "--envelope", help="Also accept the kinds this envelope's revalidate_on lists."
    ),
    custom: bool = typer.Option(
        False, "--custom", help="Record a kind outside the known lists on purpose."
    ),
    db: str | None = DbOption,
    init: bool = InitOption,
    actor: str = typer.Option("cli", "--actor", help="Identity recorded as the reporter."),
    format_: OutputFormat = JsonFirstFormatOption,
) -> None:
    """Record an organisational event; events listed in an envelope's revalidate_on hold
    autonomy until the envelope is signed off again. The kind must be a documented one
    (or in --envelope's revalidate_on): a typo would otherwise hold nothing, forever."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", kind):
        fail(f"--kind: {kind!r} is not an event kind (lower-case letters, digits, _)")
    known = list(KNOWN_EVENT_KINDS)
    if envelope is not None:
        known += [k for k in envelope_or_fail(envelope).envelope.metadata.revalidate_on]
    if kind not in known and not custom:
        fail(
            f"--kind: {kind!r} is not a known event kind{did_you_mean(kind, known)}. Known: "
            f"{', '.join(sorted(set(known)))}. To record another kind on purpose, add "
            "--custom (it holds autonomy only if an envelope lists it in revalidate_on)"
        )
    when = parse_time(at, "--at")
    ledger = ledger_or_fail(db, create=init)
    try:
        index = ledger.record_event(kind, when, note, actor, utcnow())
    except LedgerUnavailable as exc:
        fail(str(exc), UNREACHABLE)
    if format_ is OutputFormat.JSON:
        print_json({"recorded": True, "index": index, "kind": kind, "at": iso(when)})
    else:
        console.print(
            f"recorded event {kind} at {iso(when)} (ledger index {index})",
            highlight=False,
            markup=False,
        )
