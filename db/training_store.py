"""Training sessions and registrations. The caller owns the transaction.

Race safety: a seat is taken by a conditional UPDATE on training_sessions.seats_taken
(`... WHERE seats_taken < quota`); exactly one of two residents racing for the last seat matches
it, the other goes on the waitlist. A cancellation locks the session row (FOR UPDATE on
PostgreSQL; SQLite serialises writers) before it hands the seat to the first on the waitlist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from db.schema import people, training_registrations, training_sessions
from domain import training as T
from domain.training import SessionSpec

S, R = training_sessions.c, training_registrations.c


def _lock(conn, stmt):
    return stmt.with_for_update() if conn.dialect.name == "postgresql" else stmt


async def add_session(conn, spec: SessionSpec, now: datetime) -> int:
    return (
        await conn.execute(
            sa.insert(training_sessions)
            .values(
                title=spec.title,
                sector=spec.sector,
                organiser=spec.organiser,
                kecamatan_code=spec.kecamatan_code,
                place=spec.place,
                starts_at=spec.starts_at,
                days=spec.days,
                quota=spec.quota,
                deadline=spec.deadline,
                desil_max=spec.desil_max,
                age_min=spec.age_min,
                age_max=spec.age_max,
                priority=spec.priority,
                notes=spec.notes,
                seats_taken=0,
                created_at=now,
            )
            .returning(S.id)
        )
    ).scalar_one()


async def session(conn, sid: int, *, lock: bool = False):
    stmt = sa.select(training_sessions).where(S.id == sid)
    return (await conn.execute(_lock(conn, stmt) if lock else stmt)).first()


async def all_sessions(conn):
    return (await conn.execute(sa.select(training_sessions).order_by(S.starts_at, S.id))).all()


async def open_sessions(
    conn, now: datetime, *, kecamatan_first: str | None = None, sector: str | None = None
):
    stmt = sa.select(training_sessions).where(S.starts_at > now)
    if sector:
        stmt = stmt.where(S.sector == sector)
    rows = [
        r
        for r in (await conn.execute(stmt.order_by(S.starts_at, S.id))).all()
        if T.is_open(r.deadline, r.starts_at, now)
    ]
    rows.sort(key=lambda r: r.kecamatan_code != kecamatan_first)  # stable: by start within
    return rows


async def registration(conn, sid: int, person_id: int):
    return (
        await conn.execute(
            sa.select(training_registrations).where(R.session_id == sid, R.person_id == person_id)
        )
    ).first()


async def registration_by_id(conn, rid: int):
    return (await conn.execute(sa.select(training_registrations).where(R.id == rid))).first()


async def person_active(conn, person_id: int):
    """(registration, session) pairs this person holds (confirmed, waiting or pending)."""
    return (
        await conn.execute(
            sa.select(
                training_registrations, S.title, S.starts_at, S.days, S.place, S.kecamatan_code
            )
            .join(training_sessions, S.id == R.session_id)
            .where(R.person_id == person_id, R.status.in_(T.ACTIVE))
            .order_by(S.starts_at)
        )
    ).all()


def _waitlist_order(s):
    """The waiting list's order: registration order; on a DTSEN-priority session the order the
    allocation gave (desil, then time of registration), since nobody registers after it."""
    return (R.desil, R.registered_at, R.id) if s.priority else (R.id,)


async def waitlist_position(conn, reg, s) -> int:
    ids = [
        r[0]
        for r in await conn.execute(
            sa.select(R.id)
            .where(R.session_id == s.id, R.status == T.WAITLIST)
            .order_by(*_waitlist_order(s))
        )
    ]
    return ids.index(reg.id) + 1 if reg.id in ids else 0


async def unused_code(conn) -> str:
    for _ in range(20):
        code = T.new_code()
        if not await conn.scalar(sa.select(sa.func.count()).where(R.code == code)):
            return code
    raise RuntimeError("no free registration code")


async def register(
    conn, *, s, person_id: int, desil: int, now: datetime, conversation_id: int | None
) -> tuple[str, int]:
    """Insert (or revive a cancelled) registration. Returns (status, registration id)."""
    # The session row is locked first (PostgreSQL), as `cancel` does: a cancellation cannot then
    # free a seat while this registration goes on the waiting list unseen.
    s = await session(conn, s.id, lock=True)
    if s.priority and s.allocated_at is None:
        status = T.PENDING  # seats are given at the deadline, by desil
    else:
        took = await conn.execute(
            sa.update(training_sessions)
            .where(S.id == s.id, S.seats_taken < S.quota)
            .values(seats_taken=S.seats_taken + 1)
        )
        status = T.CONFIRMED if took.rowcount == 1 else T.WAITLIST
    old = await registration(conn, s.id, person_id)
    if old is not None:  # registered before and cancelled: the same row, a new place in line
        # A new id puts a revived registration at the end of the waitlist, like a new one.
        await conn.execute(sa.delete(training_registrations).where(R.id == old.id))
    rid = (
        await conn.execute(
            sa.insert(training_registrations)
            .values(
                session_id=s.id,
                person_id=person_id,
                conversation_id=conversation_id,
                code=await unused_code(conn),
                status=status,
                desil=desil,
                registered_at=now,
                updated_at=now,
            )
            .returning(R.id)
        )
    ).scalar_one()
    return status, rid


async def cancel(conn, *, rid: int, now: datetime):
    """Cancel a registration. Returns (cancelled registration, promoted registration or None);
    None when there was nothing to cancel."""
    reg = await registration_by_id(conn, rid)
    if reg is None or reg.status not in T.ACTIVE:
        return None
    s = await session(conn, reg.session_id, lock=True)
    res = await conn.execute(
        sa.update(training_registrations)
        .where(R.id == rid, R.status == reg.status)
        .values(status=T.CANCELLED, updated_at=now)
    )
    if res.rowcount != 1:
        return None
    promoted = None
    if reg.status == T.CONFIRMED:
        first = (
            await conn.execute(
                sa.select(training_registrations)
                .where(R.session_id == s.id, R.status == T.WAITLIST)
                .order_by(*_waitlist_order(s))
                .limit(1)
            )
        ).first()
        if first is not None and now < s.starts_at:
            await conn.execute(
                sa.update(training_registrations)
                .where(R.id == first.id)
                .values(status=T.CONFIRMED, updated_at=now)
            )
            promoted = first
        else:
            await conn.execute(
                sa.update(training_sessions)
                .where(S.id == s.id)
                .values(seats_taken=S.seats_taken - 1)
            )
    return reg, promoted


async def participants(conn, sid: int):
    return (
        await conn.execute(
            sa.select(
                R.id,
                R.code,
                R.status,
                R.desil,
                R.registered_at,
                people.c.nama,
                people.c.nik,
                people.c.tanggal_lahir,
                people.c.jenis_kelamin,
            )
            .join(people, people.c.id == R.person_id)
            .where(R.session_id == sid)
            .order_by(
                sa.case({T.CONFIRMED: 0, T.PENDING: 1, T.WAITLIST: 2}, value=R.status, else_=3),
                R.id,
            )
        )
    ).all()


async def counts(conn) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    for sid, status, n in await conn.execute(
        sa.select(R.session_id, R.status, sa.func.count()).group_by(R.session_id, R.status)
    ):
        out.setdefault(sid, {})[status] = n
    return out


# Sample sessions for `bot.py seed-demo` (DESIGN: "plus sample trainings"), dated from today.
SAMPLES: tuple[dict[str, Any], ...] = (
    dict(
        title="Menjahit dasar",
        sector="menjahit",
        organiser="LPK Kota Bogor (contoh)",
        kecamatan="327105",
        place="Aula Kelurahan Tegal Gundil",
        offset=21,
        hour="08:00",
        days="5",
        quota="20",
        deadline=14,
        desil_max="5",
        age="18-60",
        priority="0",
    ),
    dict(
        title="Barista pemula",
        sector="barista",
        organiser="BLK Bogor (contoh)",
        kecamatan="327103",
        place="Gedung Pemuda, Jl. Pemuda",
        offset=28,
        hour="09:00",
        days="3",
        quota="15",
        deadline=20,
        desil_max="5",
        age="18-45",
        priority="1",
    ),
    dict(
        title="Servis motor",
        sector="servis_motor",
        organiser="BLK Bogor (contoh)",
        kecamatan="327106",
        place="Bengkel latih BLK, Tanah Sareal",
        offset=35,
        hour="08:00",
        days="10",
        quota="25",
        deadline=25,
        desil_max="4",
        age="18-55",
        priority="0",
    ),
)


async def seed_samples(db, programs, region, today) -> int:
    """Add the sample sessions when there are none yet; returns how many were added."""
    from datetime import timedelta

    from domain.training import parse_session

    specs = []
    for s in SAMPLES:
        row = {k: str(v) for k, v in s.items() if k not in ("offset", "hour", "deadline")}
        row["start"] = f"{(today + timedelta(days=int(s['offset']))).isoformat()} {s['hour']}"
        row["deadline"] = (today + timedelta(days=int(s["deadline"]))).isoformat()
        spec = parse_session(
            row,
            sectors=[o.code for o in programs.training_sectors],
            find_kecamatan=lambda t: k.code if (k := region.find_kecamatan(t)) else None,
            today=today,
        )
        if not isinstance(spec, list):  # a city without this sector or kecamatan skips it
            specs.append(spec)
    async with db.tx() as c:
        if await c.scalar(sa.select(sa.func.count()).select_from(training_sessions)):
            return 0
        from datetime import datetime

        now = datetime.now(UTC)
        for spec in specs:
            await add_session(c, spec, now)
    return len(specs)


# --- the scheduled jobs (services/training.py) --------------------------------------------------


async def reminders_due(conn, now: datetime):
    """Confirmed registrations of sessions still to come whose 1-day reminder is not sent."""
    return (
        await conn.execute(
            sa.select(
                R.id,
                R.conversation_id,
                R.code,
                R.reminded_3d_at,
                R.reminded_1d_at,
                S.title,
                S.place,
                S.starts_at,
            )
            .join(training_sessions, S.id == R.session_id)
            .where(R.status == T.CONFIRMED, R.reminded_1d_at.is_(None), S.starts_at > now)
        )
    ).all()


async def mark_reminded(conn, rid: int, due: str, now: datetime, *, skip_3d: bool) -> bool:
    """Mark the `due` ("3d" or "1d") reminder as sent; only the call that marks it gets True.
    `skip_3d`: the 3-day reminder is marked too (the 1-day one says it all)."""
    col = R.reminded_1d_at if due == "1d" else R.reminded_3d_at
    values = {col.name: now}
    if skip_3d:
        values["reminded_3d_at"] = now
    res = await conn.execute(
        sa.update(training_registrations).where(R.id == rid, col.is_(None)).values(values)
    )
    return res.rowcount == 1


async def unallocated_priority_sessions(conn):
    return (
        await conn.execute(
            sa.select(training_sessions).where(S.priority.is_(True), S.allocated_at.is_(None))
        )
    ).all()


async def claim_allocation(conn, sid: int, now: datetime) -> bool:
    """Mark the session allocated; only the call that marks it gets True."""
    res = await conn.execute(
        sa.update(training_sessions)
        .where(S.id == sid, S.allocated_at.is_(None))
        .values(allocated_at=now)
    )
    return res.rowcount == 1


async def pending_registrations(conn, sid: int):
    return (
        await conn.execute(
            sa.select(training_registrations).where(R.session_id == sid, R.status == T.PENDING)
        )
    ).all()


async def set_status(conn, rid: int, status: str, now: datetime) -> None:
    await conn.execute(
        sa.update(training_registrations).where(R.id == rid).values(status=status, updated_at=now)
    )


async def set_seats_taken(conn, sid: int, n: int) -> None:
    await conn.execute(sa.update(training_sessions).where(S.id == sid).values(seats_taken=n))


async def update_session(conn, sid: int, **values) -> None:
    """Set the given columns of one session (the dashboard edits title, organiser, place,
    notes only)."""
    await conn.execute(sa.update(training_sessions).where(S.id == sid).values(**values))
