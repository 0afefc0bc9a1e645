"""KUBE (Kelompok Usaha Bersama, Permensos No. 2 Tahun 2019): group rules as plain functions.

A group is formed in the chat (DRAFT), submitted by its ketua (DIAJUKAN) and decided by staff
(DISETUJUI or DITOLAK). "Active" means DRAFT, DIAJUKAN or DISETUJUI: a person, and a household,
is in at most one active group; a rejected group frees its members. Results are reason codes;
the conversation layer turns them into words.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

DRAFT, SUBMITTED, APPROVED, REJECTED = "DRAFT", "DIAJUKAN", "DISETUJUI", "DITOLAK"
ACTIVE = (DRAFT, SUBMITTED, APPROVED)
KETUA, SEKRETARIS, BENDAHARA, ANGGOTA = "ketua", "sekretaris", "bendahara", "anggota"
ROLES = (KETUA, SEKRETARIS, BENDAHARA, ANGGOTA)

# Join codes: no 0/O, 1/I/L, so a code read aloud or copied from a photo is not mistaken.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


def new_code(length: int = CODE_LENGTH, choice=secrets.choice) -> str:
    return "".join(choice(CODE_ALPHABET) for _ in range(length))


def clean_code(text: str) -> str | None:
    """A typed code, normalised (case, spaces, dashes), or None when it cannot be one."""
    s = "".join(ch for ch in text.upper() if ch not in " -.")
    if len(s) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in s):
        return None
    return s


@dataclass(frozen=True, slots=True)
class JoinFacts:
    age: int  # the person's age today (from people.tanggal_lahir)
    person_kelurahan: str
    household_eligible: bool  # domain.eligibility.evaluate says the household may join KUBE
    in_active_group: bool  # this person
    household_in_active_group: bool  # someone else of the household
    group_kelurahan: str
    group_status: str
    member_count: int


def member_problem(
    age: int,
    household_eligible: bool,
    in_active_group: bool,
    household_in_active_group: bool,
    age_range: tuple[int, int],
) -> str | None:
    """Why this person may not be in a KUBE at all (creating or joining), or None."""
    if in_active_group:
        return "already_member"
    if household_in_active_group:
        return "household_member"
    lo, hi = age_range
    if not lo <= age <= hi:
        return "age"
    if not household_eligible:
        return "not_eligible"
    return None


def join_problem(f: JoinFacts, age_range: tuple[int, int], max_members: int) -> str | None:
    """The first reason this person may not join this group, or None. Codes:
    not_open, other_kelurahan, already_member, household_member, age, not_eligible, full."""
    if f.group_status != DRAFT:
        return "not_open"
    if f.person_kelurahan != f.group_kelurahan:
        return "other_kelurahan"
    p = member_problem(
        f.age, f.household_eligible, f.in_active_group, f.household_in_active_group, age_range
    )
    if p:
        return p
    if f.member_count >= max_members:
        return "full"
    return None


def submit_problem(
    status: str, member_count: int, roles: list[str], size: tuple[int, int]
) -> str | None:
    """Why the ketua may not submit yet, or None: not_draft, too_few, too_many, no_sekretaris,
    no_bendahara."""
    if status != DRAFT:
        return "not_draft"
    lo, hi = size
    if member_count < lo:
        return "too_few"
    if member_count > hi:
        return "too_many"
    if SEKRETARIS not in roles:
        return "no_sekretaris"
    if BENDAHARA not in roles:
        return "no_bendahara"
    return None


def can_decide(status: str) -> bool:
    return status == SUBMITTED


def short_name(nama: str) -> str:
    """'Siti Rahmawati' -> 'Siti R.'; a single name stays as it is."""
    parts = nama.split()
    if not parts:
        return ""
    first = parts[0].capitalize() if parts[0].isupper() else parts[0]
    return first if len(parts) == 1 else f"{first} {parts[1][0].upper()}."
