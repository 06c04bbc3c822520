"""`remit demo`: Remit's main job on embedded defaults, end to end, over real HTTP and
real AWS API traffic (a moto server the demo starts itself).

In a scratch folder: generate a CISO key and a log key, sign the example envelope off,
create API keys for a demo agent, a demo approver and a demo admin (printed once), start
a moto server and `remit serve` on SQLite, and let the scripted agent work: it acts on
two stale roles through the SDK with per-step credentials (one autonomous-with-notice,
one approved by the demo approver while it waits), and asks about the rest. Then an
acquisition is recorded, autonomy is withdrawn until the CISO signs off again, the first
change is rolled back from the ledger as a human-initiated governed decision, a checkpoint
is signed, one inclusion proof is checked, and the whole ledger is verified offline.
"""

from __future__ import annotations

import base64
import shutil
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

import remit
from remit.aws import MotoServer
from remit.cloudtrail import moto_trail
from remit.demo import assurance, trail
from remit.demo.cloud import DemoCloud, demo_envelope
from remit.demo.cloud import build as build_cloud
from remit.demo.scenario import ACCOUNT, AFTER_ACQUISITION, AFTER_RESIGN, Step, steps
from remit.demo.service import running_service
from remit.domain.clock import utcnow
from remit.envelope import load_envelope
from remit.envelope.signoff import append_signoff, create_signoff, signoffs_path
from remit.identity.model import Role
from remit.identity.store import KeyStore
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.verify import verify_store
from remit.signing.keys import SigningKey, generate_signing_key, write_key_pair
from remit.tlog import merkle

TIER_STYLE = {"autonomous": "green", "notify": "cyan", "approve": "yellow", "deny": "red"}
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "envelope.yaml"


def show(console: Console, n: int, step: Step, d: dict[str, Any], extra: str = "") -> bool:
    """Print one decision as a table of its reasons; True if it came out as expected."""
    tier = d["tier"]
    ok: bool = tier == step.expect
    title = f"[bold]{n}. {step.title}[/]  →  [{TIER_STYLE[tier]} bold]{tier.upper()}[/]"
    if not ok:
        title += f"  [red](expected {step.expect})[/]"
    t = Table(expand=True, title=title, title_justify="left", header_style="bold")
    t.add_column("code", style="bold", no_wrap=True)
    t.add_column("why")
    for r in d["reasons"]:
        t.add_row(r["code"], r["message"])
    arns = ", ".join(r["arn"] for r in step.request["resources"])
    t.caption = (
        f"{d['action']} on {arns} · rules: {', '.join(d['rules']) or '—'} · "
        f"decision {d['id']} · ledger #{d.get('ledger_index')}{extra}"
    )
    console.print(t)
    return ok


def _sign(path: Path, key: SigningKey, at: datetime) -> None:
    loaded = load_envelope(path)
    append_signoff(signoffs_path(path), create_signoff(loaded, key, "ciso@example.com", "CISO", at))


def _keys(db: Path, now: datetime) -> dict[str, str]:
    store = SqliteStore(db)
    ks = KeyStore(store)
    out = {}
    for name, role, agent in (
        ("demo-agent", Role.AGENT, "remediator"),
        ("demo-approver", Role.APPROVER, None),
        ("demo-admin", Role.ADMIN, None),
        ("demo-reviewer", Role.REVIEWER, None),
    ):
        out[name] = ks.create(name, role, agent, now, "demo-setup")[1]
    store.close()
    return out


def main(workdir: Path = Path(".remit/demo")) -> int:
    console = Console()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    now = utcnow()
    ciso = generate_signing_key("ciso.example.com")
    log_key = generate_signing_key("remit.local/demo-ledger")
    write_key_pair(workdir / "ciso", ciso)
    write_key_pair(workdir / "log", log_key)
    db = workdir / "remit.db"
    keys = _keys(db, now)
    moto_env = {"MOTO_ACCOUNT_ID": ACCOUNT, **trail.recording_env(workdir)}
    with MotoServer(env=moto_env, log_path=workdir / "moto.log") as moto:
        cloud = build_cloud(moto)
        moto_trail.start(moto.endpoint_url)  # the local stand-in for CloudTrail
        envelope = workdir / "envelope.yaml"
        envelope.write_text(
            assurance.with_drift(demo_envelope(EXAMPLE.read_text(), cloud.execution_role))
        )
        _sign(envelope, ciso, now - timedelta(days=3))
        meta = load_envelope(envelope).envelope.metadata
        console.print(
            Panel.fit(
                f"Envelope [bold]{meta.name}[/] v{meta.version} (examples/envelope.yaml + the "
                "remediator's execution role + a rollback rule), signed off by ciso@example.com\n"
                f"Trusted key: {ciso.verifier().to_vkey()}\n"
                f"Ledger: {db} (SQLite) · AWS: moto server at {moto.endpoint_url} "
                f"(account {ACCOUNT})\n"
                "API keys (shown once):\n"
                + "\n".join(f"  {name:14} {text}" for name, text in keys.items()),
                title="Remit demo: starting `remit serve` on embedded defaults",
            )
        )
        args = [
            "--envelope",
            str(envelope),
            "--trusted-keys",
            str(workdir / "ciso.pub"),
            "--db",
            str(db),
            "--log-key",
            str(workdir / "log.key"),
            "--aws-backend",
            "sts",
            "--aws-endpoint-url",
            moto.endpoint_url,
        ]
        with running_service(args, workdir / "serve.log", env=cloud.remit_env) as url:
            console.print(f"Service ready at {url} (API reference at {url}/docs)")
            console.print(
                f"Dashboard: [bold]{url}/ui/[/] — sign in with the demo-approver key "
                f"{keys['demo-approver']}\n",
                highlight=False,
                soft_wrap=True,
            )
            differed, cp = _run_agent(console, url, keys, envelope, ciso, cloud, now)
        trail.call_outside_remit(cloud)
        if not trail.reconcile_demo(console, cloud, workdir, envelope):
            differed.append("CloudTrail reconciliation: the one call outside Remit was not "
                            "the only finding")  # fmt: skip
    store = SqliteStore(db)
    report = verify_store(store, log_key.verifier())
    store.close()
    console.print(
        Panel.fit(
            f"[bold]Signed checkpoint[/]\n{cp['note']}\n"
            + (
                f"[green]Ledger verified offline[/]: {report.size} entries, "
                f"root {report.root.hex()[:16]}…"
                if report.ok
                else "[red]Ledger verification FAILED[/]: " + "; ".join(report.problems)
            )
            + "\n\nCheck it yourself: remit ledger verify "
            + f"--db {db} --public-key {workdir / 'log.pub'}",
            title="Tamper-evident ledger",
        )
    )
    from remit.demo.governance import governance_outputs

    packed = governance_outputs(console, workdir, envelope, ciso.verifier(), log_key, now)
    if differed:
        console.print("[red]Some steps differed from what the demo expects:[/]")
        for what in differed:
            console.print(f"  [red]-[/] {what}", highlight=False, soft_wrap=True)
    return 0 if (report.ok and not differed and packed) else 1


def _run_agent(
    console: Console,
    url: str,
    keys: dict[str, str],
    envelope: Path,
    ciso: SigningKey,
    cloud: DemoCloud,
    started: datetime,
) -> tuple[list[str], dict[str, Any]]:
    """The scripted agent, its human approver and admin, over HTTP and the SDK; what came
    out other than expected, and the last signed checkpoint."""

    def http(name: str) -> httpx.Client:
        return httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {keys[name]}"}, timeout=30
        )

    human, admin = http("demo-approver"), http("demo-admin")
    prov = {"model": {"name": "claude-sonnet", "version": "2026-10-01"}}
    agent = remit.Client(url, keys["demo-agent"], agent="remediator", provenance=prov)
    operator = remit.Client(url, keys["demo-admin"], agent="remediator")
    differed: list[str] = []
    n = 0

    def approve_when_pending(verb: str, comment: str, action: str) -> None:
        """The demo approver: waits for the held request and resolves it."""
        for _ in range(100):
            pending = human.get("/v1/approvals", params={"state": "pending"}).json()
            mine = [p for p in pending if p["decision"]["action"] == action]
            if mine:
                item = mine[0]
                human.post(
                    f"/v1/approvals/{item['approval']['decision_id']}/{verb}",
                    json={
                        "comment": comment,
                        "request_digest": item["approval"]["request_digest"],
                    },
                ).raise_for_status()
                return
            time.sleep(0.1)

    def act(step: Step, approve: str | None = None) -> dict[str, Any]:
        """Decide, act with scoped credentials in moto, report, revoke (the SDK's step)."""
        nonlocal n
        n += 1
        req = step.request
        helper = None
        if approve:
            helper = threading.Thread(
                target=approve_when_pending, args=("approve", approve, req["action"])
            )
            helper.start()
        with agent.step(
            req["action"],
            req["resources"],
            reasoning=req["reasoning"],
            provenance=req["provenance"],
            parameters=req["parameters"],
            approval_timeout=30,
        ) as aws:
            aws.client("iam").detach_role_policy(**req["parameters"])
        if helper:
            helper.join()
        d: dict[str, Any] = agent.get(aws.decision["id"])
        role = req["parameters"]["RoleName"]
        left = cloud.attached(role)
        extra = (
            ("\n[bold]approved by demo-approver[/] while the agent waited" if approve else "")
            + f"\n[bold]credential[/]: {aws.grant['effective_summary']} "
            f"(session {aws.grant['session_name']}, SourceIdentity = decision id, "
            f"expires {aws.grant['expiration'][11:19]} UTC; "
            f"rollback: {aws.grant['rollback']['status']})"
            f"\n[bold]AWS[/]: DetachRolePolicy done (request {', '.join(aws.request_ids)}); "
            f"{role} now has {len(left)} managed polic{'y' if len(left) == 1 else 'ies'}; "
            "outcome reported, session revoked"
        )
        if not show(console, n, step, d, extra):
            differed.append(f"step {n} ({step.title}): {d['tier']}, expected {step.expect}")
        return d

    def ask(step: Step, reject: bool = False) -> dict[str, Any]:
        """Decide only (the agent does not act on these), over plain HTTP."""
        nonlocal n
        n += 1
        r = http("demo-agent").post("/v1/decisions", json=step.request)
        r.raise_for_status()
        d: dict[str, Any] = r.json()
        extra = ""
        if d["tier"] == "approve" and reject:
            approve_when_pending("reject", "Checked with the payments owner: keep it.", d["action"])
            final = http("demo-agent").get(f"/v1/decisions/{d['id']}", params={"wait": 10}).json()
            extra = (
                "\n[bold]rejected by demo-approver[/] → the agent may now: "
                f"[red bold]{final['status']}[/]"
            )
        if not show(console, n, step, d, extra):
            differed.append(f"step {n} ({step.title}): {d['tier']}, expected {step.expect}")
        return d

    plan = steps()
    first_change: dict[str, Any] = {}
    for i, step in enumerate(plan):
        if i == 1:
            first_change = act(step)
        elif i == 2:
            act(step, approve="Confidence is low but the role is clearly unused; go ahead.")
        else:
            ask(step, reject=(i == 3))
    ev = admin.post(
        "/v1/events",
        json={
            "kind": "acquisition",
            "note": "Acquired Example Co; their legacy IAM roles join our accounts.",
        },
    )
    ev.raise_for_status()
    console.print(
        "\n[bold]Organisational event recorded:[/] acquisition "
        f"(ledger #{ev.json()['ledger_index']})"
    )
    ask(AFTER_ACQUISITION)
    _sign(envelope, ciso, utcnow())
    for _ in range(100):  # the service notices a new sign-off within a quarter second
        if not human.get("/v1/envelope/status").json()["pending_revalidation"]:
            break
        time.sleep(0.1)
    console.print("\n[bold]The CISO re-validated the envelope and signed it off again.[/]")
    ask(AFTER_RESIGN)

    # legacy-batch's batch job broke: its owner undoes the autonomous change from the ledger.
    did = first_change["id"]
    plan_info = operator.rollback_plan(did)
    call = plan_info["rollback"]["plan"]["calls"][0]
    console.print(
        f"\n[bold]legacy-batch's owner rolls back {did}[/]: plan recorded before it ran = "
        f"{call['action']} {call['params']}"
    )
    helper = threading.Thread(
        target=approve_when_pending,
        args=("approve", "Rollback requested by the role's owner.", call["action"]),
    )
    helper.start()
    with operator.step(
        call["action"],
        [call["resource"]],
        origin="human",
        on_behalf_of="owner@acquired-co.example",
        parameters=call["params"],
        provenance={"parent_decision": did},
        approval_timeout=30,
        reasoning={"summary": "The nightly batch job fails since the policy was detached."},
    ) as aws:
        getattr(aws.client(call["service"]), call["operation"])(**call["params"])
    helper.join()
    back = cloud.attached("legacy-batch")
    console.print(
        f"Rollback decision {aws.decision['id']} (human-initiated, approved): legacy-batch has "
        f"{'its policy back' if back else 'NO policy'}: {back}"
    )
    if not back:
        differed.append("rollback: legacy-batch did not get its policy back")
    differed += assurance.run(console, http, envelope, started)

    cp = http("demo-agent").get("/v1/ledger/checkpoint").json()
    proof = http("demo-agent").get("/v1/ledger/proof/1", params={"size": cp["size"]}).json()
    merkle.verify_inclusion(
        merkle.leaf_hash(base64.b64decode(proof["leaf"])),
        1,
        cp["size"],
        [bytes.fromhex(h) for h in proof["inclusion_proof"]],
        bytes.fromhex(cp["root_hash"]),
    )
    console.print(
        "\nInclusion proof of ledger entry #1 in the signed tree of size "
        f"{cp['size']}: [green]valid[/]"
    )
    return differed, cp
