"""`remit audit service-accounts`: for each AI service account, granted vs used vs
justified, the drift, the last sign-off, the stated scope justification, and a
least-privilege proposal as a policy diff (never applied).

Exit status: 0 no drift, 1 drift (used-but-unjustified or granted-but-unused actions),
2 bad input, 3 IAM or a store unreachable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.table import Table

from remit.cli.cloudtrail_cmd import TrailDbOption, trail_path
from remit.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    console,
    err_console,
    fail,
    parse_time,
    print_json,
)
from remit.cli.ledger_access import store_or_fail
from remit.cloudtrail.audit import audit
from remit.cloudtrail.store import TrailStore
from remit.domain.clock import ts_text
from remit.envelope.loader import EnvelopeError, load_envelope
from remit.envelope.signoff import check_signoffs, read_signoffs, signoffs_path
from remit.errors import Unavailable
from remit.signing.keys import KeyFormatError, load_verifier_key

app = typer.Typer(help="Audits of AI principals.", no_args_is_help=True)


@app.command("service-accounts")
def service_accounts(
    envelope: Path = typer.Option(..., "--envelope", help="Envelope YAML (its agents)."),
    trusted_keys: list[str] = typer.Option(
        [], "--trusted-keys", help="Keys whose sign-offs count (for the last sign-off)."
    ),
    unused_days: int = typer.Option(90, "--unused-days", min=1, help="Unused for N days."),
    now: str | None = typer.Option(None, "--now", help="Audit time (default now)."),
    since: str | None = typer.Option(
        None, "--since", help="Report services and actions first used from this time on."
    ),
    format_: OutputFormat = FormatOption,
    endpoint_url: str | None = typer.Option(
        None, "--endpoint-url", help="IAM endpoint (e.g. the local moto). Also AWS_ENDPOINT_URL."
    ),
    trail_db: str | None = TrailDbOption,
    db: str | None = DbOption,
    submit: str | None = typer.Option(
        None, "--submit", help="Remit URL: submit each proposal as a governed decision."
    ),
    api_key: str | None = typer.Option(
        None, "--api-key", help="Key for --submit. Also REMIT_API_KEY.", envvar="REMIT_API_KEY"
    ),
    on_behalf_of: str | None = typer.Option(
        None, "--on-behalf-of", help="The person the proposal is submitted for (--submit)."
    ),
) -> None:
    """Granted, used and justified actions of each AI service account, and a proposal."""
    if submit and not (api_key and on_behalf_of):
        fail("--submit needs --api-key (or REMIT_API_KEY) and --on-behalf-of")
    import boto3

    if format_ not in ("table", "json"):
        fail(f"--format must be table or json, not {format_!r}")
    at = parse_time(now)
    start = parse_time(since, "--since") if since else None
    try:
        loaded = load_envelope(envelope)
    except EnvelopeError as exc:
        fail(f"--envelope {envelope}: {exc}")
    try:
        keys = [load_verifier_key(k) for k in trusted_keys]
    except (KeyFormatError, OSError) as exc:
        fail(f"--trusted-keys: {exc}")
    signed = None
    if keys:
        trust, _ = check_signoffs(loaded, read_signoffs(signoffs_path(envelope)), keys, at)
        signed = trust.last_review if trust.valid else None
    ledger = store_or_fail(db, create=False)
    path = trail_path(trail_db, db)
    url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1")
    try:
        store = TrailStore(path, read_only=True) if path.exists() else None
        try:
            result = audit(
                loaded.envelope, iam, ledger.reads, store, at, unused_days, signed, since=start
            )
        finally:
            if store is not None:
                store.close()
    except ClientError as exc:
        fail(f"IAM: {exc}", 3)
    except (BotoCoreError, Unavailable) as exc:
        fail(str(exc), 3)
    if store is None:
        err_console.print(f"note: no trail store at {path}: CloudTrail use not included")
    data: dict[str, Any] = {
        "at": ts_text(at),
        "envelope": loaded.digest,
        "service_accounts": [a.to_json() for a in result],
    }
    if submit:
        data["submitted"] = _submit(submit, str(api_key), str(on_behalf_of), result)
    if format_ == "json":
        print_json(data)
    else:
        _table(data)
    if any(a.used_unjustified or a.granted_unused for a in result):
        raise typer.Exit(1)


def _table(data: dict[str, Any]) -> None:
    for a in data["service_accounts"]:
        t = Table(title=f"{a['agent']}: {a['principal']}", title_justify="left")
        t.add_column("")
        t.add_column("actions")
        t.add_row("granted", f"{len(a['granted'])} via {', '.join(a['policies']) or '—'}")
        t.add_row("used", ", ".join(a["used"]) or "—")
        t.add_row("justified", ", ".join(a["justified"]) or "—")
        t.add_row("used, not justified", ", ".join(a["used_unjustified"]) or "—")
        t.add_row(
            f"granted, unused {a['unused_days']}d",
            f"{len(a['granted_unused'])}: " + ", ".join(a["granted_unused"][:20]),
        )
        t.add_row("last signed off", a["last_signed_off"] or "— (no verified sign-off)")
        t.add_row("scope justification", a["scope_justification"] or "—")
        if a["new_since"] is not None:
            t.add_row(
                f"new since {a['since']}",
                ", ".join(a["new_since"]["actions"]) or "—",
            )
        diff = a["proposal"]
        t.add_row(
            "proposed policy",
            f"{diff['policy_name']}: keep {', '.join(diff['keep']) or 'nothing'}; "
            f"remove {len(diff['remove'])}",
        )
        console.print(t)


def _submit(url: str, key: str, who: str, result: list[Any]) -> list[dict[str, Any]]:
    """Ask Remit to decide each proposal (never applied here): the decisions' answers."""
    import httpx

    from remit.cloudtrail.audit import proposal_request

    out = []
    for a in result:
        body = proposal_request(a, who)
        if body is None:
            continue
        try:
            r = httpx.post(f"{url.rstrip('/')}/v1/decisions", json=body, timeout=30,
                           headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        except httpx.HTTPError as exc:
            fail(f"--submit {url}: {exc}", 3)
        if r.status_code != 200:
            fail(f"--submit: Remit answered {r.status_code}: {r.text[:300]}", 3)
        d = r.json()
        out.append({"principal": a.principal, "decision_id": d.get("id"), "tier": d.get("tier")})
    return out
