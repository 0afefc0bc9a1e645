"""Office-hours arithmetic for the handoff SLA, table-driven (Mon–Fri 08:00–16:00 WIB)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.office_hours import add_office_hours, next_open, office_seconds_between
from domain.programs import OfficeHours

WIB = ZoneInfo("Asia/Jakarta")
OH = OfficeHours(
    "Asia/Jakarta", frozenset(range(5)), time(8), time(16), frozenset({date(2026, 12, 25)})
)


def wib(*a) -> datetime:
    return datetime(*a, tzinfo=WIB)


@pytest.mark.parametrize(
    "start,end,hours",
    [
        (wib(2026, 11, 23, 9), wib(2026, 11, 23, 11), 2),  # Monday morning
        (wib(2026, 11, 23, 15), wib(2026, 11, 24, 9), 2),  # over the night
        (wib(2026, 11, 27, 15), wib(2026, 11, 30, 9), 2),  # Friday → Monday
        (wib(2026, 11, 28, 10), wib(2026, 11, 29, 20), 0),  # a weekend
        (wib(2026, 12, 24, 15), wib(2026, 12, 28, 8), 1),  # Christmas and the weekend
        (wib(2026, 11, 23, 6), wib(2026, 11, 23, 18), 8),  # a whole day
        (wib(2026, 11, 23, 12), wib(2026, 11, 23, 11), 0),  # end before start
    ],
)
def test_office_hours_between(start, end, hours):
    assert office_seconds_between(OH, start, end) == hours * 3600


@pytest.mark.parametrize(
    "start,hours,expected",
    [
        (wib(2026, 11, 23, 9), 24, wib(2026, 11, 26, 9)),  # Monday 09:00 + 3 office days
        (wib(2026, 11, 27, 15), 24, wib(2026, 12, 2, 15)),  # Friday 15:00 → Wednesday 15:00
        (wib(2026, 11, 28, 10), 1, wib(2026, 11, 30, 9)),  # Saturday → Monday 09:00
        (wib(2026, 12, 24, 15), 2, wib(2026, 12, 28, 9)),  # over Christmas
        (wib(2026, 11, 23, 20), 8, wib(2026, 11, 24, 16)),  # evening → the next full day
    ],
)
def test_add_office_hours(start, hours, expected):
    got = add_office_hours(OH, start.astimezone(UTC), hours)
    assert got == expected and got.tzinfo == UTC


@pytest.mark.parametrize(
    "at,expected",
    [
        (wib(2026, 11, 23, 10), wib(2026, 11, 23, 10)),
        (wib(2026, 11, 23, 17), wib(2026, 11, 24, 8)),
        (wib(2026, 11, 27, 16), wib(2026, 11, 30, 8)),
        (wib(2026, 12, 24, 18), wib(2026, 12, 28, 8)),
    ],
)
def test_next_open(at, expected):
    assert next_open(OH, at) == expected


def test_add_and_between_agree():
    start = wib(2026, 11, 25, 13, 30)
    for h in (0.5, 3, 8, 24, 48):
        end = add_office_hours(OH, start, h)
        assert office_seconds_between(OH, start, end) == pytest.approx(h * 3600)
        assert end - start >= timedelta(hours=h)
