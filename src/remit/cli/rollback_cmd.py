"""`remit rollback DECISION_ID`: show the inverse plan recorded before a change ran and,
when confirmed, execute it as a new, human-initiated, governed decision — through the
service, so the undo is decided, granted, recorded and revoked like any other action."""

from __future__ import annotations

import os
from typing import Any

import typer
from rich.table import Table

from remit.cli.common import console, fail


def rollback(
    decision_id: str = typer.Argument(..., help="The decision whose change to undo."),
    url: str = typer.Option(
        "http://127.0.0.1:8700", "--url", envvar="REMIT_URL", help="Remit service URL."
    ),
    api_key: str = typer.Option(
        ..., "--api-key", envvar="REMIT_API_KEY", help="An admin key (the human operator)."
    ),
    operator: str = typer.Option(
        os.environ.get("USER", "operator"),
        "--operator",
        help="Who is undoing it (recorded as on_behalf_of).",
    ),
    why: str = typer.Option("", "--why", help="Why it is being undone (recorded)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    approval_timeout: float = typer.Option(
        300, "--approval-timeout", help="Seconds to wait if held."
    ),
) -> None:
    """Undo a change from the ledger, as a governed decision."""
    from remit.sdk import Client, RemitError

    client = Client(url, api_key, approval_timeout=approval_timeout)
    try:
        info = client.rollback_plan(decision_id)
    except RemitError as exc:
        fail(str(exc), 1)
    rb: dict[str, Any] = info["rollback"]
    if rb.get("status") != "available" or "plan" not in rb:
        fail(
            f"rollback: {rb.get('status', 'unavailable')} for {info['action']} "
            f"({rb.get('why', 'no plan recorded')})",
            1,
        )
    plan = rb["plan"]
    t = Table(title=f"Rollback of {decision_id}: {info['action']} by {info['agent']}")
    for col in ("#", "call", "resource", "parameters"):
        t.add_column(col, overflow="fold")
    for i, call in enumerate(plan["calls"], 1):
        t.add_row(str(i), call["action"], call["resource"], str(call["params"]))
    console.print(t)
    if plan.get("note"):
        console.print(f"note: {plan['note']}", highlight=False)
    if not plan["calls"]:
        console.print("Nothing to undo.")
        return
    if not yes and not typer.confirm("Execute this plan as a new governed decision?"):
        raise typer.Exit(1)
    for call in plan["calls"]:
        reasoning = {
            "summary": f"Rollback of {decision_id} ({info['action']}) requested by "
            f"{operator}. {why}".strip(),
            "signals": [{"name": "rollback_of", "value": decision_id, "source": "remit-ledger"}],
            "confidence": 1.0,
            "alternatives": [
                {
                    "action": "leave the change in place",
                    "rejected_because": why or "the change broke something",
                }
            ],
        }
        try:
            with client.step(
                call["action"],
                [call["resource"]],
                agent=info["agent"],
                origin="human",
                on_behalf_of=operator,
                reasoning=reasoning,
                parameters=call["params"],
                provenance={"parent_decision": decision_id},
            ) as aws:
                getattr(aws.client(call["service"]), call["operation"])(**call["params"])
                console.print(
                    f"[green]done[/]: {call['action']} on {call['resource']} "
                    f"(decision {aws.decision['id']})",
                    highlight=False,
                )
        except RemitError as exc:
            fail(f"{call['action']} on {call['resource']}: {exc}", 1)
