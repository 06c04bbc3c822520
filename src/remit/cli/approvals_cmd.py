"""`remit approvals list|show|approve|reject`: the approval queue of a running service,
for people holding an approver (or auditor) key. It talks to the service over HTTP —
the service records every resolution with the key's identity — and approves only the
request it showed you (its digest goes with the approval; a changed request is refused).

Exit status: 2 for a bad key, an unknown decision or bad input; 1 when the service
refuses the resolution (already resolved, expired, changed); 3 when it cannot be reached.
"""

from __future__ import annotations

from typing import Any, NoReturn
from urllib.parse import urlsplit

import httpx
import typer
from rich.markup import escape
from rich.table import Table

from remit.cli.common import (
    BAD_INPUT,
    CHECK_FAILED,
    UNREACHABLE,
    FormatOption,
    OutputFormat,
    console,
    fail,
    print_json,
)

app = typer.Typer(
    help="The approval queue of a running service (approver keys).", no_args_is_help=True
)

STATES = ("pending", "approved", "rejected", "expired", "withdrawn")

UrlOption = typer.Option(
    "http://127.0.0.1:8700", "--url", envvar="REMIT_URL", help="The Remit service (REMIT_URL)."
)
KeyOption = typer.Option(
    ..., "--api-key", envvar="REMIT_API_KEY", help="An approver or auditor key (REMIT_API_KEY)."
)


def _refused(r: httpx.Response) -> NoReturn:
    try:
        detail: Any = r.json().get("detail", r.text)
    except ValueError:
        detail = r.text
    code = CHECK_FAILED if r.status_code == 409 else BAD_INPUT
    if r.status_code >= 500:
        code = UNREACHABLE
    fail(f"the service refused ({r.status_code}): {detail}", code)


def _check_url(url: str) -> None:
    try:
        parsed = urlsplit(url)
        parsed.port  # noqa: B018  (raises for a bad port)
    except ValueError as exc:
        fail(f"--url {url}: not a URL: {exc}")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        fail(f"--url {url}: expected http(s)://host[:port], e.g. http://127.0.0.1:8700")


def _call(method: str, url: str, key: str, path: str, **kw: Any) -> Any:
    _check_url(url)
    try:
        r = httpx.request(
            method, url.rstrip("/") + path, headers={"Authorization": f"Bearer {key}"},
            timeout=30, **kw,
        )  # fmt: skip
    except httpx.InvalidURL as exc:
        fail(f"--url {url}: {exc}")
    except httpx.TransportError as exc:
        fail(f"cannot reach the service at {url}: {exc}", UNREACHABLE)
    if r.status_code >= 300:
        _refused(r)
    return r.json()


def _pending(url: str, key: str, state: str | None, limit: int) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"limit": limit}
    if state is not None:
        params["state"] = state
    got: list[dict[str, Any]] = _call("GET", url, key, "/v1/approvals", params=params)
    return got


def _row(item: dict[str, Any]) -> dict[str, Any]:
    a, d = item["approval"], item["decision"]
    return {
        "decision_id": a["decision_id"],
        "state": a["state"],
        "agent": d.get("agent"),
        "action": d.get("action"),
        "requested_by": a["requested_by"],
        "expires_at": a["expires_at"],
        "reason": (d.get("reasons") or [{}])[0].get("message"),
    }


@app.command("list")
def list_approvals(
    state: str = typer.Option("pending", "--state", help=", ".join(STATES) + "."),
    limit: int = typer.Option(100, "--limit", min=1, max=500),
    url: str = UrlOption,
    api_key: str = KeyOption,
    format_: OutputFormat = FormatOption,
) -> None:
    """Held decisions in a state (default pending), newest first."""
    if state not in STATES:
        fail(f"--state: {state!r} is not one of {', '.join(STATES)}")
    items = _pending(url, api_key, state, limit)
    if format_ is OutputFormat.JSON:
        print_json([_row(i) for i in items])
        return
    t = Table(title=f"Approvals: {state} ({len(items)})")
    for col in ("decision", "agent", "action", "requested by", "expires", "why held"):
        t.add_column(col, overflow="fold")
    for i in items:
        r = _row(i)
        t.add_row(
            r["decision_id"], escape(str(r["agent"])), escape(str(r["action"])),
            escape(r["requested_by"]), r["expires_at"], escape(str(r["reason"] or "")),
        )  # fmt: skip
    console.print(t)


def _find(url: str, key: str, decision_id: str) -> dict[str, Any]:
    for state in STATES:
        for item in _pending(url, key, state, 500):
            if item["approval"]["decision_id"] == decision_id:
                return item
    fail(f"no held decision {decision_id} on the service at {url}")


@app.command("show")
def show(
    decision_id: str = typer.Argument(..., help="The held decision's id."),
    url: str = UrlOption,
    api_key: str = KeyOption,
    format_: OutputFormat = FormatOption,
) -> None:
    """One held decision: what is asked, why it was held, what credentials it would get."""
    item = _find(url, api_key, decision_id)
    if format_ is OutputFormat.JSON:
        print_json(item)
        return
    _render(item)


def _render(item: dict[str, Any]) -> None:
    a, d, req = item["approval"], item["decision"], item["request"]
    console.print(
        f"[bold]{a['decision_id']}[/] — {a['state'].upper()}, expires {a['expires_at']}",
        highlight=False,
    )
    console.print(f"{escape(str(d.get('agent')))} asks {escape(str(d.get('action')))} on:")
    for res in req.get("resources") or []:
        arn = res.get("arn") if isinstance(res, dict) else res
        console.print(f"  {escape(str(arn))}", highlight=False)
    console.print("Why it is held:")
    for r in d.get("reasons") or []:
        console.print(f"  {r['code']}: {escape(r['message'])}", highlight=False)
    reasoning = req.get("reasoning") or {}
    console.print(f"Agent's summary: {escape(str(reasoning.get('summary') or '—'))}")
    preview = item.get("credential_preview")
    if preview:
        console.print(f"If approved, the credential can do: {escape(str(preview))}")
    console.print(f"Request digest: {a['request_digest']}", highlight=False)


def _resolve(verb: str, decision_id: str, url: str, key: str, comment: str) -> dict[str, Any]:
    item = _find(url, key, decision_id)
    if item["approval"]["state"] != "pending":
        fail(f"{decision_id} is already {item['approval']['state']}", CHECK_FAILED)
    body = {"comment": comment, "request_digest": item["approval"]["request_digest"]}
    done: dict[str, Any] = _call("POST", url, key, f"/v1/approvals/{decision_id}/{verb}", json=body)
    return done


@app.command("approve")
def approve(
    decision_id: str = typer.Argument(..., help="The held decision's id."),
    comment: str = typer.Option("", "--comment", help="Why (recorded with your identity)."),
    url: str = UrlOption,
    api_key: str = KeyOption,
    format_: OutputFormat = FormatOption,
) -> None:
    """Approve a pending decision (exactly the request `show` displays)."""
    done = _resolve("approve", decision_id, url, api_key, comment)
    _done(done, format_)


@app.command("reject")
def reject(
    decision_id: str = typer.Argument(..., help="The held decision's id."),
    comment: str = typer.Option("", "--comment", help="Why (recorded with your identity)."),
    url: str = UrlOption,
    api_key: str = KeyOption,
    format_: OutputFormat = FormatOption,
) -> None:
    """Reject a pending decision."""
    done = _resolve("reject", decision_id, url, api_key, comment)
    _done(done, format_)


def _done(done: dict[str, Any], format_: OutputFormat) -> None:
    if format_ is OutputFormat.JSON:
        print_json(done)
        return
    a = done["approval"]
    console.print(
        f"{a['decision_id']}: {a['state']} by {a['resolved_by']} at {a['resolved_at']}",
        highlight=False,
        markup=False,
    )
