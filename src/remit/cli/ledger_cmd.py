"""`remit ledger …`: checkpoints, proofs, exports, verification and audit bundles."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from remit.cli.common import (
    DbOption,
    FormatOption,
    JsonFirstFormatOption,
    OutputFormat,
    console,
    err_console,
    fail,
    parse_time,
    print_json,
)
from remit.cli.ledger_access import ledger_or_fail, log_key_or_none, store_or_fail
from remit.domain.clock import ts_text, utcnow
from remit.ledger.bundle import BundleError, read_bundle, write_bundle
from remit.ledger.export import write_jsonl, write_ocsf, write_otel
from remit.ledger.log import NoLogKey
from remit.ledger.store import LedgerStore, LedgerUnavailable
from remit.ledger.verify import VerifyReport, verify_log, verify_store
from remit.signing.keys import KeyFormatError, VerifierKey, load_verifier_key
from remit.tlog import merkle

app = typer.Typer(
    help="Checkpoints, proofs, exports and offline verification.", no_args_is_help=True
)

LogKeyOption = typer.Option(
    None, "--log-key", help="The log's signing key (from `remit keygen`). Also REMIT_LOG_KEY."
)


@app.command()
def checkpoint(
    db: str | None = DbOption,
    log_key: str | None = LogKeyOption,
    format_: OutputFormat = FormatOption,
) -> None:
    """Sign a checkpoint of the current tree (if it grew) and print the latest one: its
    signed note (table), or its size, root, time and note (json)."""
    if log_key_or_none(log_key) is None:
        fail(str(NoLogKey()))  # before opening: a checkpoint must not create a ledger
    ledger = ledger_or_fail(db, log_key, create=False)
    try:
        cp = ledger.checkpoint(utcnow())
    except NoLogKey as exc:
        fail(str(exc))
    except LedgerUnavailable as exc:
        fail(str(exc), 1)
    if format_ is OutputFormat.JSON:
        print_json({"size": cp.size, "root_hash": cp.root.hex(), "ts": cp.ts, "note": cp.note})
        return
    sys.stdout.write(cp.note)


@app.command()
def prove(
    index: int = typer.Option(..., "--index", min=0, help="Entry index."),
    size: int | None = typer.Option(
        None, "--size", min=1, help="Tree size (default: latest checkpoint)."
    ),
    db: str | None = DbOption,
    format_: OutputFormat = JsonFirstFormatOption,
) -> None:
    """Print an inclusion proof for one entry, against a signed checkpoint (json by
    default: the proof is for programs; table shows it for a person)."""
    store = store_or_fail(db, create=False, read_only=True)
    checkpoints = {c.size: c for c in store.checkpoints()}
    latest = max(checkpoints) if checkpoints else None
    n = size or latest or store.size()
    if index >= n:
        fail(f"--index {index} is not in a tree of size {n}")
    if n > store.size():
        fail(f"--size {n} is larger than the ledger ({store.size()} entries)")
    entry = store.entry(index)
    proof = store.inclusion_proof(index, n)
    lh = merkle.leaf_hash(entry.body)
    root = store.root(n)
    merkle.verify_inclusion(lh, index, n, proof, root)
    cp = checkpoints.get(n)
    _print_proof(
        format_,
        {
            "index": index,
            "tree_size": n,
            "leaf_hash": lh.hex(),
            "leaf": base64.b64encode(entry.body).decode(),
            "root_hash": root.hex(),
            "inclusion_proof": [h.hex() for h in proof],
            "checkpoint": cp.note if cp else None,
            "note": None
            if cp
            else f"no signed checkpoint at size {n}; run `remit ledger checkpoint`",
        },
    )


@app.command()
def consistency(
    from_: int = typer.Option(..., "--from", min=1, help="Older tree size."),
    to: int = typer.Option(..., "--to", min=1, help="Newer tree size."),
    db: str | None = DbOption,
    format_: OutputFormat = JsonFirstFormatOption,
) -> None:
    """Print a consistency proof between two tree sizes (json by default; or table)."""
    if from_ > to:  # before the ledger is opened
        fail(f"--from ({from_}) must not be larger than --to ({to})")
    store = store_or_fail(db, create=False, read_only=True)
    size = store.size()
    if not from_ <= to <= size:
        fail(f"need 1 <= --from ({from_}) <= --to ({to}) <= ledger size ({size})")
    proof = store.consistency_proof(from_, to)
    r1, r2 = store.root(from_), store.root(to)
    merkle.verify_consistency(from_, to, proof, r1, r2)
    cps = {c.size: c.note for c in store.checkpoints()}
    _print_proof(
        format_,
        {
            "from": from_,
            "to": to,
            "from_root": r1.hex(),
            "to_root": r2.hex(),
            "consistency_proof": [h.hex() for h in proof],
            "from_checkpoint": cps.get(from_),
            "to_checkpoint": cps.get(to),
        },
    )


def _print_proof(format_: OutputFormat, data: dict[str, Any]) -> None:
    if format_ is OutputFormat.JSON:
        print_json(data)
        return
    t = Table.grid(padding=(0, 2))
    t.add_column(no_wrap=True)
    t.add_column(overflow="fold")
    for k, v in data.items():
        if isinstance(v, list):
            v = "\n".join(v) or "(empty)"
        t.add_row(k, "—" if v is None else escape(str(v)))
    console.print(t)


@contextmanager
def _sink(out: Path | None) -> Iterator[TextIO]:
    if out is None:
        yield sys.stdout
        return
    with out.open("w", encoding="utf-8") as fh:
        yield fh


@app.command()
def export(
    format_: str = typer.Option("jsonl", "--format", help="jsonl, ocsf or otel."),
    since: str | None = typer.Option(None, "--since", help="Only entries at or after this time."),
    out: Path | None = typer.Option(None, "--out", help="Output file (default stdout)."),
    db: str | None = DbOption,
) -> None:
    """Export entries as JSONL (exact leaf bytes), OCSF API Activity, or OTel spans."""
    writers = {"jsonl": write_jsonl, "ocsf": write_ocsf, "otel": write_otel}
    if format_ not in writers:
        fail(f"--format must be one of {', '.join(writers)}, not {format_!r}")
    cutoff = ts_text(parse_time(since, "--since")) if since else None
    store = store_or_fail(db, create=False, read_only=True)
    entries = (e for e in store.entries() if cutoff is None or e.ts >= cutoff)
    with _sink(out) as fh:
        n = writers[format_](entries, fh)
    if out is not None:
        console.print(f"wrote {n} {format_} record(s) to {out}", highlight=False, markup=False)


def _public_key(source: str) -> VerifierKey:
    try:
        return load_verifier_key(source)
    except (KeyFormatError, OSError) as exc:
        fail(f"--public-key: {exc}")


def _window(report: VerifyReport) -> str:
    """The entries no signed checkpoint covers, and their times."""
    since = f", made from {report.uncovered_since}" if report.uncovered_since else ""
    until = f" to {report.uncovered_until}" if report.uncovered_until else ""
    after = (
        f" (last checkpoint signed at {report.last_checkpoint_at})"
        if report.last_checkpoint_at
        else ""
    )
    return (
        f"note: the last {report.uncovered} entries{since}{until}{after} are not yet covered "
        "by a signed checkpoint: a change to them would go unseen (run `remit ledger "
        "checkpoint`)"
    )


def _report(report: VerifyReport, format_: str) -> None:
    if format_ == "json":
        print_json(report.to_json())
        if not report.ok:
            raise typer.Exit(1)
        return
    if report.ok:
        console.print(
            f"[green]OK[/]: {report.size} entries, root {report.root.hex()}, "
            f"{report.checkpoints_checked} checkpoint(s) verified",
            highlight=False,
            soft_wrap=True,
        )
        if report.uncovered:
            console.print(_window(report), highlight=False, markup=False, soft_wrap=True)
        return
    where = (
        f"first bad index: {report.first_bad_index}"
        if report.first_bad_index is not None
        else "problems"
    )
    err_console.print(f"[bold red]FAILED[/] ({where})", highlight=False)
    found = report.first_bad_range
    if found is not None and found[0] != found[1]:
        err_console.print(
            f"  the first change lies in entries {found[0]} to {found[1]}; entries before "
            f"{found[0]} are proven intact",
            highlight=False,
            soft_wrap=True,
        )
    for p in report.problems:
        err_console.print(f"  - {escape(p)}", highlight=False, soft_wrap=True)
    if report.uncovered:
        err_console.print(_window(report), highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(1)


@app.command()
def verify(
    public_key: str = typer.Option(
        ..., "--public-key", help="The log's public key: a .pub file or name+keyid+base64."
    ),
    db: str | None = DbOption,
    bundle: Path | None = typer.Option(
        None, "--bundle", help="Verify an audit bundle instead of a database."
    ),
    format_: OutputFormat = FormatOption,
) -> None:
    """Recompute every leaf and the tree from the entries, check every checkpoint's
    signature, root and consistency, each entry's form and the derived index tables.
    Exit 0 only if all holds."""
    key = _public_key(public_key)
    if bundle is not None:
        try:
            b = read_bundle(bundle)
        except BundleError as exc:
            fail(str(exc))
        if b.public_key.strip() != key.to_vkey():
            err_console.print(
                "note: the bundle names a different public key; verifying with yours.",
                highlight=False,
            )
        try:
            contents = ((i, body) for i, body, _ in b.rows())
            report = verify_log(b.rows(), b.checkpoints, key, contents=contents)
        except BundleError as exc:
            fail(str(exc), 1)
        _report(report, format_)
        return
    store = store_or_fail(db, create=False, read_only=True)
    try:
        report = _verify_with_progress(store, key)
    except LedgerUnavailable as exc:
        fail(str(exc), 1)
    _report(report, format_)


def _verify_with_progress(store: LedgerStore, key: VerifierKey) -> VerifyReport:
    total = store.size()
    if total < 50_000 or not err_console.is_terminal:
        return verify_store(store, key)
    with Progress(
        TextColumn("verifying"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("verify", total=total)
        return verify_store(store, key, lambda done: bar.update(task, completed=done))


@app.command()
def bundle(
    out: Path = typer.Option(..., "--out", help="Bundle file to write."),
    db: str | None = DbOption,
    log_key: str | None = LogKeyOption,
    public_key: str | None = typer.Option(
        None, "--public-key", help="Public key to embed (default: from --log-key)."
    ),
) -> None:
    """Write a self-contained audit bundle (entries, checkpoints, public key)."""
    if public_key:
        vkey = _public_key(public_key).to_vkey()
    else:
        ledger = ledger_or_fail(db, log_key, create=False)
        if ledger.log_key is None:
            fail("give --public-key, or --log-key / REMIT_LOG_KEY to embed the log's public key")
        vkey = ledger.log_key.verifier().to_vkey()
    store = store_or_fail(db, create=False, read_only=True)
    with out.open("w", encoding="utf-8") as fh:
        n = write_bundle(store, vkey, fh)
    console.print(
        f"wrote {n} entries and {len(store.checkpoints())} checkpoint(s) to {out}",
        highlight=False,
        markup=False,
    )
