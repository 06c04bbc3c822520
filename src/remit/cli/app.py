"""The `remit` command: wires the command groups together."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import typer

from remit.cli import (
    decide_cmd,
    envelope_cmd,
    inventory_cmd,
    keygen_cmd,
    ledger_cmd,
    mcp_cmd,
    rollback_cmd,
    serve_cmd,
)

app = typer.Typer(
    name="remit",
    help="Remit: an accountability layer for autonomous AI actions in the cloud.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("keygen")(keygen_cmd.keygen)
app.command("decide")(decide_cmd.decide)
app.command("inventory")(inventory_cmd.inventory)
app.add_typer(envelope_cmd.app, name="envelope")
app.add_typer(ledger_cmd.app, name="ledger")
app.command("serve")(serve_cmd.serve)
app.command("rollback")(rollback_cmd.rollback)
app.add_typer(serve_cmd.keys_app, name="keys")
app.add_typer(mcp_cmd.mcp_app, name="mcp")

event_app = typer.Typer(
    help="Organisational events (acquisitions, model updates, …).", no_args_is_help=True
)
event_app.command("add")(decide_cmd.event_add)
app.add_typer(event_app, name="event")


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
    }
)  # fmt: skip


def _is_demo_folder(folder: Path) -> bool:
    """Empty, or only what an earlier demo run left (never, say, a real .remit ledger)."""
    if not folder.is_dir():
        return False
    names = {p.name for p in folder.iterdir()}
    return not names or (names <= _DEMO_FILES and {"ciso.key", "log.key"} <= names)


def main() -> None:
    app()
