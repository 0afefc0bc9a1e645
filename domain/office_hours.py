"""Working-hours arithmetic for SLAs: "first answer within 24 office hours" counts only the time
the office is open (days, open–close, minus holidays, in the office's timezone).

Hand-written: the libraries for business hours (e.g. `businesstimedelta`) are unmaintained or do
not take a holiday list per deployment; this is a few lines over `OfficeHours`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.programs import OfficeHours

_MAX_DAYS = 3660  # a guard: ten years without an open day means the configuration is wrong


def _open_window(oh: OfficeHours, day: date, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    if day.weekday() not in oh.days or day in oh.holidays:
        return None
    return (datetime.combine(day, oh.open, tz), datetime.combine(day, oh.close, tz))


def office_seconds_between(oh: OfficeHours, start: datetime, end: datetime) -> float:
    """Seconds of office time in [start, end) (0 when end <= start)."""
    if end <= start:
        return 0.0
    tz = ZoneInfo(oh.timezone)
    s, e = start.astimezone(tz), end.astimezone(tz)
    total = 0.0
    day = s.date()
    while day <= e.date():
        w = _open_window(oh, day, tz)
        if w:
            lo, hi = max(w[0], s), min(w[1], e)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return total


def add_office_hours(oh: OfficeHours, start: datetime, hours: float) -> datetime:
    """The instant when `hours` of office time have passed after `start`."""
    tz = ZoneInfo(oh.timezone)
    s = start.astimezone(tz)
    left = timedelta(hours=hours)
    day = s.date()
    for _ in range(_MAX_DAYS):
        w = _open_window(oh, day, tz)
        if w:
            lo, hi = max(w[0], s), w[1]
            if hi > lo:
                if hi - lo >= left:
                    return (lo + left).astimezone(start.tzinfo)
                left -= hi - lo
        day += timedelta(days=1)
    raise ValueError("office_hours has no open day")


def next_open(oh: OfficeHours, at: datetime) -> datetime:
    """`at` itself when the office is open then, else the next opening time."""
    tz = ZoneInfo(oh.timezone)
    s = at.astimezone(tz)
    day = s.date()
    for _ in range(_MAX_DAYS):
        w = _open_window(oh, day, tz)
        if w and s < w[1]:
            return max(w[0], s).astimezone(at.tzinfo)
        day += timedelta(days=1)
    raise ValueError("office_hours has no open day")
