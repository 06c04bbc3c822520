"""The `remit` command: wires the command groups together. Each command's module is
imported only when that command runs (or help lists it): a `remit` process pays for the
libraries its own command needs, not for every command's (about 0.3 s of 0.7 s here)."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup


def _command(module: str, function: str, name: str) -> Callable[[], Any]:
    def load() -> Any:
        single = typer.Typer()
        single.command(name)(getattr(importlib.import_module(module), function))
        info = single.registered_commands[0]
        return typer.main.get_command_from_info(
            info, pretty_exceptions_short=True, rich_markup_mode=single.rich_markup_mode
        )

    return load


def _group(module: str, attribute: str = "app") -> Callable[[], Any]:
    return lambda: typer.main.get_group(getattr(importlib.import_module(module), attribute))


def _envelope() -> Any:
    from remit.cli import envelope_authoring_cmd, envelope_cmd, whatif_cmd

    envelope_cmd.app.command("whatif")(whatif_cmd.whatif)
    envelope_cmd.app.command("test")(envelope_authoring_cmd.test)
    envelope_cmd.app.command("diff")(envelope_authoring_cmd.diff)
    return typer.main.get_group(envelope_cmd.app)


def _ledger() -> Any:
    from remit.cli import ledger_cmd, ledger_log_cmd

    ledger_cmd.app.command("log")(ledger_log_cmd.log)
    return typer.main.get_group(ledger_cmd.app)


def _events() -> Any:
    from remit.cli import decide_cmd, decisions_cmd

    events = typer.Typer(
        help="Organisational events (acquisitions, model updates, …).", no_args_is_help=True
    )
    events.command("add")(decide_cmd.event_add)
    events.command("list")(decisions_cmd.list_events)
    return typer.main.get_group(events)


def _hidden(load: Callable[[], Any]) -> Callable[[], Any]:
    def hidden() -> Any:
        cmd = load()
        cmd.hidden = True
        return cmd

    return hidden


COMMANDS: dict[str, Callable[[], Any]] = {
    "init": _command("remit.cli.init_cmd", "init", "init"),
    "keygen": _command("remit.cli.keygen_cmd", "keygen", "keygen"),
    "decide": _command("remit.cli.decide_cmd", "decide", "decide"),
    "inventory": _command("remit.cli.inventory_cmd", "inventory", "inventory"),
    "serve": _command("remit.cli.serve_cmd", "serve", "serve"),
    "rollback": _command("remit.cli.rollback_cmd", "rollback", "rollback"),
    "report": _command("remit.cli.report_cmd", "report", "report"),
    "reconcile": _command("remit.cli.reconcile_cmd", "reconcile", "reconcile"),
    "doctor": _command("remit.cli.doctor_cmd", "doctor", "doctor"),
    "envelope": _envelope,
    "review": _group("remit.cli.review_cmd"),
    "drift": _group("remit.cli.drift_cmd"),
    "ledger": _ledger,
    "evidence": _group("remit.cli.evidence_cmd"),
    "keys": _group("remit.cli.serve_cmd", "keys_app"),
    "cloudtrail": _group("remit.cli.cloudtrail_cmd"),
    "audit": _group("remit.cli.audit_cmd"),
    "mcp": _group("remit.cli.mcp_cmd", "mcp_app"),
    "custodian": _group("remit.cli.custodian_cmd"),
    "event": _events,
    "events": _hidden(_events),  # `remit events list` reads as well
    "decisions": _group("remit.cli.decisions_cmd"),
    "approvals": _group("remit.cli.approvals_cmd"),
}
"""Every command but `demo` (defined here, listed after `doctor`), in the order help lists
them: its loader."""


class LazyCommands(TyperGroup):
    """The root group: a command is built from its module when it is first asked for."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = list(COMMANDS)
        here = [n for n in super().list_commands(ctx) if n not in COMMANDS]
        at = names.index("doctor") + 1  # commands first, then groups, as Typer lists them
        return [*names[:at], *here, *names[at:]]

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """As Typer's, with "Did you mean …?" drawn from every command, loaded or not."""
        typo = args[0] if args else ""
        names = self.list_commands(ctx)
        if typo and not typo.startswith("-") and typo not in names and not ctx.resilient_parsing:
            matches = get_close_matches(typo, names)
            hint = " Did you mean " + ", ".join(repr(m) for m in matches) + "?" if matches else ""
            ctx.fail(f"No such command {typo!r}.{hint}")
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            cmd = COMMANDS[cmd_name]()
            cmd.name = cmd_name
            self.commands[cmd_name] = cmd
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    name="remit",
    help="Remit: an accountability layer for autonomous AI actions in the cloud.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish)
    cls=LazyCommands,
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
