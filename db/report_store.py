"""Reports, write side and the lookups the flows and the lifecycle need: create, merge, move
with a conditional UPDATE, history events, photos, lookups by code and id. The caller owns the
transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from db.schema import report_events, report_photos, reports, rt_heads

RC, EC = reports.c, report_events.c


async def by_code(conn, code: str):
    return (await conn.execute(sa.select(reports).where(RC.code == code))).first()


async def by_id(conn, report_id: int):
    return (await conn.execute(sa.select(reports).where(RC.id == report_id))).first()


async def code_taken(conn, code: str) -> bool:
    return await conn.scalar(sa.select(RC.id).where(RC.code == code)) is not None


async def open_on_target(conn, category: str, target_key: str, open_states):
    """The oldest open report of this category on this target, or None."""
    return (
        await conn.execute(
            sa.select(reports)
            .where(RC.category == category, RC.target_key == target_key, RC.state.in_(open_states))
            .order_by(RC.id)
            .limit(1)
        )
    ).first()


async def insert(conn, values: dict[str, Any]) -> int:
    """A new report row (values: the reports columns); its id."""
    return (await conn.execute(sa.insert(reports).values(**values).returning(RC.id))).scalar_one()


async def add_story(conn, report_id: int, text: str, limit: int) -> None:
    """Append a reporter's words to the report's story (a blank line between), cut at `limit`."""
    old = await conn.scalar(sa.select(RC.story).where(RC.id == report_id))
    story = f"{old}\n\n{text}" if old else text
    await conn.execute(sa.update(reports).where(RC.id == report_id).values(story=story[:limit]))


async def touch(conn, report_id: int, now: datetime) -> None:
    await conn.execute(sa.update(reports).where(RC.id == report_id).values(updated_at=now))


async def add_event(
    conn,
    report_id: int,
    at: datetime,
    actor: str,
    action: str,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    outcome: str | None = None,
    note: str | None = None,
    conversation_id: int | None = None,
) -> None:
    await conn.execute(
        sa.insert(report_events).values(
            report_id=report_id,
            at=at,
            actor=actor,
            action=action,
            from_state=from_state,
            to_state=to_state,
            outcome=outcome,
            note=note,
            conversation_id=conversation_id,
        )
    )


async def add_photos(conn, rows: list[dict]) -> None:
    """report_photos rows (report_id, kind, channel, ref, created_at)."""
    if rows:
        await conn.execute(sa.insert(report_photos), rows)


async def move(conn, report, values: dict[str, Any]) -> bool:
    """Set `values` and bump the version, only if the report is still in the state and version
    it was read in (`report`, a row). False when someone else moved it meanwhile."""
    res = await conn.execute(
        sa.update(reports)
        .where(RC.id == report.id, RC.state == report.state, RC.version == report.version)
        .values(version=RC.version + 1, **values)
    )
    return res.rowcount == 1


async def merged_conversations(conn, report_id: int) -> list[int]:
    """Conversations whose duplicate report was merged into this one."""
    return [
        r[0]
        for r in await conn.execute(
            sa.select(EC.conversation_id).where(
                EC.report_id == report_id, EC.action == "merge", EC.conversation_id.is_not(None)
            )
        )
    ]


async def of_conversation(conn, conversation_id: int, limit: int = 10):
    """A resident's own reports (and those theirs was merged into), newest first."""
    merged = sa.select(EC.report_id).where(
        EC.action == "merge", EC.conversation_id == conversation_id
    )
    return (
        await conn.execute(
            sa.select(RC.code, RC.category, RC.state, RC.outcome, RC.created_at)
            .where(sa.or_(RC.reporter_conversation_id == conversation_id, RC.id.in_(merged)))
            .order_by(RC.created_at.desc(), RC.id.desc())
            .limit(limit)
        )
    ).all()


async def in_area_state(conn, kelurahan_code: str, rw: str, rt: str, state: str, limit: int = 10):
    """Reports of one RT in one state, oldest first."""
    return (
        await conn.execute(
            sa.select(reports)
            .where(RC.kelurahan_code == kelurahan_code, RC.rw == rw, RC.rt == rt, RC.state == state)
            .order_by(RC.id)
            .limit(limit)
        )
    ).all()


async def due_in_state(conn, state: str, now: datetime, limit: int = 500):
    """Reports in `state` whose RT answer was due by `now`, oldest first."""
    return (
        await conn.execute(
            sa.select(reports)
            .where(RC.state == state, RC.rt_due_at <= now)
            .order_by(RC.id)
            .limit(limit)
        )
    ).all()


# --- following a report: what its reporter may see (conversations/myreports.py) ----------------


def _visible_to(conversation_id: int):
    """Reports this conversation may follow: it filed them, its duplicate was merged into them,
    or it is the ketua RT (an active head row of this conversation) who filed them."""
    merged = sa.select(EC.report_id).where(
        EC.action == "merge", EC.conversation_id == conversation_id
    )
    head_actors = sa.select(sa.literal("rt:") + sa.cast(rt_heads.c.id, sa.String)).where(
        rt_heads.c.conversation_id == conversation_id, rt_heads.c.status == "AKTIF"
    )
    by_head = sa.select(EC.report_id).where(EC.action == "create", EC.actor.in_(head_actors))
    return sa.or_(
        RC.reporter_conversation_id == conversation_id,
        RC.id.in_(merged),
        RC.id.in_(by_head),
    )


async def followed_by(conn, conversation_id: int, offset: int = 0, limit: int = 8):
    """One page of the reports this conversation may follow, newest first (code, category,
    state, outcome, created_at)."""
    return (
        await conn.execute(
            sa.select(RC.code, RC.category, RC.state, RC.outcome, RC.created_at)
            .where(_visible_to(conversation_id))
            .order_by(RC.created_at.desc(), RC.id.desc())
            .offset(offset)
            .limit(limit)
        )
    ).all()


async def followed_by_code(conn, code: str, conversation_id: int):
    """The report with this code when this conversation may follow it, else None. One
    statement whether the code is unknown or belongs to someone else: the answer and its
    timing are the same."""
    return (
        await conn.execute(
            sa.select(reports).where(RC.code == code, _visible_to(conversation_id)).limit(1)
        )
    ).first()


async def history(conn, report_id: int):
    """A report's events, oldest first (at, actor, action, from_state, to_state, outcome,
    note, conversation_id)."""
    return (
        await conn.execute(
            sa.select(
                EC.at,
                EC.actor,
                EC.action,
                EC.from_state,
                EC.to_state,
                EC.outcome,
                EC.note,
                EC.conversation_id,
            )
            .where(EC.report_id == report_id)
            .order_by(EC.at, EC.id)
        )
    ).all()


async def rt_reminders_due(conn, state: str, now: datetime, until: datetime, limit: int = 500):
    """Reports in `state` whose RT answer falls due after `now` and by `until`, whose ketua RT
    was not reminded yet, oldest first."""
    return (
        await conn.execute(
            sa.select(reports)
            .where(
                RC.state == state,
                RC.rt_due_at > now,
                RC.rt_due_at <= until,
                RC.rt_reminded_at.is_(None),
            )
            .order_by(RC.id)
            .limit(limit)
        )
    ).all()


async def mark_rt_reminded(conn, report_id: int, now: datetime) -> bool:
    """Record the reminder; False when another run already did (it then sends nothing)."""
    res = await conn.execute(
        sa.update(reports)
        .where(RC.id == report_id, RC.rt_reminded_at.is_(None))
        .values(rt_reminded_at=now)
    )
    return res.rowcount == 1


async def made_since(conn, conversation_id: int, since: datetime) -> int:
    """How many reports this conversation made since `since`, merged ones included (the daily
    limit): the `create` and `merge` events that name it."""
    return (
        await conn.scalar(
            sa.select(sa.func.count()).where(
                EC.conversation_id == conversation_id,
                EC.action.in_(("create", "merge")),
                EC.at >= since,
            )
        )
        or 0
    )
