"""Skills training (pelatihan keterampilan): session rules, priority allocation, reminders, and
the checks on a staff-defined session row (CLI `training add` / `training import`).

Times residents see are Asia/Jakarta; stored instants are UTC. Pure functions, no I/O.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.clock import JAKARTA
from domain.kube import CODE_ALPHABET

CONFIRMED, WAITLIST, PENDING, CANCELLED = "CONFIRMED", "WAITLIST", "PENDING", "CANCELLED"
ACTIVE = (CONFIRMED, WAITLIST, PENDING)
REMIND_AT = time(8, 0)  # reminders go out from 08.00 WIB, never at night


def new_code(choice=secrets.choice) -> str:
    """Registration code shown to the resident and to the organiser: 'P' + 6 characters."""
    return "P" + "".join(choice(CODE_ALPHABET) for _ in range(6))


def local_dates(starts_at: datetime, days: int) -> tuple[date, date]:
    """First and last day (Jakarta) a session runs."""
    first = starts_at.astimezone(JAKARTA).date()
    return first, first + timedelta(days=max(days, 1) - 1)


def overlaps(a_start: datetime, a_days: int, b_start: datetime, b_days: int) -> bool:
    """Two sessions overlap when they share a calendar day (Jakarta): a resident cannot attend
    two trainings on one day, whatever the hours."""
    a1, a2 = local_dates(a_start, a_days)
    b1, b2 = local_dates(b_start, b_days)
    return a1 <= b2 and b1 <= a2


def is_open(deadline: date, starts_at: datetime, now: datetime) -> bool:
    """Registration is open up to and including the deadline day (Jakarta) and before the start."""
    return now.astimezone(JAKARTA).date() <= deadline and now < starts_at


def register_problem(
    *,
    desil: int,
    age: int,
    desil_max: int,
    age_range: tuple[int, int],
    open_: bool,
    already: bool,
    overlap: bool,
) -> str | None:
    """Why this resident may not register, or None. Codes: closed, already, desil, age, overlap."""
    if not open_:
        return "closed"
    if already:
        return "already"
    if desil > desil_max:
        return "desil"
    lo, hi = age_range
    if not lo <= age <= hi:
        return "age"
    if overlap:
        return "overlap"
    return None


@dataclass(frozen=True, slots=True)
class Applicant:
    id: int
    desil: int
    registered_at: datetime


def allocate(applicants: Iterable[Applicant], quota: int) -> list[tuple[int, str, int]]:
    """DTSEN priority at the deadline: lowest desil first, then earliest registration (then id).
    Returns (id, CONFIRMED | WAITLIST, position) in that order; position is 1-based within its
    status."""
    ordered = sorted(applicants, key=lambda a: (a.desil, a.registered_at, a.id))
    out = []
    for i, a in enumerate(ordered):
        if i < quota:
            out.append((a.id, CONFIRMED, i + 1))
        else:
            out.append((a.id, WAITLIST, i - quota + 1))
    return out


def allocation_due(deadline: date, now: datetime) -> bool:
    """Seats of a priority session are given once the deadline day is over (00.00 WIB after it)."""
    return now.astimezone(JAKARTA).date() > deadline


def reminder_times(starts_at: datetime) -> tuple[datetime, datetime]:
    """When the 3-day and the 1-day reminders fall due: 08.00 WIB, 3 and 1 days before the day
    the session starts."""
    first = starts_at.astimezone(JAKARTA).date()
    at = lambda d: datetime.combine(first - timedelta(days=d), REMIND_AT, JAKARTA)  # noqa: E731
    return at(3), at(1)


def reminder_due(
    starts_at: datetime, now: datetime, reminded_3d: bool, reminded_1d: bool
) -> str | None:
    """'1d', '3d' or None. Once the 1-day reminder is due the 3-day one is skipped (it would say
    the same thing a second time)."""
    if now >= starts_at or reminded_1d:
        return None
    due3, due1 = reminder_times(starts_at)
    if now >= due1:
        return "1d"
    if now >= due3 and not reminded_3d:
        return "3d"
    return None


# --- a session defined by staff -----------------------------------------------------------

FIELDS = (
    "title",
    "sector",
    "organiser",
    "kecamatan",
    "place",
    "start",
    "days",
    "quota",
    "deadline",
    "desil_max",
    "age",
    "priority",
    "notes",
)
REQUIRED = FIELDS[:11]


@dataclass(frozen=True, slots=True)
class SessionSpec:
    title: str
    sector: str
    organiser: str
    kecamatan_code: str
    place: str
    starts_at: datetime  # aware, UTC
    days: int
    quota: int
    deadline: date
    desil_max: int
    age_min: int
    age_max: int
    priority: bool
    notes: str | None


def _int(raw: str, name: str, lo: int, hi: int, errors: list[str]) -> int | None:
    try:
        n = int(str(raw).strip())
    except ValueError:
        errors.append(f"{name}: harus angka, bukan '{raw}'")
        return None
    if not lo <= n <= hi:
        errors.append(f"{name}: harus {lo}–{hi}, bukan {n}")
        return None
    return n


def parse_session(
    row: dict[str, str],
    *,
    sectors: Iterable[str],
    find_kecamatan: Callable[[str], str | None],
    today: date,
) -> SessionSpec | list[str]:
    """Check one session (CLI flags or a CSV row). Returns the spec, or every problem (in
    Bahasa Indonesia, for staff)."""
    errors: list[str] = []
    v = {k: (str(row.get(k) or "")).strip() for k in FIELDS}
    for k in REQUIRED:
        if not v[k]:
            errors.append(f"{k}: wajib diisi")
    for k, n in (("title", 120), ("organiser", 120), ("place", 160), ("notes", 255)):
        if len(v[k]) > n:
            errors.append(f"{k}: paling panjang {n} karakter")
    sectors = list(sectors)
    if v["sector"] and v["sector"] not in sectors:
        errors.append(f"sector: '{v['sector']}' tidak dikenal (pilihan: {', '.join(sectors)})")
    kec = find_kecamatan(v["kecamatan"]) if v["kecamatan"] else None
    if v["kecamatan"] and kec is None:
        errors.append(f"kecamatan: '{v['kecamatan']}' tidak dikenal")
    starts_at = None
    if v["start"]:
        try:
            local = datetime.strptime(v["start"], "%Y-%m-%d %H:%M")
            starts_at = local.replace(tzinfo=JAKARTA).astimezone(ZoneInfo("UTC"))
        except ValueError:
            errors.append(f"start: format 'YYYY-MM-DD HH:MM' (WIB), bukan '{v['start']}'")
    days = _int(v["days"], "days", 1, 60, errors) if v["days"] else None
    quota = _int(v["quota"], "quota", 1, 1000, errors) if v["quota"] else None
    desil_max = _int(v["desil_max"], "desil_max", 1, 10, errors) if v["desil_max"] else None
    deadline = None
    if v["deadline"]:
        try:
            deadline = date.fromisoformat(v["deadline"])
        except ValueError:
            errors.append(f"deadline: format 'YYYY-MM-DD', bukan '{v['deadline']}'")
    age_min = age_max = None
    if v["age"]:
        lo, sep, hi = v["age"].partition("-")
        if not sep:
            errors.append(f"age: format 'MIN-MAX', misalnya 18-60, bukan '{v['age']}'")
        else:
            age_min = _int(lo, "age (min)", 0, 120, errors)
            age_max = _int(hi, "age (max)", 0, 120, errors)
            if age_min is not None and age_max is not None and age_min > age_max:
                errors.append("age: MIN lebih besar dari MAX")
    priority = v["priority"].lower() in ("1", "true", "ya", "yes", "y")
    if (
        v["priority"]
        and not priority
        and v["priority"].lower() not in ("0", "false", "tidak", "no", "n")
    ):
        errors.append(f"priority: isi 1/0 atau ya/tidak, bukan '{v['priority']}'")
    if starts_at and deadline:
        if deadline >= starts_at.astimezone(JAKARTA).date():
            errors.append("deadline: harus sebelum hari mulai")
        if deadline < today:
            errors.append("deadline: sudah lewat")
    # Every field but the last two is required: no error means each of them was read.
    if (
        errors
        or kec is None
        or starts_at is None
        or days is None
        or quota is None
        or deadline is None
        or desil_max is None
        or age_min is None
        or age_max is None
    ):
        return errors
    return SessionSpec(
        v["title"],
        v["sector"],
        v["organiser"],
        kec,
        v["place"],
        starts_at,
        days,
        quota,
        deadline,
        desil_max,
        age_min,
        age_max,
        priority,
        v["notes"] or None,
    )
