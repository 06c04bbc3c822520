"""The `remit` command: wires the command groups together."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import typer

from remit.cli import (
    approvals_cmd,
    audit_cmd,
    cloudtrail_cmd,
    custodian_cmd,
    decide_cmd,
    decisions_cmd,
    doctor_cmd,
    drift_cmd,
    envelope_authoring_cmd,
    envelope_cmd,
    evidence_cmd,
    init_cmd,
    inventory_cmd,
    keygen_cmd,
    ledger_cmd,
    ledger_log_cmd,
    mcp_cmd,
    reconcile_cmd,
    report_cmd,
    review_cmd,
    rollback_cmd,
    serve_cmd,
    whatif_cmd,
)

app = typer.Typer(
    name="remit",
    help="Remit: an accountability layer for autonomous AI actions in the cloud.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish)
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("remit")
        except PackageNotFoundError:  # running from a source tree that is not installed
            v = "unknown (not installed)"
        print(f"remit {v}")
        raise typer.Exit(0)


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Remit: an accountability layer for autonomous AI actions in the cloud."""


app.command("init")(init_cmd.init)
app.command("keygen")(keygen_cmd.keygen)
app.command("decide")(decide_cmd.decide)
app.command("inventory")(inventory_cmd.inventory)
app.add_typer(envelope_cmd.app, name="envelope")
envelope_cmd.app.command("whatif")(whatif_cmd.whatif)
app.add_typer(review_cmd.app, name="review")
app.add_typer(drift_cmd.app, name="drift")
envelope_cmd.app.command("test")(envelope_authoring_cmd.test)
envelope_cmd.app.command("diff")(envelope_authoring_cmd.diff)
app.add_typer(ledger_cmd.app, name="ledger")
app.command("serve")(serve_cmd.serve)
app.command("rollback")(rollback_cmd.rollback)
app.command("report")(report_cmd.report)
app.add_typer(evidence_cmd.app, name="evidence")
app.add_typer(serve_cmd.keys_app, name="keys")
app.add_typer(cloudtrail_cmd.app, name="cloudtrail")
app.command("reconcile")(reconcile_cmd.reconcile)
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(mcp_cmd.mcp_app, name="mcp")
app.add_typer(custodian_cmd.app, name="custodian")

event_app = typer.Typer(
    help="Organisational events (acquisitions, model updates, …).", no_args_is_help=True
)
event_app.command("add")(decide_cmd.event_add)
event_app.command("list")(decisions_cmd.list_events)
app.add_typer(event_app, name="event")
app.add_typer(event_app, name="events", hidden=True)  # `remit events list` reads as well
app.add_typer(decisions_cmd.app, name="decisions")
app.add_typer(approvals_cmd.app, name="approvals")
app.command("doctor")(doctor_cmd.doctor)
ledger_cmd.app.command("log")(ledger_log_cmd.log)


@app.command()
def demo(
    workdir: str = typer.Option(".remit/demo", "--workdir", help="Scratch folder (recreated)."),
) -> None:
    """Run the embedded demo: sign the example envelope, let a scripted AI agent ask, verify."""
    from remit.cli.common import fail
    from remit.demo.run import main as run_demo

    if importlib.util.find_spec("moto") is None:  # its local cloud: the `demo` extra
        raise ModuleNotFoundError("No module named 'moto'", name="moto")
    folder = Path(workdir)
    if folder.exists() and not _is_demo_folder(folder):
        fail(
            f"--workdir {folder}: the demo deletes and recreates its folder, and this one "
            "holds files the demo did not make; choose a new or empty folder"
        )
    raise typer.Exit(run_demo(folder))


_DEMO_FILES = frozenset(
    {
        "ciso.key", "ciso.pub", "log.key", "log.pub", "envelope.yaml",
        "envelope.yaml.signoffs.json", "serve.log", "moto.log",
        "remit.db", "remit.db-wal", "remit.db-shm", "remit.db-journal",
        "governance-report.html", "evidence-soc2.zip",
    }
)  # fmt: skip


def _is_demo_folder(folder: Path) -> bool:
    """Empty, or only what an earlier demo run left (never, say, a real .remit ledger)."""
    from remit.demo.trail import FILES as TRAIL_FILES

    if not folder.is_dir():
        return False
    names = {p.name for p in folder.iterdir()}
    return not names or (names <= _DEMO_FILES | TRAIL_FILES and {"ciso.key", "log.key"} <= names)


def main() -> None:
    app()
