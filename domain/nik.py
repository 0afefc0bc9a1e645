"""NIK and No. KK: cleaning, format checks, derived facts and masking.

An NIK (Nomor Induk Kependudukan) and a No. KK (Nomor Kartu Keluarga) are both
16 digits, ``PPKKCC DDMMYY SSSS``:

- ``PPKKCC``: Kemendagri province, kab/kota and kecamatan code of the place where
  the number was first issued. It does not change when the person moves, so we
  check only the province and never require a local prefix such as 3271.
- ``DDMMYY``: for an NIK the birth date, with 40 added to the day for women
  (41-71); for a KK the date of data entry (pencatatan), with no +40.
- ``SSSS``: serial from 0001.

There is no check digit, so a format check can never say that a number is
"valid" or "terdaftar"; only Dukcapil or Kemensos can confirm that.

About python-stdnum (2.2): ``stdnum.id.nik`` is not used at run time, because
none of its checks matches our rules exactly:

- ``validate()`` looks up the first 4 digits in its own ``id/loc`` table. That
  table knows only 33 provinces (no 65 Kalimantan Utara; for Papua only the
  pre-2022 codes 91 and 94) and rejects kab/kota codes that are missing from
  it, while we must accept any kab/kec code of a real province.
- ``get_birth_date()`` takes the day modulo 40, so it accepts days such as 81
  or 91, and it tries 19YY before 20YY, so a child born in 2015 comes back as
  born in 1915.
- it signals every problem with an exception, which is slow on a 1,000,000-row
  import.

The tests compare our birth dates with ``stdnum.id.nik.get_birth_date`` where
both rules agree, and check that every province stdnum knows is in our set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

__all__ = [
    "IdProblem",
    "KkInfo",
    "NikInfo",
    "PROVINCE_CODES",
    "age_on",
    "check_kk",
    "check_nik",
    "clean_number",
    "mask",
]


@dataclass(frozen=True, slots=True)
class IdProblem:
    """Why a number was refused.

    ``code`` is one of "empty", "not_digits", "length", "province", "month",
    "day", "date", "serial", "future". ``params`` holds JSON-serialisable
    details: ``{"got": n}`` for "length", ``{}`` otherwise.
    """

    code: str
    params: dict


@dataclass(frozen=True, slots=True)
class NikInfo:
    nik: str  # 16 digits, cleaned
    gender: str  # "L" (laki-laki) or "P" (perempuan)
    birth_date: date
    region_code: str  # first 6 digits (PPKKCC)


@dataclass(frozen=True, slots=True)
class KkInfo:
    kk: str  # 16 digits, cleaned
    entry_date: date  # DDMMYY date of data entry (pencatatan), no +40
    region_code: str  # first 6 digits (PPKKCC)


# The 38 province codes of Kemendagri (Kepmendagri 2022 onwards, after the
# Papua split): 91 Papua, 92 Papua Barat, 93 Papua Selatan, 94 Papua Tengah,
# 95 Papua Pegunungan, 96 Papua Barat Daya. The pre-2022 Papua codes (94 Papua,
# 91 Papua Barat) fall inside 91-96, so NIKs issued before the split still pass.
# python-stdnum's id/loc table has only 33 of these, so it cannot be used here.
PROVINCE_CODES: frozenset[str] = frozenset(
    [str(c) for c in range(11, 20)]  # Sumatera, 11 Aceh .. 19 Kep. Bangka Belitung
    + ["21"]  # Kepulauan Riau
    + [str(c) for c in range(31, 37)]  # 31 DKI Jakarta .. 36 Banten
    + ["51", "52", "53"]  # Bali, NTB, NTT
    + [str(c) for c in range(61, 66)]  # Kalimantan, 65 Kalimantan Utara
    + [str(c) for c in range(71, 77)]  # Sulawesi, 75 Gorontalo, 76 Sulawesi Barat
    + ["81", "82"]  # Maluku, Maluku Utara
    + [str(c) for c in range(91, 97)]  # Papua (6 provinces)
)
assert len(PROVINCE_CODES) == 38


def _build_delete_table() -> dict[int, None]:
    """Characters that clean_number removes: separators people type or paste."""
    chars = {c for c in range(0x3001) if chr(c).isspace()}  # all Unicode spaces, incl. NBSP
    chars.update(map(ord, "._/\\-"))
    chars.update(range(0x2010, 0x2016))  # hyphen, non-breaking hyphen, figure dash, en/em dash
    chars.update((0x2212, 0xFE63, 0xFF0D))  # minus sign, small and full-width hyphen-minus
    chars.update((0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0xFEFF))  # invisible marks
    return dict.fromkeys(chars)


_DELETE = _build_delete_table()

# Days per month; February is fixed up for leap years in _days_in.
_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _MONTH_DAYS[month]


def clean_number(raw: str) -> str:
    """Remove whitespace (incl. NBSP and zero-width marks), dots, dashes, underscores
    and slashes. Any other character is kept, so that it can be reported."""
    if raw.isascii() and raw.isdigit():  # fast path: already clean
        return raw
    return raw.translate(_DELETE)


def _problem(code: str) -> IdProblem:
    return IdProblem(code, {})


def _check_format(raw: str) -> str | IdProblem:
    """Steps shared by NIK and KK: clean, digits, length, province, month, serial-free."""
    if not raw:
        return _problem("empty")
    s = raw if (len(raw) == 16 and raw.isascii() and raw.isdigit()) else clean_number(raw)
    n = len(s)
    if n == 0:
        return _problem("empty")
    if not (s.isascii() and s.isdigit()):
        return _problem("not_digits")
    if n != 16:
        return IdProblem("length", {"got": n})
    if s[:2] not in PROVINCE_CODES:
        return _problem("province")
    return s


def check_nik(raw: str, today: date | None = None) -> NikInfo | IdProblem:
    """Check the format of an NIK and derive gender, birth date and region code.

    The century is 20YY when that date is not after ``today`` (default: today's
    date), else 19YY. A format check only: an NIK that passes may still not exist.
    """
    s = _check_format(raw)
    if isinstance(s, IdProblem):
        return s
    month = int(s[8:10])
    if month < 1 or month > 12:
        return _problem("month")
    dd = int(s[6:8])
    if 1 <= dd <= 31:
        day, gender = dd, "L"
    elif 41 <= dd <= 71:
        day, gender = dd - 40, "P"
    else:
        return _problem("day")
    yy = int(s[10:12])
    if today is None:
        today = date.today()
    y20 = 2000 + yy
    ok20 = day <= _days_in(y20, month)
    birth = None
    if ok20:
        birth = date(y20, month, day)
        if birth > today:
            birth = None
    if birth is None:
        if day <= _days_in(1900 + yy, month):
            birth = date(1900 + yy, month, day)
        elif ok20:
            return _problem("future")  # only 29 Feb 2000 seen before that day
        else:
            return _problem("date")
    if s[12:] == "0000":
        return _problem("serial")
    return NikInfo(s, gender, birth, s[:6])


def check_kk(raw: str, today: date | None = None) -> KkInfo | IdProblem:
    """Check the format of a No. KK and derive its data-entry date and region code.

    DDMMYY is the date of data entry, with no +40. The 16-digit KK comes from
    SIAK (2000s onwards), so the year is always 20YY; a date after ``today``
    (default: today's date) is reported as "future".
    """
    s = _check_format(raw)
    if isinstance(s, IdProblem):
        return s
    month = int(s[8:10])
    if month < 1 or month > 12:
        return _problem("month")
    day = int(s[6:8])
    if day < 1 or day > 31:
        return _problem("day")
    year = 2000 + int(s[10:12])
    if day > _days_in(year, month):
        return _problem("date")
    if s[12:] == "0000":
        return _problem("serial")
    entry = date(year, month, day)
    if entry > (today if today is not None else date.today()):
        return _problem("future")
    return KkInfo(s, entry, s[:6])


def age_on(birth: date, on: date) -> int:
    """Age in whole years on the date ``on`` (negative if ``on`` is before ``birth``).

    Someone born on 29 Feb turns a year older on 1 Mar in non-leap years.
    """
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def mask(number: str) -> str:
    """Mask a number for display, in groups of 4 separated by spaces.

    A 16-digit number shows the region code and the serial and hides the date:
    "3271051234560003" -> "3271 05•• •••• 0003". Anything else shows at most
    the first 4 and the last 4 characters and never more than half of them
    (so at most 8 digits), and masks the rest.
    """
    s = clean_number(number)
    n = len(s)
    if n == 16 and s.isascii() and s.isdigit():
        return f"{s[:4]} {s[4:6]}•• •••• {s[12:]}"
    keep = min(4, n // 4)
    shown = s[:keep] + "•" * (n - 2 * keep) + (s[n - keep :] if keep else "")
    return " ".join(shown[i : i + 4] for i in range(0, n, 4))
