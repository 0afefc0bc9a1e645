"""The staff's read side of data-error reports (dashboard and CLI): the queue with filters and
paging, one report's reporter, history and photos, the head of a household, the reports ready
for the SIKS-NG export. Moves are written by services/reports.py."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from db import media_store
from db.schema import conversations, households, people, report_events, reports
from db.schema import report_photos as photos
from domain import reports as R

RC, EC, PC = reports.c, report_events.c, photos.c


# ------------------------------------------------------------------------ the queue


def _where(
    *,
    state: str | None,
    open_only: bool,
    category: str | None,
    kelurahan: str | None,
    kelurahan_in: list[str] | None,
    due_before: datetime | None,
    due_from: datetime | None,
    scope: str | None,
) -> list:
    where = []
    if open_only:
        where.append(RC.state != R.SELESAI)
    if state:
        where.append(RC.state == state)
    if category:
        where.append(RC.category == category)
    if kelurahan:
        where.append(RC.kelurahan_code == kelurahan)
    elif kelurahan_in is not None:
        where.append(RC.kelurahan_code.in_(kelurahan_in))
    if due_from is not None:
        where.append(RC.due_at >= due_from)
    if due_before is not None:
        where.append(RC.due_at < due_before)
    if scope is not None:  # an operator's kelurahan, whatever the filters say
        where.append(RC.kelurahan_code == scope)
    return where


async def queue(
    conn,
    *,
    state: str | None = None,
    open_only: bool = False,
    category: str | None = None,
    kelurahan: str | None = None,
    kelurahan_in: list[str] | None = None,
    due_before: datetime | None = None,
    due_from: datetime | None = None,
    scope: str | None = None,
    limit: int,
    offset: int = 0,
):
    """(total, one page of reports by due date) for the dashboard's queue. Each row has
    `simulated`: the report was made in the dashboard's simulator (a test)."""
    where = _where(
        state=state,
        open_only=open_only,
        category=category,
        kelurahan=kelurahan,
        kelurahan_in=kelurahan_in,
        due_before=due_before,
        due_from=due_from,
        scope=scope,
    )
    q = sa.select(
        RC.code,
        RC.category,
        RC.state,
        RC.outcome,
        RC.kelurahan_code,
        RC.rw,
        RC.rt,
        RC.target_name,
        RC.household_id,
        RC.reason,
        RC.detail,
        RC.created_at,
        RC.due_at,
        RC.rt_opinion,
        sa.exists()
        .where(conversations.c.id == RC.reporter_conversation_id, conversations.c.channel == "web")
        .label("simulated"),
    ).where(*where)
    total = await conn.scalar(sa.select(sa.func.count()).select_from(reports).where(*where))
    rows = (await conn.execute(q.order_by(RC.due_at, RC.id).limit(limit).offset(offset))).all()
    return total, rows


async def all_reports(
    conn,
    *,
    state: str | None = None,
    open_only: bool = False,
    category: str | None = None,
    kelurahan: str | None = None,
    due_before: datetime | None = None,
):
    """Whole report rows by due date (the CLI's list)."""
    where = _where(
        state=state,
        open_only=open_only,
        category=category,
        kelurahan=kelurahan,
        kelurahan_in=None,
        due_before=due_before,
        due_from=None,
        scope=None,
    )
    return (await conn.execute(sa.select(reports).where(*where).order_by(RC.due_at, RC.id))).all()


# ------------------------------------------------------------------------ one report


async def reporter(conn, report_id: int):
    """(channel, locale) of the reporter's conversation and (nama, nik) of the matched person;
    each None when missing."""
    return (
        await conn.execute(
            sa.select(conversations.c.channel, conversations.c.locale, people.c.nama, people.c.nik)
            .select_from(reports)
            .outerjoin(conversations, conversations.c.id == RC.reporter_conversation_id)
            .outerjoin(people, people.c.id == RC.reporter_person_id)
            .where(RC.id == report_id)
        )
    ).first()


async def events(conn, report_id: int):
    """The report's history (report_events rows), oldest first."""
    return (
        await conn.execute(
            sa.select(report_events).where(EC.report_id == report_id).order_by(EC.id)
        )
    ).all()


async def head_of_household(conn, household_id: int):
    """(nama, nik, no_kk, alamat) of the household's head (else its first member), or None."""
    return (
        await conn.execute(
            sa.select(people.c.nama, people.c.nik, households.c.no_kk, households.c.alamat)
            .join(households, households.c.id == people.c.household_id)
            .where(people.c.household_id == household_id)
            .order_by(people.c.hubungan != "KEPALA_KELUARGA", people.c.id)
            .limit(1)
        )
    ).first()


# ------------------------------------------------------------------------ photos
# The one place that knows where a photo's file is (the channels' media tables).


def _photos_with_path(*columns):
    """The photos' columns plus the stored file of each (table `media`, any channel)."""
    return sa.select(*columns, media_store.stored_path_of(PC.ref).label("path")).select_from(photos)


async def report_photos(conn, report_id: int):
    """(id, kind, channel, ref, path) of the report's photos in order; path is None until the
    file is stored."""
    return (
        await conn.execute(
            _photos_with_path(PC.id, PC.kind, PC.channel, PC.ref)
            .where(PC.report_id == report_id)
            .order_by(PC.id)
        )
    ).all()


async def photo_path(conn, report_id: int, photo_id: int) -> str | None:
    """The stored file of one of the report's photos, or None."""
    row = (
        await conn.execute(
            _photos_with_path(PC.id).where(PC.id == photo_id, PC.report_id == report_id).limit(1)
        )
    ).first()
    return row.path if row is not None else None


# ------------------------------------------------------------------------ export


async def verified_reports(conn):
    """Reports Dinsos verified: forwarded, or closed as accepted; by place."""
    return (
        await conn.execute(
            sa.select(reports)
            .where(
                sa.or_(
                    RC.state == R.DITERUSKAN,
                    sa.and_(RC.state == R.SELESAI, RC.outcome == R.DISETUJUI),
                )
            )
            .order_by(RC.kelurahan_code, RC.rw, RC.rt, RC.id)
        )
    ).all()
