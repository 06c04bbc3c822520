"""`python -m remit.demo.mcp`: the MCP governance proxy in front of the real
awslabs.iam-mcp-server, end to end, on a local cloud the demo starts itself.

In a scratch folder: a moto server (with the agent's execution role and three roles that
carry an inline policy), a signed envelope (the example one, with prod-* roles held for a
human and the break-glass role denied), API keys for an agent and an approver, `remit
serve` with the STS backend, and `remit mcp proxy -- python -m
awslabs.iam_mcp_server.server --allow-write --no-confirmation`. An MCP client (the `mcp`
SDK's) then lists roles (autonomous), deletes a prod role's inline policy (held; the demo
approver approves it through the API while the client waits) and tries the break-glass
role (denied, never forwarded). Last, the ledger's evidence for each call is printed — the
decision, the grant (SourceIdentity = the decision id), the outcome — and the ledger is
verified offline. Exit 0 when every step came out as expected, 1 otherwise, 3 when the
`mcp` or `demo` extra is missing.

This module only drives the demo; the proxy itself is `remit.mcp`."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import yaml
from rich.console import Console
from rich.table import Table

from remit.domain.clock import utcnow

ACCOUNT = "111122223333"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "envelope.yaml"
MARKER = ".remit-mcp-demo"
EXECUTION_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["iam:List*", "iam:Get*", "iam:DeleteRolePolicy"],
         "Resource": "*"},
    ],
}  # fmt: skip
INLINE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}
REASONING = {
    "summary": "Inline policy grants s3:* and the role has been unused for 42 days",
    "signals": [{"name": "unused_days", "value": 42, "source": "cloudtrail"}],
    "confidence": 0.9,
    "alternatives": [{"action": "alert-only", "rejected_because": "severity threshold exceeded"}],
}
MODEL = {"name": "claude-sonnet", "version": "2026-10-01"}
TIER_STYLE = {"autonomous": "green", "notify": "cyan", "approve": "yellow", "deny": "red"}


def envelope_for_mcp(example: str, execution_role: str) -> str:
    """The example envelope with the agent's execution role, a rule letting it list the
    account (IAM evaluates List* against "*"), prod-* role policy deletions held for a
    human, and the break-glass rule on changes only. Protected sets and regulations are
    left out: they also cover "*", which would hold every account-wide list."""
    data = yaml.safe_load(example)
    data["agents"]["remediator"]["execution_role"] = execution_role
    (r9,) = [r for r in data["rules"] if r["id"] == "R9-break-glass-role"]
    r9["actions"] = ["iam:Delete*", "iam:Put*", "iam:Attach*", "iam:Detach*", "iam:Update*"]
    data["rules"][:0] = [
        {"id": "R2-list-account", "agents": ["remediator"], "actions": ["iam:List*"],
         "resources": ["*"], "allow_wildcards": True, "tier": "autonomous"},
        {"id": "R3-prod-roles-need-a-human", "agents": ["remediator"],
         "actions": ["iam:DeleteRolePolicy"],
         "resources": [f"arn:aws:iam::{ACCOUNT}:role/prod-*"], "tier": "approve"},
    ]  # fmt: skip
    data["protected"] = []
    data["regulations"] = []
    return yaml.safe_dump(data, sort_keys=False)


def _approve_when_held(url: str, key: str, arn: str, seen: dict[str, Any]) -> None:
    """The demo approver: waits for the held call on `arn` and approves it."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for item in http.get("/v1/approvals", params={"state": "pending"}).json():
                if any(r["arn"] == arn for r in item["request"]["resources"]):
                    did = item["decision"]["id"]
                    http.post(
                        f"/v1/approvals/{did}/approve",
                        json={"comment": "prod-batch's owner agreed: the inline policy goes."},
                    ).raise_for_status()
                    seen["id"] = did
                    return
            time.sleep(0.1)


def main(workdir: Path) -> int:
    console = Console()
    missing = [m for m in ("mcp", "awslabs.iam_mcp_server", "moto") if not _importable(m)]
    if missing:
        console.print(
            f"[red]remit.demo.mcp needs {', '.join(missing)}[/]: "
            "pip install 'remit[server,mcp,demo]'"
        )
        return 3
    if workdir.exists() and any(workdir.iterdir()) and not (workdir / MARKER).exists():
        console.print(
            f"[red]--workdir {workdir}[/]: the demo deletes and recreates its folder, and this "
            "one holds files the demo did not make; choose a new or empty folder"
        )
        return 2
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / MARKER).write_text("made by python -m remit.demo.mcp\n")
    import anyio

    from remit.aws import MotoServer, bootstrap_agent_role
    from remit.demo.service import running_service
    from remit.envelope import load_envelope
    from remit.envelope.signoff import append_signoff, create_signoff, signoffs_path
    from remit.identity.model import Role
    from remit.identity.store import KeyStore
    from remit.ledger.sqlite_store import SqliteStore
    from remit.signing.keys import generate_signing_key, write_key_pair

    now = utcnow()
    ciso = generate_signing_key("ciso.example.com")
    log_key = generate_signing_key("remit.local/mcp-demo-ledger")
    write_key_pair(workdir / "ciso", ciso)
    write_key_pair(workdir / "log", log_key)
    db = workdir / "remit.db"
    store = SqliteStore(db)
    ks = KeyStore(store)
    keys = {
        "agent": ks.create("mcp-agent", Role.AGENT, "remediator", now, "mcp-demo")[1],
        "approver": ks.create("mcp-approver", Role.APPROVER, None, now, "mcp-demo")[1],
    }
    store.close()
    with MotoServer(env={"MOTO_ACCOUNT_ID": ACCOUNT}, log_path=workdir / "moto.log") as moto:
        iam = moto.client("iam")
        boot = bootstrap_agent_role(iam, account=ACCOUNT, role_policy=EXECUTION_POLICY)
        trust = json.dumps({"Version": "2012-10-17", "Statement": []})
        iam.create_role(RoleName="ci-runner", Path="/ci/", AssumeRolePolicyDocument=trust)
        for name in ("prod-batch", "OrganizationAccountAccessRole"):
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
            iam.put_role_policy(RoleName=name, PolicyName="s3-all",
                                PolicyDocument=json.dumps(INLINE))  # fmt: skip
        envelope = workdir / "envelope.yaml"
        envelope.write_text(envelope_for_mcp(EXAMPLE.read_text(), boot["role_arn"]))
        append_signoff(
            signoffs_path(envelope),
            create_signoff(load_envelope(envelope), ciso, "ciso@example.com", "CISO",
                           now - timedelta(days=1)),
        )  # fmt: skip
        remit_env = {
            "AWS_ACCESS_KEY_ID": boot["remit_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": boot["remit_secret_access_key"],
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        args = ["--envelope", str(envelope), "--trusted-keys", str(workdir / "ciso.pub"),
                "--db", str(db), "--log-key", str(workdir / "log.key"),
                "--aws-backend", "sts", "--aws-endpoint-url", moto.endpoint_url]  # fmt: skip
        with running_service(args, workdir / "serve.log", env=remit_env) as url:
            console.print(f"[bold]Remit[/] at {url} · [bold]moto[/] at {moto.endpoint_url} "
                          f"(account {ACCOUNT}) · folder {workdir}")  # fmt: skip
            results = anyio.run(_drive, console, url, keys, moto.endpoint_url, workdir)
        prod_left = iam.list_role_policies(RoleName="prod-batch")["PolicyNames"]
        glass_left = iam.list_role_policies(RoleName="OrganizationAccountAccessRole")["PolicyNames"]
    ok = _evidence(console, db, results, log_key)
    ok &= prod_left == [] and glass_left == ["s3-all"]
    console.print(
        f"moto afterwards: prod-batch inline policies {prod_left}, "
        f"OrganizationAccountAccessRole {glass_left}"
    )
    console.print("[green bold]MCP demo: every step as expected[/]" if ok
                  else "[red bold]MCP demo: some steps differed[/]")  # fmt: skip
    return 0 if ok else 1


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


async def _drive(
    console: Console, url: str, keys: dict[str, str], aws_endpoint: str, workdir: Path
) -> dict[str, Any]:
    """The MCP client's session through the proxy: three calls, their answers."""
    from mcp_types import RequestParamsMeta

    from mcp import ClientSession, StdioServerParameters, stdio_client

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REMIT_"))}
    env.update(REMIT_URL=url, REMIT_API_KEY=keys["agent"], REMIT_AGENT="remediator",
               AWS_ENDPOINT_URL=aws_endpoint, AWS_REGION="us-east-1")  # fmt: skip
    upstream = [sys.executable, "-m", "awslabs.iam_mcp_server.server", "--allow-write",
                "--no-confirmation"]  # fmt: skip
    cmd = [
        sys.executable,
        "-m",
        "remit.cli",
        "mcp",
        "proxy",
        "--account",
        ACCOUNT,
        "--hold",
        "60",
        "--provenance",
        json.dumps({"model": MODEL}),
        "--",
        *upstream,
    ]
    shown = " ".join(["python", *cmd[1:]]).replace(sys.executable, "python")
    console.print(f"[bold]MCP client[/] → {shown}", highlight=False, markup=False)
    params = StdioServerParameters(command=cmd[0], args=cmd[1:], env=env, cwd=str(workdir))

    def meta(step: str) -> RequestParamsMeta:
        workflow = {"name": "iam-hygiene", "run": "mcp-demo", "step": step}
        data = {"remit/reasoning": REASONING, "remit/provenance": {"workflow": workflow}}
        return cast("RequestParamsMeta", data)

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        console.print(f"  [yellow]⏳ {message}[/]", highlight=False)

    out: dict[str, Any] = {}
    approved: dict[str, Any] = {}
    with (workdir / "proxy-stderr.log").open("a") as err:
        async with stdio_client(params, errlog=err) as (r, w), ClientSession(r, w) as s:
            await s.initialize()
            tools = (await s.list_tools()).tools
            console.print(f"  the proxy serves the upstream's {len(tools)} tools")
            calls: list[tuple[str, str, dict[str, Any], str]] = [
                ("list roles under /ci/", "list_roles", {"path_prefix": "/ci/"}, "find-stale"),
                ("delete prod-batch's inline policy", "delete_role_policy",
                 {"role_name": "prod-batch", "policy_name": "s3-all"}, "revoke-stale"),
                ("delete the break-glass role's inline policy", "delete_role_policy",
                 {"role_name": "OrganizationAccountAccessRole", "policy_name": "s3-all"},
                 "revoke-stale"),
            ]  # fmt: skip
            approver = threading.Thread(
                target=_approve_when_held,
                args=(url, keys["approver"], f"arn:aws:iam::{ACCOUNT}:role/prod-batch", approved),
                daemon=True,
            )
            for title, tool, arguments, step in calls:
                if "prod-batch" in title:
                    approver.start()
                res = await s.call_tool(tool, arguments, progress_callback=progress,
                                        meta=meta(step))  # fmt: skip
                remit = (res.structured_content or {}).get("remit", {}) if res.is_error else {}
                did = (res.meta or {}).get("remit/decision_id") or remit.get("decision_id")
                tier = (res.meta or {}).get("remit/tier") or remit.get("tier", "?")
                style = TIER_STYLE.get(tier, "white")
                text = " ".join(" ".join(getattr(c, "text", "").split()) for c in res.content)
                verdict = "[red]refused[/]" if res.is_error else "[green]forwarded[/]"
                console.print(f"• {title}: [{style} bold]{tier}[/] → {verdict} (decision {did})")
                console.print(f"  {text[:240]}", highlight=False, markup=False)
                out[title] = {"decision_id": did, "tier": tier, "error": res.is_error}
    approver.join(5)
    out["approved"] = approved.get("id")
    return out


def _evidence(console: Console, db: Path, results: dict[str, Any], log_key: Any) -> bool:
    """Print the ledger's entries for each call; verify the whole ledger offline."""
    from remit.ledger.sqlite_store import SqliteStore
    from remit.ledger.verify import verify_store

    expected = {
        "list roles under /ci/": ("autonomous", False),
        "delete prod-batch's inline policy": ("approve", False),
        "delete the break-glass role's inline policy": ("deny", True),
    }
    ok = True
    store = SqliteStore(db)
    try:
        t = Table(title="Ledger evidence", expand=True)
        for col in ("call", "decision (tier, rules)", "reasoning / workflow", "grant", "outcome"):
            t.add_column(col)
        for title, (tier, error) in expected.items():
            got = results.get(title) or {}
            ok &= got.get("tier") == tier and got.get("error") == error
            did = got.get("decision_id")
            found = store.reads.decision(did) if isinstance(did, str) else None
            if found is None or not isinstance(did, str):
                ok = False
                t.add_row(title, "[red]not on the ledger[/]", "", "", "")
                continue
            d, req = found.record.decision, found.record.request
            grant = store.reads.grant(did)
            outcome = store.reads.outcome(did)
            ok &= (grant is None) == (tier == "deny")
            if grant is not None:
                ok &= grant.record.source_identity == did
            t.add_row(
                title,
                f"#{found.index} {did}\n{d['tier']} ({', '.join(d.get('rules', [])) or '—'})",
                f"{req['reasoning']['summary']}\nstep {req['provenance']['workflow']['step']}",
                f"#{grant.index} session {grant.record.session_name}\n"
                f"SourceIdentity {grant.record.source_identity}\n{grant.record.effective_summary}"
                if grant
                else "none (never forwarded)",
                f"#{outcome.index} {outcome.record.status}" if outcome else "—",
            )
        if results.get("approved") != results.get("delete prod-batch's inline policy", {}).get(
            "decision_id"
        ):
            ok = False
        console.print(t)
        report = verify_store(store, log_key.verifier())
    finally:
        store.close()
    console.print(
        f"[green]Ledger verified offline[/]: {report.size} entries"
        if report.ok
        else "[red]Ledger verification FAILED[/]: " + "; ".join(report.problems)
    )
    return ok and report.ok


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path(".remit/mcp-demo"))
    raise SystemExit(main(ap.parse_args().workdir))
