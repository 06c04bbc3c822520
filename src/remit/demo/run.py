"""`remit demo`: Remit's main job on embedded defaults, end to end, in a scratch folder.

Generates a CISO key and a log key, signs the example envelope off, runs the scripted
agent's requests through the gate (each recorded on an SQLite ledger before it is
answered), records an acquisition, shows autonomy withdrawn until the CISO signs off
again, then signs a checkpoint and verifies the whole ledger.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from remit.decide import Gate
from remit.demo.scenario import AFTER_ACQUISITION, AFTER_RESIGN, Step, steps
from remit.domain.decisions import Decision
from remit.domain.requests import ActionRequest
from remit.envelope import load_envelope
from remit.envelope.signoff import (
    append_signoff,
    check_signoffs,
    create_signoff,
    read_signoffs,
    signoffs_path,
)
from remit.ledger.log import Ledger
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.verify import CheckpointIn, verify_log
from remit.recorder import DecisionRecorder
from remit.signing.keys import generate_signing_key, write_key_pair

TIER_STYLE = {"autonomous": "green", "notify": "cyan", "approve": "yellow", "deny": "red"}


EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "envelope.yaml"


def example_envelope_text() -> str:
    """The repository's examples/envelope.yaml (the demo runs from a checkout)."""
    return EXAMPLE.read_text(encoding="utf-8")


def show(console: Console, n: int, step: Step, d: Decision, arns: list[str]) -> bool:
    style = TIER_STYLE[d.tier.value]
    ok = d.tier.value == step.expect
    t = Table(
        show_header=True,
        header_style="bold",
        expand=True,
        title_justify="left",
        title=f"[bold]{n}. {step.title}[/]  →  [{style} bold]{d.tier.value.upper()}[/]"
        + ("" if ok else f"  [red](expected {step.expect})[/]"),
    )
    t.add_column("code", style="bold", no_wrap=True)
    t.add_column("why")
    for r in d.reasons:
        t.add_row(r.code.value, r.message)
    t.caption = (
        f"{d.action} on {', '.join(arns)} · rules: {', '.join(d.rules) or '—'} · "
        f"decision {d.id} · ledger #{d.extra.get('ledger_index')}"
    )
    console.print(t)
    return ok


def main(workdir: Path = Path(".remit/demo")) -> int:
    console = Console()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    envelope_path = workdir / "envelope.yaml"
    envelope_path.write_text(example_envelope_text(), encoding="utf-8")
    now = datetime.now(UTC)

    ciso = generate_signing_key("ciso.example.com")
    log_key = generate_signing_key("remit.local/demo-ledger")
    write_key_pair(workdir / "ciso", ciso)
    write_key_pair(workdir / "log", log_key)
    loaded = load_envelope(envelope_path)
    meta = loaded.envelope.metadata
    append_signoff(
        signoffs_path(envelope_path),
        create_signoff(loaded, ciso, "ciso@example.com", "CISO", now - timedelta(days=3)),
    )

    store = SqliteStore(workdir / "remit.db")
    ledger = Ledger(store, log_key)

    def gate_at(t: datetime) -> Gate:
        trust, checks = check_signoffs(
            loaded, read_signoffs(signoffs_path(envelope_path)), [ciso.verifier()], t
        )
        ledger.record_signoffs(checks, t, "demo-ciso")
        return Gate(loaded.envelope, loaded.digest, trust)

    console.print(
        Panel.fit(
            f"Envelope [bold]{meta.name}[/] v{meta.version} "
            f"({loaded.digest[:23]}…)\nsigned off by ciso@example.com (CISO) with key "
            f"{ciso.verifier().to_vkey()}\nLedger: {store.location}",
            title="Remit demo: a scripted AI remediator asks before it acts",
        )
    )

    all_ok = True
    recorder = DecisionRecorder(gate_at(now), ledger)
    n = 0

    def run(step: Step, rec: DecisionRecorder, t: datetime) -> None:
        nonlocal n, all_ok
        n += 1
        req = ActionRequest.model_validate(step.request)
        d = rec.decide(req, "demo-agent", t)
        all_ok &= show(console, n, step, d, [r.arn for r in req.resources])

    for i, step in enumerate(steps()):
        run(step, recorder, now + timedelta(seconds=i))

    t2 = now + timedelta(minutes=5)
    ledger.record_event(
        "acquisition",
        t2,
        "Acquired Example Co; their legacy IAM roles join our accounts.",
        "demo-ciso",
        t2,
    )
    console.print(
        f"\n[bold]Organisational event recorded:[/] acquisition at {t2:%Y-%m-%d %H:%M} UTC"
    )
    run(
        AFTER_ACQUISITION,
        DecisionRecorder(gate_at(t2 + timedelta(seconds=1)), ledger),
        t2 + timedelta(seconds=1),
    )

    t3 = t2 + timedelta(minutes=10)
    append_signoff(
        signoffs_path(envelope_path), create_signoff(loaded, ciso, "ciso@example.com", "CISO", t3)
    )
    console.print(
        f"\n[bold]The CISO re-validated the envelope[/] and signed it off again at {t3:%H:%M} UTC"
    )
    run(
        AFTER_RESIGN,
        DecisionRecorder(gate_at(t3 + timedelta(seconds=1)), ledger),
        t3 + timedelta(seconds=1),
    )

    cp = ledger.checkpoint(datetime.now(UTC))
    report = verify_log(
        store.raw_rows(),
        [CheckpointIn(c.size, c.note) for c in store.checkpoints()],
        log_key.verifier(),
        store.stored_nodes(),
        store,
    )
    console.print(
        Panel.fit(
            f"[bold]Signed checkpoint[/]\n{cp.note}\n"
            + (
                f"[green]Ledger verified[/]: {report.size} entries, root {report.root.hex()[:16]}…"
                if report.ok
                else "[red]Ledger verification FAILED[/]: " + "; ".join(report.problems)
            )
            + "\n\nTry: remit ledger verify "
            + f"--db {store.location} --public-key {workdir / 'log.pub'}",
            title="Tamper-evident ledger",
        )
    )
    store.close()
    if not all_ok:
        console.print("[red]Some decisions differed from what the demo expects.[/]")
    return 0 if (report.ok and all_ok) else 1
