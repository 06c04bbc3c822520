"""`remit demo`: Remit's main job on embedded defaults, end to end, over real HTTP.

In a scratch folder: generate a CISO key and a log key, sign the example envelope off,
create API keys for a demo agent, a demo approver and a demo admin (printed once), start
`remit serve` on SQLite, and let the scripted agent send its requests over HTTP. Held
decisions are approved or rejected by the demo approver while the agent long-polls.
Then an acquisition is recorded, autonomy is withdrawn until the CISO signs off again,
a checkpoint is signed, one decision's inclusion proof is checked, and the whole ledger
is verified offline.
"""

from __future__ import annotations

import base64
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from remit.demo.scenario import AFTER_ACQUISITION, AFTER_RESIGN, Step, steps
from remit.demo.service import running_service
from remit.envelope import load_envelope
from remit.envelope.signoff import append_signoff, create_signoff, signoffs_path
from remit.identity.model import Role
from remit.identity.store import KeyStore
from remit.ledger import merkle
from remit.ledger.records import make_entry
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.verify import CheckpointIn, verify_log
from remit.signing.keys import SigningKey, generate_signing_key, write_key_pair

TIER_STYLE = {"autonomous": "green", "notify": "cyan", "approve": "yellow", "deny": "red"}
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "envelope.yaml"


def show(console: Console, n: int, step: Step, d: dict[str, Any], extra: str = "") -> bool:
    """Print one decision as a table of its reasons; True if it came out as expected."""
    tier = d["tier"]
    ok = tier == step.expect
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
    ):
        record, text = ks.create(name, role, agent, now)
        store.append(
            [
                make_entry(
                    "identity",
                    now,
                    "demo-setup",
                    {
                        "action": "key_created",
                        "key_id": record.id,
                        "name": name,
                        "role": role.value,
                        "agent": agent,
                    },
                )
            ]
        )
        out[name] = text
    store.close()
    return out


def main(workdir: Path = Path(".remit/demo")) -> int:
    console = Console()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    envelope = workdir / "envelope.yaml"
    shutil.copy(EXAMPLE, envelope)
    now = datetime.now(UTC)
    ciso = generate_signing_key("ciso.example.com")
    log_key = generate_signing_key("remit.local/demo-ledger")
    write_key_pair(workdir / "ciso", ciso)
    write_key_pair(workdir / "log", log_key)
    _sign(envelope, ciso, now - timedelta(days=3))
    db = workdir / "remit.db"
    keys = _keys(db, now)
    meta = load_envelope(envelope).envelope.metadata
    console.print(
        Panel.fit(
            f"Envelope [bold]{meta.name}[/] v{meta.version}, signed off by ciso@example.com (CISO)\n"
            f"Trusted key: {ciso.verifier().to_vkey()}\n"
            f"Ledger: {db} (SQLite)\n"
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
    ]
    all_ok = True
    with running_service(args, workdir / "serve.log") as url:
        console.print(f"Service ready at {url} (OpenAPI at {url}/docs)\n")
        agent = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {keys['demo-agent']}"}, timeout=30
        )
        human = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {keys['demo-approver']}"}, timeout=30
        )
        admin = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {keys['demo-admin']}"}, timeout=30
        )
        n = 0

        def ask(step: Step, resolve: str | None = None) -> dict[str, Any]:
            nonlocal n, all_ok
            n += 1
            r = agent.post("/v1/decisions", json=step.request)
            r.raise_for_status()
            d = r.json()
            extra = ""
            if d["tier"] == "approve" and resolve:
                pending = human.get("/v1/approvals", params={"state": "pending"}).json()
                item = next(p for p in pending if p["approval"]["decision_id"] == d["id"])
                verb = "approve" if resolve == "approve" else "reject"
                human.post(
                    f"/v1/approvals/{d['id']}/{verb}",
                    json={
                        "comment": "Checked with the payments owner."
                        if verb == "reject"
                        else "Confidence is low but the role is clearly unused; go ahead.",
                        "request_digest": item["approval"]["request_digest"],
                    },
                ).raise_for_status()
                final = agent.get(f"/v1/decisions/{d['id']}", params={"wait": 10}).json()
                done = "approved" if verb == "approve" else "rejected"
                extra = (
                    f"\n[bold]{done} by demo-approver[/] → the agent may now: "
                    f"[{'green' if final['status'] == 'allowed' else 'red'} bold]{final['status']}[/]"
                )
            all_ok &= show(console, n, step, d, extra)
            return d

        plan = steps()
        for i, step in enumerate(plan):
            ask(step, {2: "approve", 3: "reject"}.get(i))
        ev = admin.post(
            "/v1/events",
            json={
                "kind": "acquisition",
                "note": "Acquired Example Co; their legacy IAM roles join our accounts.",
            },
        )
        ev.raise_for_status()
        console.print(
            f"\n[bold]Organisational event recorded:[/] acquisition (ledger #{ev.json()['ledger_index']})"
        )
        ask(AFTER_ACQUISITION)
        _sign(envelope, ciso, datetime.now(UTC))
        console.print("\n[bold]The CISO re-validated the envelope and signed it off again.[/]")
        ask(AFTER_RESIGN)
        cp = agent.get("/v1/ledger/checkpoint").json()
        proof = agent.get("/v1/ledger/proof/1", params={"size": cp["size"]}).json()
        merkle.verify_inclusion(
            merkle.leaf_hash(base64.b64decode(proof["leaf"])),
            1,
            cp["size"],
            [bytes.fromhex(h) for h in proof["inclusion_proof"]],
            bytes.fromhex(cp["root_hash"]),
        )
        console.print(
            f"\nInclusion proof of ledger entry #1 in the signed tree of size {cp['size']}: [green]valid[/]"
        )

    store = SqliteStore(db)
    report = verify_log(
        store.raw_rows(),
        [CheckpointIn(c.size, c.note) for c in store.checkpoints()],
        log_key.verifier(),
        store.stored_nodes(),
        store,
    )
    store.close()
    console.print(
        Panel.fit(
            f"[bold]Signed checkpoint[/]\n{cp['note']}\n"
            + (
                f"[green]Ledger verified offline[/]: {report.size} entries, root {report.root.hex()[:16]}…"
                if report.ok
                else "[red]Ledger verification FAILED[/]: " + "; ".join(report.problems)
            )
            + f"\n\nCheck it yourself: remit ledger verify --db {db} --public-key {workdir / 'log.pub'}",
            title="Tamper-evident ledger",
        )
    )
    if not all_ok:
        console.print("[red]Some decisions differed from what the demo expects.[/]")
    return 0 if (report.ok and all_ok) else 1
