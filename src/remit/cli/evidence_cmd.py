"""`remit evidence`: write an evidence pack for a framework and period, and `remit evidence
verify` one offline. Writing records the export on the ledger (kind `access`) and, with the
log key, signs the checkpoint that closes the period, so the pack proves nothing of the
period is missing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import typer

from remit.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    err_console,
    fail,
    parse_time,
    print_json,
)
from remit.cli.ledger_access import log_key_or_none, store_or_fail
from remit.cli.report_cmd import period_or_fail
from remit.evidence.controls import FRAMEWORKS
from remit.ledger.kinds import AccessRecord
from remit.ledger.records import make_entry
from remit.ledger.store import LedgerUnavailable

app = typer.Typer(
    help="Evidence packs for auditors (SOC 2, ISO 27001, PCI DSS, EU AI Act): "
    "`remit evidence --framework soc2 --period 2026-Q4 --out pack.zip`, "
    "`remit evidence verify pack.zip --public-key log.pub`.",
    invoke_without_command=True,
)


@app.callback()
def export(
    ctx: typer.Context,
    framework: str | None = typer.Option(
        None, "--framework", help="soc2, iso27001, pci-dss or eu-ai-act."
    ),
    period: str | None = typer.Option(None, "--period", help="2026-Q4, 2026-11 or 2026-11-21."),
    since: str | None = typer.Option(None, "--since", help="Start (ISO-8601 time or date)."),
    until: str | None = typer.Option(None, "--until", help="End, excluded."),
    out: Path | None = typer.Option(None, "--out", help="The pack to write (.zip)."),
    db: str | None = DbOption,
    log_key: str | None = typer.Option(
        None, "--log-key", help="Ledger signing key (REMIT_LOG_KEY): signs the closing checkpoint."
    ),
    actor: str = typer.Option("cli", "--actor", help="Who exports (recorded on the ledger)."),
    allow_empty: bool = typer.Option(
        False, "--allow-empty", help="Write a pack even if the period has no decisions."
    ),
    now: str | None = typer.Option(None, "--now", help="Record the export at this time."),
) -> None:
    """Write the evidence pack of a period."""
    if ctx.invoked_subcommand is not None:
        return
    from remit.evidence.derive import ScratchError
    from remit.evidence.pack import gather, make_pack

    if framework is None:
        fail(f"--framework is required: one of {', '.join(sorted(FRAMEWORKS))}")
    if framework not in FRAMEWORKS:
        fail(f"--framework {framework!r}: choose one of {', '.join(sorted(FRAMEWORKS))}")
    if out is None:
        fail("--out FILE is required (the pack to write)")
    window = period_or_fail(period, since, until)
    t = parse_time(now)
    if window.until > t:
        fail(
            f"the period {window.name} has not ended (it ends {window.to_dict()['until']}); "
            "export a period that has ended, or pass --since and --until up to now"
        )
    key = log_key_or_none(log_key)
    store = store_or_fail(db, create=False)
    try:
        found = store.reads.decisions_page(limit=1, since=window.since, until=window.until)
        if not found and not allow_empty:
            fail(
                f"no decisions were recorded in {window.name}: nothing to evidence "
                "(pass --allow-empty to write a pack that shows so)"
            )
        detail = {"framework": framework, **window.to_dict()}
        record = AccessRecord("evidence", actor, "cli", detail)
        store.append([make_entry(record, t, actor)])
        if key is not None:
            from remit.ledger.log import Ledger

            end = Ledger(store, key).checkpoint(t)
        else:
            latest = store.latest_checkpoint()
            if latest is None or latest.size < store.size():
                fail(
                    "the ledger's newest entries are not under a signed checkpoint: pass "
                    "--log-key (or REMIT_LOG_KEY) so the pack can prove the period complete"
                )
            end = latest
        origin = key.name if key else end.note.split("\n", 1)[0]
        with err_console.status(f"building the {framework} pack for {window.name}…"):
            inputs = gather(store, framework, window, origin, end)
            data = make_pack(inputs)
    except (LedgerUnavailable, ScratchError) as exc:
        fail(str(exc), 3)
    finally:
        store.close()
    out.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    err_console.print(
        f"wrote {out}: {framework}, {window.name}, ledger [{inputs.start_size}, "
        f"{inputs.end_size}), {len(inputs.inclusion)} decisions, {len(data)} bytes, "
        f"sha256 {digest}"
    )


@app.command("verify")
def verify(
    pack: Path = typer.Argument(..., help="The evidence pack (.zip)."),
    public_key: str = typer.Option(..., "--public-key", help="The log's public key (.pub)."),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Check a pack offline: digests, checkpoints, completeness, proofs, derived files."""
    from remit.cli.common import console
    from remit.evidence.derive import ScratchError
    from remit.evidence.verify import verify_pack
    from remit.signing.keys import KeyFormatError, load_verifier_key

    try:
        key = load_verifier_key(public_key)
    except (KeyFormatError, OSError) as exc:
        fail(f"--public-key {public_key}: {exc}")
    try:
        data = pack.read_bytes()
    except OSError as exc:
        fail(f"{pack}: {exc}")
    try:
        report = verify_pack(data, key)
    except ScratchError as exc:
        fail(str(exc), 3)
    if fmt == "json":
        print_json({"ok": report.ok, "problems": report.problems, **report.facts})
    elif report.ok:
        f = report.facts
        console.print(
            f"[green]OK[/] {pack}: {f['framework']}, {f['period']['name']}, ledger "
            f"{f['ledger_range']}, {f['decisions_in_period']} decisions, each proven; "
            "the period is complete; every file matches",
            highlight=False,
        )
    else:
        for p in report.problems:
            err_console.print(f"[red]FAIL[/] {p}", highlight=False, soft_wrap=True)
    raise typer.Exit(0 if report.ok else 1)
