"""`remit envelope …`: check, sign, status and schema of a policy envelope."""

from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from remit.cli.common import (
    UNREACHABLE,
    DbOption,
    FormatOption,
    OutputFormat,
    console,
    err_console,
    fail,
    iso,
    parse_time,
    print_json,
)
from remit.cli.loading import envelope_or_fail, trust_or_fail, trusted_keys_or_fail
from remit.domain.envelope import Envelope
from remit.envelope import LoadedEnvelope
from remit.envelope.conflicts import find_conflicts, tag_only_regulations
from remit.envelope.signoff import SignoffError, append_signoff, create_signoff, signoffs_path
from remit.envelope.status import envelope_status
from remit.signing.keys import KeyFormatError, SigningKey, load_signing_key

if TYPE_CHECKING:
    from remit.ledger.store import LedgerStore

app = typer.Typer(help="Check, sign off and inspect policy envelopes.", no_args_is_help=True)


@app.command()
def check(
    envelope: Path = typer.Argument(..., help="Envelope YAML file."),
    format_: OutputFormat = FormatOption,
) -> None:
    """Validate the envelope (schema, references, IAM actions) and report conflicts
    between rules and regulations. Exit 2 if invalid (the errors on stderr, file:line),
    1 if it has conflicts."""
    loaded = envelope_or_fail(envelope)
    conflicts = find_conflicts(loaded.envelope)
    meta = loaded.envelope.metadata
    if format_ is OutputFormat.JSON:
        print_json(
            {
                "valid": True,
                "name": meta.name,
                "version": meta.version,
                "rules": len(loaded.envelope.rules),
                "digest": loaded.digest,
                "tag_only_regulations": list(tag_only_regulations(loaded.envelope)),
                "conflicts": [str(c) for c in conflicts],
            }
        )
        if conflicts:
            raise typer.Exit(1)
        return
    console.print(
        f"[green]valid[/]: {meta.name} v{meta.version} ({len(loaded.envelope.rules)} rules) "
        f"digest {loaded.digest}",
        highlight=False,
    )
    for reg in tag_only_regulations(loaded.envelope):
        console.print(
            f"note: regulation {reg} selects resources by tags only; it is enforced on each "
            "request, not checked statically.",
            highlight=False,
        )
    if conflicts:
        for c in conflicts:
            console.print(f"[red]conflict[/]: {escape(str(c))}", highlight=False)
        raise typer.Exit(1)


@app.command()
def sign(
    envelope: Path = typer.Argument(..., help="Envelope YAML file."),
    key: str = typer.Option(..., "--key", help="Signing key file (from `remit keygen`)."),
    signer: str = typer.Option(..., "--signer", help="Who signs off, e.g. ciso@example.com."),
    role: str = typer.Option(..., "--role", help="The signer's role, e.g. CISO."),
    at: str | None = typer.Option(None, "--at", help="Sign-off time (ISO-8601); default now."),
    db: str | None = DbOption,
    format_: OutputFormat = FormatOption,
) -> None:
    """Add a detached sign-off over the envelope's canonical digest to
    ENVELOPE.signoffs.json. Refuses an envelope that has conflicts. When the ledger is
    reachable, first shows what the envelope would have changed over the last 90 days."""
    loaded = envelope_or_fail(envelope)
    when = parse_time(at, "--at")
    if not signer.strip() or not role.strip():
        fail("--signer and --role must not be empty")
    conflicts = find_conflicts(loaded.envelope)
    if conflicts:
        fail(
            "refusing to sign an envelope that conflicts with its regulations:\n"
            + "\n".join(str(c) for c in conflicts),
            1,
        )
    try:
        signing_key = load_signing_key(key)
    except (KeyFormatError, OSError) as exc:
        fail(f"--key {key}: {exc}")
    refuse_log_key(key, signing_key)
    _show_impact(loaded, db, when)
    record = create_signoff(loaded, signing_key, signer, role, when)
    path = signoffs_path(envelope)
    try:
        append_signoff(path, record)
    except (SignoffError, OSError) as exc:
        fail(str(exc))
    if format_ is OutputFormat.JSON:
        print_json(
            {
                "signed": True,
                "envelope": loaded.envelope.metadata.name,
                "version": loaded.envelope.metadata.version,
                "digest": loaded.digest,
                "signer": signer,
                "role": role,
                "key": f"{signing_key.name}+{signing_key.key_id_hex}",
                "at": iso(when),
                "signoffs_file": str(path),
            }
        )
        return
    console.print(
        f"signed off {loaded.envelope.metadata.name} v{loaded.envelope.metadata.version} "
        f"({loaded.digest}) as {signer} ({role}) with key {signing_key.name}+"
        f"{signing_key.key_id_hex} at {iso(when)} → {path}",
        highlight=False,
        markup=False,
    )


def refuse_log_key(source: str, key: SigningKey) -> None:
    """Key purposes are separate: the ledger's log key (REMIT_LOG_KEY, or a key named as
    a log origin, like `remit init`'s `<org>/remit-log`) never signs an envelope off."""
    log_src = os.environ.get("REMIT_LOG_KEY")
    same = False
    if log_src:
        with contextlib.suppress(KeyFormatError, OSError):
            same = load_signing_key(log_src).verifier() == key.verifier()
    last = key.name.rsplit("/", 1)[-1]
    if same or last == "log" or last.endswith("-log"):
        fail(
            f"--key {source}: this is a ledger log key ({key.name}"
            + (", the REMIT_LOG_KEY" if same else "")
            + "); it signs checkpoints, never an envelope. Sign with a sign-off key "
            "(e.g. keys/signoff.key from `remit init`, or one made with `remit keygen`)"
        )


@app.command()
def status(
    envelope: Path = typer.Argument(..., help="Envelope YAML file."),
    trusted_keys: list[str] = typer.Option(
        None, "--trusted-keys", help="Trusted public key files or verifier-key strings."
    ),
    now: str | None = typer.Option(None, "--now", help="Evaluate at this time (ISO-8601)."),
    db: str | None = DbOption,
    format_: OutputFormat = FormatOption,
    as_json: bool = typer.Option(False, "--json", hidden=True, help="Same as --format json."),
) -> None:
    """Who signed it off and when, when it was last reviewed and is next due, expiry,
    pending re-validation events and conflicts — on one screen."""
    from remit.ledger.open import UnsupportedDatabase, open_existing_store_or_none
    from remit.ledger.store import LedgerUnavailable

    t = parse_time(now)
    loaded = envelope_or_fail(envelope)
    trusted = trusted_keys_or_fail(trusted_keys)
    trust, checks = trust_or_fail(loaded, envelope, trusted, t)
    try:
        store = open_existing_store_or_none(db)
    except UnsupportedDatabase as exc:
        fail(f"--db {exc}")
    except LedgerUnavailable as exc:
        fail(str(exc), UNREACHABLE)
    events = (
        list(store.events_after(None, frozenset(loaded.envelope.metadata.revalidate_on)))
        if store
        else []
    )
    st = envelope_status(loaded, trust, checks, events, t)
    overdue = change_review_overdue(store, t, loaded.envelope.metadata.review_every)
    healthy = st.healthy and overdue is None
    if as_json or format_ is OutputFormat.JSON:
        print_json({**st.to_dict(), "change_review_overdue": overdue})
        raise typer.Exit(0 if healthy else 1)
    ok = "[green]yes[/]" if st.trust.valid else "[red]NO[/]"
    head = Table.grid(padding=(0, 2))
    head.add_column(no_wrap=True)
    head.add_column(overflow="fold")  # digests and keys are data: wrap, never truncate
    head.add_row("Envelope", f"{st.name} v{st.version}")
    head.add_row("Digest", st.digest)
    head.add_row("Owner", escape(st.owner))
    head.add_row("Threat model", escape(st.threat_model))
    head.add_row("Authority", f"{ok} — {escape(st.trust.detail)}")
    head.add_row(
        "Last review",
        f"{iso(st.last_review)}   next due {iso(st.next_review_due)}"
        + ("  [red]OVERDUE[/]" if st.review_overdue else ""),
    )
    head.add_row("Expires", iso(st.expires_at) + ("  [red]EXPIRED[/]" if st.expired else ""))
    console.print(Panel(head, title="Who signed it, when was it reviewed, does it still fit?"))
    so = Table(title="Sign-offs")
    for col in ("signer", "role", "key", "at", "verifies"):
        so.add_column(col, overflow="fold")
    for c in st.signoffs:
        s = c.signoff
        so.add_row(
            escape(s.signer),
            escape(s.role),
            escape(f"{s.key_name}+{s.key_id}"),
            iso(s.at),
            "[green]yes[/]" if c.valid else f"[red]no[/]: {escape(c.problem or '')}",
        )
    if not st.signoffs:
        so.add_row("—", "—", "—", "—", "[red]no sign-offs[/]")
    console.print(so)
    if st.pending_events:
        ev = Table(title="[red]Re-validation pending[/]: events since the last sign-off")
        for col in ("kind", "at", "note"):
            ev.add_column(col, overflow="fold")
        for e in st.pending_events:
            ev.add_row(e.kind, iso(e.at), escape(e.note))
        console.print(ev)
    else:
        console.print("Re-validation: nothing pending.")
    if st.conflicts:
        for conflict in st.conflicts:
            console.print(f"[red]conflict[/]: {escape(str(conflict))}", highlight=False)
    else:
        console.print("Conflicts with regulations: none.")
    if overdue is not None:
        console.print(
            f"[red]Change review OVERDUE[/]: {escape(overdue['category'])} "
            f"{escape(overdue['value'])} first seen {overdue['at']} (ledger index "
            f"{overdue['ledger_index']}) is not covered by a signed-off change review "
            "(`remit review changes --sign`).",
            highlight=False,
        )
    elif store is not None:
        console.print("Change review: nothing unreviewed past the review cadence.")
    raise typer.Exit(0 if healthy else 1)


@app.command()
def schema() -> None:
    """Print the envelope's JSON Schema (for editors and CI validation)."""
    data = Envelope.model_json_schema(by_alias=True)
    data["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    data["$id"] = "https://remit.dev/schemas/envelope-v1.json"
    data["title"] = "Remit policy envelope (remit.dev/v1)"
    print(json.dumps(data, indent=2))


def change_review_overdue(
    store: LedgerStore | None, now: datetime, every: timedelta
) -> dict[str, Any] | None:
    """The first change older than the review cadence that no signed-off change review
    covers, as JSON; None if there is none or no ledger."""
    if store is None:
        return None
    from remit.oversight.change_review import overdue_change

    found = overdue_change(store, now, every)
    return None if found is None else found.to_dict()


def _show_impact(loaded: LoadedEnvelope, db: str | None, now: datetime) -> None:
    """The what-if summary of `loaded` over the last 90 days, on stderr, if a ledger is
    there to replay (`remit envelope whatif` gives the details)."""
    from remit.decide import Gate
    from remit.domain.trust import EnvelopeTrust
    from remit.ledger.open import open_existing_store_or_none
    from remit.ledger.store import LedgerUnavailable
    from remit.oversight.runs import whatif

    try:
        store = open_existing_store_or_none(db)
        if store is None:
            return
        gate = Gate(loaded.envelope, loaded.digest, EnvelopeTrust(False, None, "proposed"))
        report = whatif(store, gate, now - timedelta(days=90))
    except LedgerUnavailable as exc:
        err_console.print(f"impact not shown (ledger unreachable: {escape(str(exc))})")
        return
    tiers = ", ".join(f"{o} → {n}: {c}" for (o, n), c in sorted(report.by_tiers.items()))
    err_console.print(
        f"impact over the last 90 days: {report.replayed:,} decisions replayed, "
        f"{len(report.flips):,} would change" + (f" ({tiers})" if tiers else ""),
        highlight=False,
        markup=False,
    )
