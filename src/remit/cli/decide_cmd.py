"""`remit decide` and `remit event add`: decide one request and record it; record an
organisational event."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import typer
from pydantic import ValidationError

from remit.cli.common import DbOption, fail, iso, parse_time, print_json
from remit.cli.ledger_access import ledger_or_fail
from remit.cli.loading import gate_for
from remit.domain.clock import utcnow
from remit.domain.requests import ActionRequest
from remit.envelope.loader import EnvelopeError
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


def decide(
    envelope: Path = typer.Option(..., "--envelope", help="Envelope YAML file."),
    trusted_keys: list[str] = typer.Option(
        None, "--trusted-keys", help="Trusted public key file(s) or verifier-key strings."
    ),
    request: Path = typer.Option(..., "--request", help="ActionRequest JSON file ('-' for stdin)."),
    now: str | None = typer.Option(None, "--now", help="Decide as of this time (ISO-8601)."),
    db: str | None = DbOption,
    insecure_unsigned: bool = typer.Option(
        False, "--insecure-unsigned", help="Accept an unsigned envelope (experiments only)."
    ),
    actor: str = typer.Option("cli", "--actor", help="Identity recorded as having asked."),
) -> None:
    """Decide one request, record it on the ledger, and print the decision as JSON."""
    t = parse_time(now)
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
    ledger = ledger_or_fail(db)
    with contextlib.suppress(LedgerUnavailable):  # the decision below fails closed and says why
        ledger.record_signoffs(checks, t, actor)
    decision = DecisionRecorder(gate, ledger).decide(req, actor, t)
    print_json(decision.to_dict())


def event_add(
    kind: str = typer.Option(..., "--kind", help="acquisition, regulation_change, …"),
    at: str | None = typer.Option(None, "--at", help="When it happened (ISO-8601); default now."),
    note: str = typer.Option("", "--note", help="What happened, in a sentence."),
    db: str | None = DbOption,
    actor: str = typer.Option("cli", "--actor", help="Identity recorded as the reporter."),
) -> None:
    """Record an organisational event; events listed in an envelope's revalidate_on hold
    autonomy until the envelope is signed off again."""
    import re

    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", kind):
        fail(f"--kind: {kind!r} is not an event kind (lower-case letters, digits, _)")
    when = parse_time(at, "--at")
    ledger = ledger_or_fail(db)
    try:
        index = ledger.record_event(kind, when, note, actor, utcnow())
    except LedgerUnavailable as exc:
        fail(str(exc), 1)
    print(json.dumps({"recorded": True, "index": index, "kind": kind, "at": iso(when)}))
