"""The reads several dashboard pages share, so each is written once: the period a page's
query asks for, the envelope's status in force, and the links from a chart's day and tier
to the decisions behind it. No HTML, no HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from remit.domain.clock import parse_ts, ts_text
from remit.envelope.status import EnvelopeStatus, envelope_status
from remit.report.period import Period, between, parse_period, trailing
from remit.server.runtime import Runtime


def period_of(rt: Runtime, params: dict[str, str], days: int = 30) -> Period:
    """`period=2026-Q4|2026-11|2026-11-21`, or `since` and `until`, or the last `days`
    days. Raises `PeriodError` on a bad one."""
    if params.get("period"):
        return parse_period(params["period"])
    if params.get("since") and params.get("until"):
        return between(params["since"], params["until"])
    return trailing(rt.clock(), days)


def window_of(period: Period) -> dict[str, str]:
    return {"since": ts_text(period.since), "until": ts_text(period.until)}


def envelope_state(rt: Runtime) -> EnvelopeStatus:
    """The envelope in force: trust, review dates, expiry, events pending re-validation."""
    view = rt.envelope_view()
    kinds = frozenset(view.loaded.envelope.metadata.revalidate_on)
    return envelope_status(view.loaded, view.trust, view.checks,
                           rt.store.reads.events_after(None, kinds), rt.clock())  # fmt: skip


def day_end(day: str) -> datetime:
    return parse_ts(f"{day}T00:00:00Z") + timedelta(days=1)


def day_link(day: str, tier: str, **more: Any) -> str:
    """The decisions list for one day and tier (and whatever else `more` narrows to)."""
    query = {**more, "tier": tier, "since": f"{day}T00:00:00.000000Z",
             "until": ts_text(day_end(day))}  # fmt: skip
    return "/ui/decisions?" + urlencode(query)
