"""Queries the conversations need. The caller owns the transaction (one per inbound event)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from db.schema import UTCDateTime, check_attempts, households, people, program_memberships

_person_by_nik = (
    sa.select(people.c.id, people.c.household_id, households.c.no_kk)
    .join(households, households.c.id == people.c.household_id)
    .where(people.c.nik == sa.bindparam("nik"))
)
_household = sa.select(households).where(households.c.id == sa.bindparam("hid"))
_members = sa.select(
    people.c.tanggal_lahir, people.c.hubungan, people.c.disabilitas, people.c.jenis_kelamin
).where(people.c.household_id == sa.bindparam("hid"))
_programs = (
    sa.select(program_memberships.c.program_code)
    .distinct()
    .join(people, people.c.id == program_memberships.c.person_id)
    .where(people.c.household_id == sa.bindparam("hid"))
)


async def match_person(conn, nik: str, no_kk: str) -> tuple[int, int] | None:
    """(household id, person id) when this NIK belongs to the household with this No. KK, else
    None. Callers must not tell 'unknown NIK' from 'wrong pair' (it would reveal that a NIK
    exists)."""
    row = (await conn.execute(_person_by_nik, {"nik": nik})).first()
    if row is None or row.no_kk != no_kk:
        return None
    return row.household_id, row.id


async def match_household(conn, nik: str, no_kk: str) -> int | None:
    """The household id when this NIK belongs to the household with this No. KK, else None."""
    m = await match_person(conn, nik, no_kk)
    return m[0] if m else None


async def household_snapshot(conn, household_id: int):
    h = (await conn.execute(_household, {"hid": household_id})).first()
    members = (await conn.execute(_members, {"hid": household_id})).all()
    programs = {r[0] for r in await conn.execute(_programs, {"hid": household_id})}
    return h, members, programs


_ins_attempt = sa.insert(check_attempts)


async def record_attempt(
    conn, conversation_id: int, nik_hash: str, success: bool, at: datetime
) -> None:
    await conn.execute(
        _ins_attempt,
        {"conversation_id": conversation_id, "nik_hash": nik_hash, "success": success, "at": at},
    )


def _failed_since(*cond):
    return sa.select(sa.func.count(), sa.func.min(check_attempts.c.at, type_=UTCDateTime())).where(
        check_attempts.c.success.is_(False), check_attempts.c.at >= sa.bindparam("since"), *cond
    )


_failed_by_conv = _failed_since(check_attempts.c.conversation_id == sa.bindparam("cid"))
_failed_by_nik = _failed_since(check_attempts.c.nik_hash == sa.bindparam("nh"))


async def failed_attempts(
    conn, *, conversation_id: int | None = None, nik_hash: str | None = None, since: datetime
) -> tuple[int, datetime | None]:
    """(count, oldest) of failed checks since `since`, by conversation or by NIK hash."""
    if conversation_id is not None:
        row = (await conn.execute(_failed_by_conv, {"cid": conversation_id, "since": since})).one()
    else:
        row = (await conn.execute(_failed_by_nik, {"nh": nik_hash, "since": since})).one()
    return row[0], row[1]


_household_niks = sa.select(people.c.household_id, people.c.nik).where(
    people.c.household_id
    == sa.select(people.c.household_id).where(people.c.nik == sa.bindparam("nik")).scalar_subquery()
)
_matched_with = sa.select(sa.func.count()).where(
    check_attempts.c.conversation_id == sa.bindparam("cid"),
    check_attempts.c.success.is_(True),
    check_attempts.c.nik_hash.in_(sa.bindparam("hashes", expanding=True)),
)


async def household_niks(conn, nik: str) -> tuple[int | None, list[str]]:
    """The household this NIK belongs to and the NIKs of its members ((None, []) when unknown).
    For the lock's exemption only (conversations/identity.py); never shown to anyone."""
    rows = (await conn.execute(_household_niks, {"nik": nik})).all()
    return (rows[0][0] if rows else None), [r[1] for r in rows]


async def matched_with(conn, conversation_id: int, nik_hashes: list[str]) -> bool:
    """Whether this conversation ever matched with one of these NIKs (by keyed hash)."""
    n = await conn.scalar(_matched_with, {"cid": conversation_id, "hashes": nik_hashes})
    return bool(n)


async def household_kelurahan(conn, household_id: int) -> str | None:
    return (
        await conn.execute(
            sa.select(households.c.kelurahan_code).where(households.c.id == household_id)
        )
    ).scalar()


async def household_head(conn, household_id: int):
    """(nama, alamat) of the household's head (else its first member), or None."""
    return (
        await conn.execute(
            sa.select(people.c.nama, households.c.alamat)
            .join(households, households.c.id == people.c.household_id)
            .where(people.c.household_id == household_id)
            .order_by((people.c.hubungan != "KEPALA_KELUARGA"), people.c.id)
            .limit(1)
        )
    ).first()
