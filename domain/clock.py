"""Time, once: the wall clock in UTC and the resident's zone (WIB, Asia/Jakarta).

Everything that needs "now" takes a clock callable (tests pass a controllable one); `utcnow` is
the default. Timestamps are stored in UTC and shown in WIB.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")


def utcnow() -> datetime:
    return datetime.now(UTC)


def wib(when: datetime | None, fmt: str = "%d-%m-%Y %H.%M") -> str:
    """A stored UTC time as WIB text for staff ('' for None)."""
    return when.astimezone(JAKARTA).strftime(fmt) if when else ""
