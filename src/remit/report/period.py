"""Report periods: `2026-Q4`, `2026-11`, `2026-11-21`, or explicit since/until times, as a
half-open UTC interval [since, until). Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from remit.domain.clock import parse_ts, ts_text


class PeriodError(ValueError):
    """A period that cannot be read (the message says what was expected)."""


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open interval of time [since, until) and its name."""

    name: str
    since: datetime
    until: datetime

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "since": ts_text(self.since), "until": ts_text(self.until)}

    def days(self) -> list[str]:
        """Every UTC date in the period, as YYYY-MM-DD."""
        out: list[str] = []
        day = self.since.replace(hour=0, minute=0, second=0, microsecond=0)
        while day < self.until and len(out) < 400:
            out.append(day.strftime("%Y-%m-%d"))
            day += timedelta(days=1)
        return out


_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _month_start(year: int, month: int) -> datetime:
    while month > 12:
        year, month = year + 1, month - 12
    return datetime(year, month, 1, tzinfo=UTC)


def parse_period(text: str) -> Period:
    """A named period: `YYYY-Qn`, `YYYY-MM` or `YYYY-MM-DD` (UTC)."""
    value = text.strip()
    try:
        if m := _QUARTER.match(value):
            year, q = int(m[1]), int(m[2])
            start = _month_start(year, 3 * q - 2)
            return Period(value, start, _month_start(year, 3 * q + 1))
        if m := _MONTH.match(value):
            year, month = int(m[1]), int(m[2])
            if not 1 <= month <= 12:
                raise PeriodError(f"period {text!r}: month must be 01 to 12")
            return Period(value, _month_start(year, month), _month_start(year, month + 1))
        if m := _DAY.match(value):
            start = datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC)
            return Period(value, start, start + timedelta(days=1))
    except ValueError as exc:
        raise PeriodError(f"period {text!r}: {exc}") from None
    raise PeriodError(
        f"period {text!r}: expected a quarter (2026-Q4), a month (2026-11) or a day (2026-11-21)"
    )


def between(since: str, until: str) -> Period:
    """An explicit period from two ISO-8601 times with a zone (or dates, read as UTC)."""
    start, end = _when(since, "--since"), _when(until, "--until")
    if end <= start:
        raise PeriodError(f"--until ({until}) must be after --since ({since})")
    return Period(f"{ts_text(start)}..{ts_text(end)}", start, end)


def _when(text: str, what: str) -> datetime:
    value = text.strip()
    if _DAY.match(value):
        value += "T00:00:00Z"
    try:
        return parse_ts(value)
    except ValueError as exc:
        raise PeriodError(f"{what} {text!r}: {exc}") from None


def trailing(now: datetime, days: int) -> Period:
    """The last `days` days up to and including today (UTC)."""
    end = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end += timedelta(days=1)
    return Period(f"last {days} days", end - timedelta(days=days), end)


def parse_ts_period_days(since: str, until: str) -> list[str]:
    """The UTC dates of the period [since, until) given as time text."""
    return Period("", parse_ts(since), parse_ts(until)).days()
