"""Time as Remit keeps it: the default clock, and the one text form of a timestamp.

Every component that needs the time takes a `Clock` argument; `utcnow` is only the
default that edges pass in. Every timestamp Remit writes (a ledger entry's `ts`, a
decision's `decided_at`, deadlines and expiries) is `ts_text`: fixed-width UTC with
microseconds and a `Z`, which sorts lexically. `parse_ts` reads that form and the ISO
8601 forms older entries and envelopes use. Pure apart from `utcnow` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""


def utcnow() -> datetime:
    """The default clock: the wall clock in UTC (callers and tests pass their own)."""
    return datetime.now(UTC)


def ts_text(t: datetime) -> str:
    """Fixed-width UTC time text that sorts lexically: 2026-11-21T10:00:00.000000Z."""
    if t.tzinfo is None:
        raise ValueError("Remit times must be timezone-aware (got a naive datetime)")
    try:
        u = t if t.tzinfo is UTC else t.astimezone(UTC)
    except OverflowError:  # e.g. year 1 at +00:01: before year 1 in UTC
        raise ValueError(f"{t.isoformat()} is out of range once in UTC") from None
    return u.isoformat(timespec="microseconds")[:-6] + "Z"  # drops "+00:00"


def parse_ts(text: str) -> datetime:
    """A timestamp from its text: `ts_text`'s form, or ISO 8601 with `Z` or an offset.
    A time without a zone, or one outside years 1-9999 once in UTC, is refused
    (ValueError): Remit never guesses one."""
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    try:
        return t.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+00:01: before year 1 in UTC
        raise ValueError(f"timestamp {text!r} is out of range once in UTC") from None
