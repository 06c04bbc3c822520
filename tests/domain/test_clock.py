"""`ts_text` is Remit's one timestamp form: fixed-width UTC with microseconds and a `Z`,
whatever zone the time comes in, and `parse_ts` reads it back exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remit.domain.clock import parse_ts, ts_text

ZONES = st.builds(
    lambda m: UTC if m == 0 else timezone(timedelta(minutes=m)),
    st.integers(min_value=-23 * 60, max_value=23 * 60),
)


def reference(t: datetime) -> str:
    u = t.astimezone(UTC)
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond:06d}Z"
    )


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=ZONES))
def test_any_zone_gives_the_fixed_width_utc_form_and_reads_back(t: datetime) -> None:
    text = ts_text(t)
    assert text == reference(t)
    assert len(text) == 27 and text.endswith("Z")
    assert parse_ts(text) == t


def test_years_before_1000_keep_four_digits_and_naive_times_are_refused() -> None:
    assert ts_text(datetime(7, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "0007-01-02T03:04:05.000006Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        ts_text(datetime(2026, 1, 1))


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-05:00"])
def test_a_time_outside_the_years_once_in_utc_is_a_value_error(text: str) -> None:
    """Every caller refuses a ValueError as bad input; an OverflowError escaped them (the
    dashboard's filters and the CLI's --since answered 500 or a traceback)."""
    with pytest.raises(ValueError, match="out of range once in UTC"):
        parse_ts(text)
