"""Shared pieces of the CLI: the console, the error exit, time and path options.

Exit status 2 means the input was bad (nothing was written); 1 means a check failed.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from remit.domain.clock import utcnow

console = Console()
err_console = Console(stderr=True)

DEFAULT_DB = Path(".remit/remit.db")

DbOption = typer.Option(
    None,
    "--db",
    help="Ledger database: an SQLite file path (default .remit/remit.db) or a "
    "postgresql:// URL. Also REMIT_DB.",
    envvar="REMIT_DB",
)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `message` as an error and exit with `code` (2: bad input, 1: check failed)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    err_console.print(
        f"[bold yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True
    )


def parse_time(value: str | None, what: str = "--now") -> datetime:
    """An ISO-8601 time with a zone (Z allowed), or now when None."""
    if value is None:
        return utcnow()
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{what}: not an ISO-8601 time: {value!r} (e.g. 2026-11-21T10:00:00Z)")
    if t.tzinfo is None:
        fail(f"{what}: the time must carry a zone, e.g. {value}Z")
    return t.astimezone(UTC)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def iso(t: datetime | None) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if t else "—"
