"""The staff's read side of KUBE groups and UEP applications (web/proposals.py): lists by
status, counts, one application. `kelurahan` (an operator's) limits to one kelurahan; None is
city-wide. Decisions are written by the kube/uep services (db/kube_store.py)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from db.schema import households, kube_groups, people, training_sessions, uep_applications
from domain import kube as K

G, U, H = kube_groups.c, uep_applications.c, households.c


async def open_counts(conn, kelurahan: str | None, now: datetime) -> dict[str, int]:
    """KUBE groups and UEP applications waiting for a decision, trainings still to start."""
    kq = sa.select(sa.func.count()).select_from(kube_groups).where(G.status == K.SUBMITTED)
    uq = (
        sa.select(sa.func.count())
        .select_from(uep_applications.join(households, H.id == U.household_id))
        .where(U.status == "DIAJUKAN")
    )
    if kelurahan is not None:
        kq = kq.where(G.kelurahan_code == kelurahan)
        uq = uq.where(H.kelurahan_code == kelurahan)
    return {
        "kube": await conn.scalar(kq),
        "uep": await conn.scalar(uq),
        "trainings": await conn.scalar(
            sa.select(sa.func.count())
            .select_from(training_sessions)
            .where(training_sessions.c.starts_at > now)
        ),
    }


def _kube_scope(q, kelurahan: str | None):
    return q.where(G.kelurahan_code == kelurahan) if kelurahan is not None else q


async def kube_groups_with_status(conn, status: str, kelurahan: str | None, limit: int):
    return (
        await conn.execute(
            _kube_scope(sa.select(kube_groups), kelurahan)
            .where(G.status == status)
            .order_by(G.submitted_at, G.id)
            .limit(limit)
        )
    ).all()


async def kube_status_counts(conn, kelurahan: str | None) -> dict[str, int]:
    return dict(
        (
            await conn.execute(
                _kube_scope(sa.select(G.status, sa.func.count()).group_by(G.status), kelurahan)
            )
        ).all()
    )


def _uep_select(kelurahan: str | None):
    q = (
        sa.select(uep_applications, people.c.nama, people.c.nik, H.kelurahan_code)
        .join(people, people.c.id == U.person_id)
        .join(households, H.id == U.household_id)
    )
    return q.where(H.kelurahan_code == kelurahan) if kelurahan is not None else q


async def uep_with_status(conn, status: str, kelurahan: str | None, limit: int):
    """Applications with the applicant's name and NIK and their household's kelurahan."""
    return (
        await conn.execute(
            _uep_select(kelurahan)
            .where(U.status == status)
            .order_by(U.created_at, U.id)
            .limit(limit)
        )
    ).all()


async def uep_status_counts(conn, kelurahan: str | None) -> dict[str, int]:
    cq = (
        sa.select(U.status, sa.func.count())
        .select_from(uep_applications.join(households, H.id == U.household_id))
        .group_by(U.status)
    )
    if kelurahan is not None:
        cq = cq.where(H.kelurahan_code == kelurahan)
    return dict((await conn.execute(cq)).all())


async def uep_application(conn, app_id: int, kelurahan: str | None):
    """One application (as in the lists), or None (also when outside `kelurahan`)."""
    return (await conn.execute(_uep_select(kelurahan).where(U.id == app_id))).first()
