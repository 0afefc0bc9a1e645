"""Data-error reports (usul, sanggah, koreksi, graduasi mandiri): states, allowed moves, ticket
codes, due dates. Plain rules over plain data; no I/O.

The states follow the real pipeline (docs/reports.md, domain.md §3): received by the bot, the
Forum RT step when the RT has an active ketua RT, Dinsos's desk check, an optional field check,
forwarded to the musyawarah kelurahan / SIKS-NG, and closed with an outcome. The final decision on
a household's desil is made outside Dinsos (BPS/Kemensos); SELESAI DISETUJUI means "Dinsos
accepted the report and forwarded it", nothing more.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

# --- categories ----------------------------------------------------------------------------

USUL = "USUL"  # a household should be in the data, or its desil is wrong (exclusion error)
SANGGAH = "SANGGAH"  # a household should not receive aid (inclusion error)
KOREKSI = "KOREKSI"  # own data wrong: members, address, disability, work
GRADUASI = "GRADUASI"  # a household says it no longer needs aid
CATEGORIES = (USUL, SANGGAH, KOREKSI, GRADUASI)

# Reasons (usul, sanggah) and parts (koreksi): short codes stored with the report.
USUL_REASONS = ("income", "illness", "elder", "house", "other")
SANGGAH_REASONS = ("wealthy", "civil_servant", "moved", "died", "other")
KOREKSI_PARTS = ("born", "died", "moved_in", "moved_out", "address", "disability", "work")

# --- states --------------------------------------------------------------------------------

DITERIMA = "DITERIMA"
VERIFIKASI_RT = "VERIFIKASI_RT"
VERIFIKASI_DINSOS = "VERIFIKASI_DINSOS"
CEK_LAPANGAN = "CEK_LAPANGAN"
DITERUSKAN = "DITERUSKAN"
SELESAI = "SELESAI"
STATES = (DITERIMA, VERIFIKASI_RT, VERIFIKASI_DINSOS, CEK_LAPANGAN, DITERUSKAN, SELESAI)
OPEN_STATES = STATES[:-1]

DISETUJUI = "DISETUJUI"
DITOLAK = "DITOLAK"
DUPLIKAT = "DUPLIKAT"
DIBATALKAN = "DIBATALKAN"
OUTCOMES = (DISETUJUI, DITOLAK, DUPLIKAT, DIBATALKAN)

# Allowed moves. SELESAI is reachable from every open state (a duplicate or a withdrawal can be
# recognised at any point); which outcome is allowed from where is in OUTCOME_FROM.
TRANSITIONS: dict[str, frozenset[str]] = {
    DITERIMA: frozenset({VERIFIKASI_RT, VERIFIKASI_DINSOS, SELESAI}),
    VERIFIKASI_RT: frozenset({VERIFIKASI_DINSOS, SELESAI}),
    VERIFIKASI_DINSOS: frozenset({CEK_LAPANGAN, DITERUSKAN, SELESAI}),
    CEK_LAPANGAN: frozenset({VERIFIKASI_DINSOS, DITERUSKAN, SELESAI}),
    DITERUSKAN: frozenset({SELESAI}),
    SELESAI: frozenset(),
}
# DISETUJUI only after Dinsos has looked at the report (its own desk check or later).
OUTCOME_FROM: dict[str, frozenset[str]] = {
    DISETUJUI: frozenset({VERIFIKASI_DINSOS, CEK_LAPANGAN, DITERUSKAN}),
    DITOLAK: frozenset(OPEN_STATES),
    DUPLIKAT: frozenset(OPEN_STATES),
    DIBATALKAN: frozenset(OPEN_STATES),
}


@dataclass(frozen=True, slots=True)
class MoveProblem:
    code: str  # unknown_state | not_allowed | outcome_needed | outcome_unexpected |
    #            unknown_outcome | outcome_not_allowed | reason_needed
    detail: str = ""


def check_move(
    current: str, to: str, outcome: str | None = None, note: str | None = None
) -> MoveProblem | None:
    """None when moving a report from `current` to `to` (with this outcome and note) is allowed."""
    if to not in TRANSITIONS or current not in TRANSITIONS:
        return MoveProblem("unknown_state", to if to not in TRANSITIONS else current)
    if to not in TRANSITIONS[current]:
        return MoveProblem("not_allowed", f"{current} -> {to}")
    if to == SELESAI:
        if not outcome:
            return MoveProblem("outcome_needed")
        if outcome not in OUTCOMES:
            return MoveProblem("unknown_outcome", outcome)
        if current not in OUTCOME_FROM[outcome]:
            return MoveProblem("outcome_not_allowed", f"{current} -> {outcome}")
        if outcome == DITOLAK and not (note or "").strip():
            return MoveProblem("reason_needed")
    elif outcome:
        return MoveProblem("outcome_unexpected", outcome)
    return None


def first_state(category: str, *, rt_head_active: bool, by_rt_head: bool) -> str:
    """Where a new report starts: the Forum RT step when the RT has an active ketua RT who did
    not make the report; graduasi mandiri needs no RT opinion."""
    if category != GRADUASI and rt_head_active and not by_rt_head:
        return VERIFIKASI_RT
    return DITERIMA


def due_at(created_at: datetime, verification_days: int) -> datetime:
    return created_at + timedelta(days=verification_days)


def rt_due_at(at: datetime, rt_answer_days: int) -> datetime:
    return at + timedelta(days=rt_answer_days)


# --- ticket codes --------------------------------------------------------------------------

# No 0/O, 1/I/L, 5/S, 8/B, 2/Z: a code read aloud or copied by hand from a small screen survives.
ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
PREFIX = "LPR"
_CODE = re.compile(rf"^{PREFIX}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")


def new_code() -> str:
    """e.g. LPR-7KQ4-M9XD, from `secrets` (25^8 ≈ 1.5e11 codes: not guessable one by one)."""
    pick = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{PREFIX}-{pick[:4]}-{pick[4:]}"


def normalize_code(text: str) -> str | None:
    """A code as typed ("lpr 7kq4 m9xd", "LPR-7KQ4M9XD") in its canonical form, or None."""
    s = re.sub(r"[\s\-_.]", "", (text or "").upper())
    if s.startswith(PREFIX):
        s = s[len(PREFIX) :]
    if len(s) != 8:
        return None
    code = f"{PREFIX}-{s[:4]}-{s[4:]}"
    return code if _CODE.match(code) else None


# --- targets -------------------------------------------------------------------------------


def normalize_rt_rw(value: str | int) -> str | None:
    """RT or RW as stored in the DTSEN tables ("003"), or None when it is not 1–999."""
    s = str(value).strip()
    if s.isascii() and s.isdigit() and 1 <= int(s) <= 999:
        return str(int(s)).zfill(3)
    return None


_RTRW = re.compile(r"^\D*?(\d{1,3})\D+?(\d{1,3})\D*$")


def parse_rt_rw(text: str) -> tuple[str, str] | None:
    """ "RT 3 RW 7", "3/7", "03/007" -> ("003", "007"); the RT comes first unless the text says
    "RW" before "RT"."""
    t = (text or "").strip().lower()
    m = _RTRW.match(t)
    if not m:
        return None
    a, b = normalize_rt_rw(m.group(1)), normalize_rt_rw(m.group(2))
    if not a or not b:
        return None
    if "rw" in t and "rt" in t and t.index("rw") < t.index("rt"):
        a, b = b, a
    return a, b


def target_key(
    *,
    household_id: int | None = None,
    kelurahan_code: str = "",
    rw: str = "",
    rt: str = "",
    name: str = "",
) -> str:
    """What makes two reports "about the same household": its id when known, else kelurahan,
    RW, RT and the name with case and spacing ignored."""
    if household_id is not None:
        return f"hh:{household_id}"
    return f"kel:{kelurahan_code}:{rw}:{rt}:{' '.join(name.lower().split())}"[:128]
