"""`remit report`: the governance report of a period (C10) as HTML, PDF, Markdown or JSON.
The export is itself a ledger entry (kind `access`), recorded before the file is written."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import typer

from remit.cli.common import DbOption, err_console, fail, parse_time, warn
from remit.cli.ledger_access import store_or_fail
from remit.cli.loading import envelope_or_fail, trust_or_fail, trusted_keys_or_fail
from remit.envelope.status import envelope_status
from remit.errors import Unavailable
from remit.ledger.kinds import AccessRecord
from remit.ledger.records import make_entry
from remit.ledger.store import LedgerUnavailable
from remit.report.period import Period, PeriodError, between, parse_period

FORMATS = ("json", "md", "html", "pdf")  # as remit.report.render, without importing Jinja2


def period_or_fail(period: str | None, since: str | None, until: str | None) -> Period:
    try:
        if period and not (since or until):
            return parse_period(period)
        if since and until and not period:
            return between(since, until)
    except PeriodError as exc:
        fail(str(exc))
    fail("give --period (2026-Q4, 2026-11, 2026-11-21) or both --since and --until")


def report(
    period: str | None = typer.Option(None, "--period", help="2026-Q4, 2026-11 or 2026-11-21."),
    since: str | None = typer.Option(None, "--since", help="Start (ISO-8601 time or date)."),
    until: str | None = typer.Option(None, "--until", help="End, excluded."),
    envelope: Path = typer.Option(..., "--envelope", help="The envelope in force (YAML)."),
    trusted_keys: list[str] = typer.Option(
        None, "--trusted-keys", help="Trusted sign-off public keys."
    ),
    db: str | None = DbOption,
    public_key: str | None = typer.Option(
        None, "--public-key", help="The log's public key: verify the whole ledger too."
    ),
    fmt: str = typer.Option("html", "--format", help="html, pdf, md or json."),
    out: Path | None = typer.Option(None, "--out", help="File to write (default: stdout)."),
    actor: str = typer.Option("cli", "--actor", help="Who exports (recorded on the ledger)."),
    now: str | None = typer.Option(None, "--now", help="Report as of this time (ISO-8601)."),
) -> None:
    """The governance report of a period: envelope health, decisions by tier, agent and
    rule, actions under a stale envelope, thin reasoning, approvals quality, fallbacks,
    denials, rules never matched, ledger integrity."""
    from remit.ledger.verify import verify_store
    from remit.report.build import build_report
    from remit.report.render import to_html, to_json, to_markdown
    from remit.signing.keys import KeyFormatError, load_verifier_key

    if fmt not in FORMATS:
        fail(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt == "pdf" and out is None:
        fail("--format pdf needs --out FILE")
    window = period_or_fail(period, since, until)
    t = parse_time(now)
    loaded = envelope_or_fail(envelope)
    trust, checks = trust_or_fail(loaded, envelope, trusted_keys_or_fail(trusted_keys), t)
    verifier = None
    if public_key:
        try:
            verifier = load_verifier_key(public_key)
        except (KeyFormatError, OSError) as exc:
            fail(f"--public-key {public_key}: {exc}")
    store = store_or_fail(db, create=False)
    try:
        kinds = frozenset(loaded.envelope.metadata.revalidate_on)
        status = envelope_status(loaded, trust, checks, store.events_after(None, kinds), t)
        with err_console.status(f"reading the ledger for {window.name}…"):
            integrity = verify_store(store, verifier) if verifier else None
            doc = build_report(
                store, window, t, status, [r.id for r in loaded.envelope.rules], integrity
            )
        if not doc["decisions"]["total"]:
            warn(f"no decisions were recorded in {window.name}: the report says so")
        if fmt == "json":
            body = to_json(doc).encode()
        elif fmt == "md":
            body = to_markdown(doc).encode()
        elif fmt == "html":
            body = to_html(doc).encode()
        else:
            from remit.report.pdf import html_to_pdf

            body = html_to_pdf(to_html(doc))
        digest = hashlib.sha256(body).hexdigest()
        record = AccessRecord(
            "report", actor, "cli",
            {"period": window.name, "since": doc["period"]["since"],
             "until": doc["period"]["until"], "format": fmt, "sha256": digest},
        )  # fmt: skip
        (index,) = store.append([make_entry(record, t, actor)])
    except Unavailable as exc:  # the ledger or the PDF engine: nothing written
        fail(str(exc), 3 if not isinstance(exc, LedgerUnavailable) else 1)
    finally:
        store.close()
    if out is None:
        sys.stdout.buffer.write(body)
    else:
        out.write_bytes(body)
        err_console.print(f"wrote {out} ({len(body)} bytes, sha256 {digest}); ledger entry {index}")
