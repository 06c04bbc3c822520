"""CLI pieces the oversight commands share: `--format`, relative times ("90d")."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from remit.cli.common import FormatOption as FormatOption  # the one --format
from remit.cli.common import fail, parse_time

_RELATIVE = re.compile(r"^(\d{1,5})([dh])$")


def check_format(value: str) -> str:
    if value not in ("table", "json"):
        fail(f"--format: {value!r} is not one of table, json")
    return value


def since_time(value: str, now: datetime, what: str = "--since") -> datetime:
    """`90d` / `12h` before `now`, or an ISO-8601 time."""
    m = _RELATIVE.match(value.strip())
    if m:
        n = int(m.group(1))
        return now - (timedelta(days=n) if m.group(2) == "d" else timedelta(hours=n))
    if not value[:1].isdigit() or "-" not in value:
        fail(f"{what}: {value!r} is neither a span like 90d / 12h nor an ISO-8601 time")
    return parse_time(value, what)
