"""ISO-8601 durations (`P90D`, `PT1H`, `P1W`) as used in envelopes.

Years and months are refused: their length varies, and a review cadence must be exact.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO-8601 duration into a timedelta; raise ValueError with a hint if invalid."""
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO-8601 duration string like 'P90D', got {text!r}")
    m = _DURATION.match(text)
    if not m or text in ("P", "PT") or text.endswith("T"):
        hint = (
            " (years and months are not allowed: use days, e.g. P365D)"
            if re.search(r"^P\d+[YM]", text)
            else ""
        )
        raise ValueError(f"not an ISO-8601 duration: {text!r}; expected e.g. P90D or PT1H{hint}")
    w, d, h, mi, s = (m.group(k) for k in "wdhms")
    td = timedelta(
        weeks=int(w or 0),
        days=int(d or 0),
        hours=int(h or 0),
        minutes=int(mi or 0),
        seconds=float(s or 0),
    )
    if td <= timedelta(0):
        raise ValueError(f"duration must be positive, got {text!r}")
    return td


def format_duration(td: timedelta) -> str:
    """Render a timedelta as an ISO-8601 duration."""
    total = int(td.total_seconds())
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    out = "P" + (f"{days}D" if days else "")
    time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    time += f"{seconds}S" if seconds else ""
    if time:
        out += "T" + time
    return out if out != "P" else "PT0S"


def _before(v: Any) -> Any:
    if isinstance(v, timedelta):
        return v
    return parse_duration(v)


Duration = Annotated[
    timedelta,
    BeforeValidator(_before),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _DURATION.pattern,
            "description": "ISO-8601 duration without years or months, e.g. P90D or PT1H",
        }
    ),
]
"""A pydantic field type: an ISO-8601 duration string in, a timedelta inside."""
