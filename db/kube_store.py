"""KUBE, UEP and the person facts they need. The caller owns the transaction.

Race safety: kube_groups.member_count changes only through a conditional UPDATE (`... WHERE
member_count < max AND status = 'DRAFT'`), which PostgreSQL and SQLite both evaluate against the
row as it is at write time; the group row is also locked (FOR UPDATE on PostgreSQL) before a
member is removed or the group submitted. Two residents taking the last place: one UPDATE
matches, the other matches nothing and is told the group is full.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from db.audit import audit
from db.schema import (
    households,
    kube_events,
    kube_groups,
    kube_members,
    people,
    program_memberships,
    uep_applications,
)
from domain import kube as K
from domain.eligibility import HouseholdFacts, MemberFacts, age_on, evaluate

G, M, E, U = kube_groups.c, kube_members.c, kube_events.c, uep_applications.c


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    household_id: int
    nama: str
    nik: str  # only ever shown masked
    birth: date
    age: int
    kelurahan_code: str
    kecamatan_code: str
    desil: int
    eligible: dict  # program code -> bool | None


async def person(conn, person_id: int, cfg, today: date) -> Person | None:
    p = (await conn.execute(sa.select(people).where(people.c.id == person_id))).first()
    if p is None:
        return None
    h = (await conn.execute(sa.select(households).where(households.c.id == p.household_id))).one()
    members = (
        await conn.execute(
            sa.select(people.c.tanggal_lahir, people.c.hubungan, people.c.disabilitas).where(
                people.c.household_id == h.id
            )
        )
    ).all()
    held = {
        r[0]
        for r in await conn.execute(
            sa.select(program_memberships.c.program_code)
            .distinct()
            .join(people, people.c.id == program_memberships.c.person_id)
            .where(people.c.household_id == h.id)
        )
    }
    facts = HouseholdFacts(
        h.desil,
        tuple(MemberFacts(m.tanggal_lahir, m.hubungan, bool(m.disabilitas)) for m in members),
        frozenset(held),
    )
    eligible = {r.code: r.eligible for r in evaluate(facts, cfg, today)}
    return Person(
        p.id,
        h.id,
        p.nama,
        p.nik,
        p.tanggal_lahir,
        age_on(p.tanggal_lahir, today),
        h.kelurahan_code,
        h.kecamatan_code,
        h.desil,
        eligible,
    )


# --- KUBE ---------------------------------------------------------------------------------


def _lock(conn, stmt):
    return stmt.with_for_update() if conn.dialect.name == "postgresql" else stmt


async def group(conn, group_id: int, *, lock: bool = False):
    stmt = sa.select(kube_groups).where(G.id == group_id)
    return (await conn.execute(_lock(conn, stmt) if lock else stmt)).first()


async def group_by_code(conn, code: str):
    return (await conn.execute(sa.select(kube_groups).where(G.code == code))).first()


async def active_group_of(conn, person_id: int):
    """(group row, member row) of this person's active KUBE, or None."""
    row = (
        await conn.execute(
            sa.select(kube_groups, M.id.label("member_id"), M.role)
            .join(kube_members, M.group_id == G.id)
            .where(M.person_id == person_id, G.status.in_(K.ACTIVE))
            .order_by(G.id.desc())
        )
    ).first()
    return row


async def last_group_of(conn, person_id: int):
    """The newest group this person is a member of, whatever its status, or None."""
    return (
        await conn.execute(
            sa.select(kube_groups)
            .join(kube_members, M.group_id == G.id)
            .where(M.person_id == person_id)
            .order_by(G.id.desc())
            .limit(1)
        )
    ).first()


async def household_in_active(conn, household_id: int, person_id: int) -> bool:
    n = await conn.scalar(
        sa.select(sa.func.count())
        .select_from(kube_members.join(kube_groups, M.group_id == G.id))
        .where(M.household_id == household_id, M.person_id != person_id, G.status.in_(K.ACTIVE))
    )
    return bool(n)


async def members(conn, group_id: int):
    return (
        await conn.execute(
            sa.select(
                M.id,
                M.person_id,
                M.role,
                M.conversation_id,
                M.joined_at,
                people.c.nama,
                people.c.nik,
            )
            .join(people, people.c.id == M.person_id)
            .where(M.group_id == group_id)
            .order_by(M.id)
        )
    ).all()


async def events(conn, group_id: int):
    return (
        await conn.execute(
            sa.select(E.at, E.action, E.actor, E.detail, people.c.nama)
            .outerjoin(people, people.c.id == E.person_id)
            .where(E.group_id == group_id)
            .order_by(E.id)
        )
    ).all()


async def log(
    conn,
    group_id: int,
    at: datetime,
    action: str,
    *,
    person_id: int | None = None,
    actor: str = "warga",
    detail: str | None = None,
) -> None:
    await conn.execute(
        sa.insert(kube_events).values(
            group_id=group_id, at=at, actor=actor, action=action, person_id=person_id, detail=detail
        )
    )


async def unused_code(conn, new_code) -> str:
    for _ in range(20):
        code = new_code()
        if await group_by_code(conn, code) is None:
            return code
    raise RuntimeError("no free KUBE code")  # 31^6 codes: practically unreachable


async def create(
    conn,
    *,
    p: Person,
    name: str,
    business_type: str,
    code: str,
    now: datetime,
    conversation_id: int | None,
) -> int:
    gid = (
        await conn.execute(
            sa.insert(kube_groups)
            .values(
                code=code,
                name=name,
                business_type=business_type,
                kelurahan_code=p.kelurahan_code,
                status=K.DRAFT,
                member_count=1,
                created_by=p.id,
                created_at=now,
            )
            .returning(G.id)
        )
    ).scalar_one()
    await conn.execute(
        sa.insert(kube_members).values(
            group_id=gid,
            person_id=p.id,
            household_id=p.household_id,
            conversation_id=conversation_id,
            role=K.KETUA,
            joined_at=now,
        )
    )
    await log(conn, gid, now, "created", person_id=p.id)
    return gid


async def take_place(conn, group_id: int, max_members: int) -> bool:
    """The race-safe step: one more member if the group is still forming and not full."""
    res = await conn.execute(
        sa.update(kube_groups)
        .where(G.id == group_id, G.status == K.DRAFT, G.member_count < max_members)
        .values(member_count=G.member_count + 1)
    )
    return res.rowcount == 1


async def add_member(
    conn, *, group_id: int, p: Person, now: datetime, conversation_id: int | None
) -> None:
    await conn.execute(
        sa.insert(kube_members).values(
            group_id=group_id,
            person_id=p.id,
            household_id=p.household_id,
            conversation_id=conversation_id,
            role=K.ANGGOTA,
            joined_at=now,
        )
    )
    await log(conn, group_id, now, "joined", person_id=p.id)


async def remove_member(conn, *, group_id: int, member_id: int, now: datetime, action: str) -> bool:
    """Leave or removal while the group is a DRAFT. False when not possible (no longer a draft,
    not a member, or the ketua)."""
    g = await group(conn, group_id, lock=True)
    if g is None or g.status != K.DRAFT:
        return False
    m = (
        await conn.execute(sa.select(kube_members).where(M.id == member_id, M.group_id == group_id))
    ).first()
    if m is None or m.role == K.KETUA:
        return False
    await conn.execute(sa.delete(kube_members).where(M.id == member_id))
    await conn.execute(
        sa.update(kube_groups).where(G.id == group_id).values(member_count=G.member_count - 1)
    )
    await log(conn, group_id, now, action, person_id=m.person_id)
    return True


async def set_role(conn, *, group_id: int, member_id: int, role: str, now: datetime) -> bool:
    g = await group(conn, group_id, lock=True)
    if g is None or g.status != K.DRAFT:
        return False
    m = (
        await conn.execute(sa.select(kube_members).where(M.id == member_id, M.group_id == group_id))
    ).first()
    if m is None or m.role == K.KETUA:
        return False
    # One sekretaris and one bendahara: whoever held the role goes back to anggota.
    await conn.execute(
        sa.update(kube_members).where(M.group_id == group_id, M.role == role).values(role=K.ANGGOTA)
    )
    await conn.execute(sa.update(kube_members).where(M.id == member_id).values(role=role))
    await log(conn, group_id, now, "role", person_id=m.person_id, detail=role)
    return True


async def submit(conn, *, group_id: int, size: tuple[int, int], now: datetime) -> str | None:
    """Submit for staff decision; the problem code when not possible."""
    g = await group(conn, group_id, lock=True)
    roles = [m.role for m in await members(conn, group_id)]
    problem = K.submit_problem(g.status, len(roles), roles, size)
    if problem:
        return problem
    await conn.execute(
        sa.update(kube_groups)
        .where(G.id == group_id, G.status == K.DRAFT)
        .values(status=K.SUBMITTED, submitted_at=now)
    )
    await log(conn, group_id, now, "submitted")
    return None


async def decide(
    conn, *, group_id: int, approve: bool, reason: str | None, now: datetime, actor: str = "cli"
) -> str | None:
    """Staff decision; returns the problem ('not_found', 'not_submitted') or None."""
    g = await group(conn, group_id, lock=True)
    if g is None:
        return "not_found"
    if not K.can_decide(g.status):
        return "not_submitted"
    status = K.APPROVED if approve else K.REJECTED
    await conn.execute(
        sa.update(kube_groups)
        .where(G.id == group_id, G.status == K.SUBMITTED)
        .values(status=status, reason=reason, decided_at=now)
    )
    await log(
        conn, group_id, now, "approved" if approve else "rejected", actor=actor, detail=reason
    )
    await audit(
        conn,
        actor,
        "kube.approve" if approve else "kube.reject",
        f"kube:{group_id}",
        {"reason": reason} if reason else None,
        now=now,
    )
    return None


async def list_groups(conn, status: str | None = None):
    stmt = sa.select(kube_groups).order_by(G.id)
    if status:
        stmt = stmt.where(G.status == status.upper())
    return (await conn.execute(stmt)).all()


# --- UEP ----------------------------------------------------------------------------------


async def open_uep(conn, person_id: int):
    return (
        await conn.execute(
            sa.select(uep_applications).where(U.person_id == person_id, U.status == "DIAJUKAN")
        )
    ).first()


async def add_uep(
    conn,
    *,
    p: Person,
    business: str,
    duration: str,
    needs: str,
    now: datetime,
    conversation_id: int | None,
) -> int:
    return (
        await conn.execute(
            sa.insert(uep_applications)
            .values(
                person_id=p.id,
                household_id=p.household_id,
                conversation_id=conversation_id,
                business=business,
                duration=duration,
                needs=needs,
                status="DIAJUKAN",
                created_at=now,
            )
            .returning(U.id)
        )
    ).scalar_one()


async def uep(conn, app_id: int, *, lock: bool = False):
    stmt = (
        sa.select(uep_applications, people.c.nama, people.c.nik)
        .join(people, people.c.id == U.person_id)
        .where(U.id == app_id)
    )
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=uep_applications)
    return (await conn.execute(stmt)).first()


async def list_uep(conn, status: str | None = None):
    stmt = (
        sa.select(uep_applications, people.c.nama)
        .join(people, people.c.id == U.person_id)
        .order_by(U.id)
    )
    if status:
        stmt = stmt.where(U.status == status.upper())
    return (await conn.execute(stmt)).all()


async def decide_uep(
    conn, *, app_id: int, approve: bool, reason: str | None, now: datetime, actor: str = "cli"
) -> str | None:
    a = await uep(conn, app_id, lock=True)
    if a is None:
        return "not_found"
    res = await conn.execute(
        sa.update(uep_applications)
        .where(U.id == app_id, U.status == "DIAJUKAN")
        .values(status="DISETUJUI" if approve else "DITOLAK", reason=reason, decided_at=now)
    )
    if res.rowcount != 1:
        return "not_submitted"
    await audit(
        conn,
        actor,
        "uep.approve" if approve else "uep.reject",
        f"uep:{app_id}",
        {"reason": reason} if reason else None,
        now=now,
    )
    return None
