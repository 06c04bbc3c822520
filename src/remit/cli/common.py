"""Shared pieces of the CLI: the console, the error exit, exit codes, the one `--format`
option, time parsing and "did you mean" suggestions.

Exit status: 0 success, 1 a check failed, 2 bad input or configuration (nothing was
written), 3 a dependency (database, AWS, the service) is unreachable.
"""

from __future__ import annotations

import difflib
import enum
import json
import sys
from collections.abc import Iterable
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

OK = 0
CHECK_FAILED = 1
BAD_INPUT = 2
UNREACHABLE = 3


class OutputFormat(enum.StrEnum):
    """How a data-printing command prints: a table for people, JSON for programs."""

    TABLE = "table"
    JSON = "json"


FormatOption = typer.Option(
    OutputFormat.TABLE,
    "--format",
    help="table (for people) or json (to stdout, for programs).",
    case_sensitive=False,
)

JsonFirstFormatOption = typer.Option(
    OutputFormat.JSON,
    "--format",
    help="json (default, to stdout, for programs) or table (for people).",
    case_sensitive=False,
)
"""The same flag for commands whose output is first of all for programs (a decision, a
proof, a recorded event): json unless told table."""

DbOption = typer.Option(
    None,
    "--db",
    help="Ledger database: an SQLite file path (default .remit/remit.db) or a "
    "postgresql:// URL. Also REMIT_DB.",
    envvar="REMIT_DB",
)


def fail(message: str, code: int = BAD_INPUT) -> NoReturn:
    """Print `message` as an error and exit with `code` (2: bad input, 1: check failed,
    3: a dependency is unreachable)."""
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


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for the closest of `choices`, or "" when none is close."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
