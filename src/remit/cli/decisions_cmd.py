"""`remit decisions list|show` and `remit events list`: what the ledger recorded, for a
person (a table, a decision rendered with its reasons, reasoning, provenance, approval,
grant and outcome) or a program (`--format json`). Reads only; never creates a ledger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from remit.cli.common import (
    UNREACHABLE,
    DbOption,
    FormatOption,
    OutputFormat,
    console,
    did_you_mean,
    fail,
    iso,
    parse_time,
    print_json,
)
from remit.cli.ledger_access import store_or_fail
from remit.domain.tiers import Tier
from remit.ledger.kinds import DecisionRecord, EntryFormatError
from remit.ledger.records import Recorded
from remit.ledger.store import LedgerStore, LedgerUnavailable

app = typer.Typer(help="Recorded decisions: list and show.", no_args_is_help=True)
events_app = typer.Typer(
    help="Organisational events (acquisitions, model updates, …).", no_args_is_help=True
)


def _summary(r: Recorded[DecisionRecord]) -> dict[str, Any]:
    d = r.record.decision
    reasons = d.get("reasons") or []
    return {
        "id": r.record.id,
        "ledger_index": r.index,
        "recorded_at": r.ts,
        "agent": r.record.agent,
        "action": d.get("action"),
        "tier": d.get("tier"),
        "rules": list(d.get("rules") or []),
        "actor": r.actor,
        "reason": reasons[0]["message"] if reasons else None,
    }


@app.command("list")
def list_decisions(
    agent: str | None = typer.Option(None, "--agent", help="Only this agent's."),
    tier: str | None = typer.Option(None, "--tier", help="autonomous, notify, approve or deny."),
    action: str | None = typer.Option(None, "--action", help="e.g. iam:DeleteRole."),
    since: str | None = typer.Option(None, "--since", help="Recorded at or after (ISO-8601)."),
    until: str | None = typer.Option(None, "--until", help="Recorded before (ISO-8601)."),
    limit: int = typer.Option(50, "--limit", min=1, max=100_000, help="At most this many."),
    db: str | None = DbOption,
    format_: OutputFormat = FormatOption,
) -> None:
    """Recorded decisions, newest first."""
    tiers = [t.value for t in Tier]
    if tier is not None and tier not in tiers:
        fail(f"--tier: {tier!r} is not a tier{did_you_mean(tier, tiers)}; use {', '.join(tiers)}")
    t0 = parse_time(since, "--since") if since else None
    t1 = parse_time(until, "--until") if until else None
    store = store_or_fail(db)
    try:
        found = store.reads.find_decisions(
            agent=agent, tier=tier, action=action, since=t0, until=t1, limit=limit
        )
    except LedgerUnavailable as exc:
        fail(str(exc), UNREACHABLE)
    rows = [_summary(r) for r in found]
    if format_ is OutputFormat.JSON:
        print_json(rows)
        return
    t = Table(title=f"Decisions ({len(rows)}, newest first)")
    for col in ("index", "recorded", "id", "agent", "action", "tier", "rules"):
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(
            str(row["ledger_index"]),
            row["recorded_at"],
            row["id"],
            escape(row["agent"]),
            escape(str(row["action"])),
            str(row["tier"]),
            ", ".join(row["rules"]) or "—",
        )
    console.print(t)


def decision_view(store: LedgerStore, decision_id: str) -> dict[str, Any] | None:
    """Everything recorded about one decision, as one mapping."""
    reads = store.reads
    rec = reads.decision(decision_id)
    if rec is None:
        return None
    view: dict[str, Any] = {
        "ledger_index": rec.index,
        "recorded_at": rec.ts,
        "asked_by": rec.actor,
        "decision": dict(rec.record.decision),
        "request": dict(rec.record.request),
        "approval": None,
        "grant": None,
        "outcome": None,
    }
    standing = reads.approval(decision_id)
    if standing is not None:
        view["approval"] = {
            "state": standing.state or "pending",
            "expires_at": iso(standing.expires_at),
            "resolved_by": standing.resolved_by,
            "comment": standing.comment,
            "resolved_at": standing.resolved_at,
        }
    grant = reads.grant(decision_id)
    if grant is not None:
        g = grant.record
        view["grant"] = {
            "ledger_index": grant.index,
            "role_arn": g.role_arn,
            "session_name": g.session_name,
            "backend": g.backend,
            "expires_at": iso(g.expires_at),
            "effective": g.effective_summary,
            "revoked": reads.is_revoked(decision_id),
        }
    out_idx = reads.outcome_index(decision_id)
    if out_idx is not None:
        entry = reads.entry(out_idx)
        if entry is not None:
            try:
                view["outcome"] = {"ledger_index": out_idx, **entry.read().record.to_data()}
            except EntryFormatError as exc:
                raise LedgerUnavailable(f"damaged ledger: {exc}") from exc
    return view


@app.command("show")
def show(
    decision_id: str = typer.Argument(..., help="The decision id (dec_…)."),
    db: str | None = DbOption,
    format_: OutputFormat = FormatOption,
) -> None:
    """One decision for a person: tier and reasons, the request's reasoning and provenance,
    its approval, grant and outcome, and where it is on the ledger."""
    store = store_or_fail(db)
    try:
        view = decision_view(store, decision_id)
    except LedgerUnavailable as exc:
        fail(str(exc), UNREACHABLE)
    if view is None:
        fail(f"no decision {decision_id} on this ledger (see `remit decisions list`)")
    if format_ is OutputFormat.JSON:
        print_json(view)
        return
    _render(view)


def _render(view: Mapping[str, Any]) -> None:
    d, req = view["decision"], view["request"]
    head = Table.grid(padding=(0, 2))
    head.add_column(no_wrap=True)
    head.add_column(overflow="fold")
    env = d.get("envelope") or {}
    head.add_row("Decision", f"{d['id']}  ({str(d['tier']).upper()})")
    head.add_row("Agent", escape(f"{d['agent']} (asked as {view['asked_by']})"))
    head.add_row("Action", escape(str(d["action"])))
    arns = [r.get("arn", "?") if isinstance(r, dict) else str(r) for r in req.get("resources", [])]
    head.add_row("Resources", escape("\n".join(arns)) or "—")
    head.add_row("Rules", ", ".join(d.get("rules") or []) or "—")
    head.add_row("Envelope", f"{env.get('name')} v{env.get('version')} {env.get('digest', '')}")
    head.add_row("Recorded", f"{view['recorded_at']} at ledger index {view['ledger_index']}")
    console.print(head)
    console.print("\n[bold]Reasons[/]")
    for i, r in enumerate(d.get("reasons") or [], 1):
        console.print(f"  {i}. {r['code']}: {escape(r['message'])}", highlight=False)
    reasoning = req.get("reasoning") or {}
    console.print("\n[bold]Reasoning (as the agent gave it)[/]")
    console.print(f"  summary: {escape(str(reasoning.get('summary') or '—'))}", highlight=False)
    console.print(f"  confidence: {reasoning.get('confidence', '—')}", highlight=False)
    for s in reasoning.get("signals") or []:
        console.print(f"  signal: {escape(str(s))}", highlight=False)
    for a in reasoning.get("alternatives") or []:
        console.print(f"  alternative: {escape(str(a))}", highlight=False)
    prov = req.get("provenance") or {}
    console.print("\n[bold]Provenance[/]")
    for k, v in prov.items():
        console.print(f"  {k}: {escape(str(v))}", highlight=False)
    for part in ("approval", "grant", "outcome"):
        value = view.get(part)
        console.print(f"\n[bold]{part.capitalize()}[/]")
        if not value:
            console.print("  —")
            continue
        for k, v in value.items():
            console.print(f"  {k}: {escape(str(v))}", highlight=False)


@events_app.command("list")
def list_events(
    db: str | None = DbOption,
    limit: int = typer.Option(1000, "--limit", min=1, help="At most this many."),
    format_: OutputFormat = FormatOption,
) -> None:
    """Recorded organisational events, newest first."""
    store = store_or_fail(db)
    try:
        events = store.reads.all_events(limit)
    except LedgerUnavailable as exc:
        fail(str(exc), UNREACHABLE)
    rows = [
        {"ledger_index": str(e.index), "kind": e.kind, "at": iso(e.at), "note": e.note}
        for e in events
    ]
    if format_ is OutputFormat.JSON:
        print_json([{**r, "ledger_index": int(r["ledger_index"])} for r in rows])
        return
    t = Table(title=f"Events ({len(rows)}, newest first)")
    for col in ("index", "kind", "at", "note"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r["ledger_index"], r["kind"], r["at"], escape(r["note"]))
    console.print(t)
