"""Handoff tickets and their messages. The caller owns the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from db.schema import ticket_messages, tickets

T = tickets.c


async def create(
    conn,
    *,
    conversation_id: int,
    reason: str,
    kelurahan_code: str | None,
    now: datetime,
    due: datetime,
) -> int:
    """A new open ticket; its id."""
    return (
        await conn.execute(
            sa.insert(tickets)
            .values(
                conversation_id=conversation_id,
                status="open",
                reason=reason,
                kelurahan_code=kelurahan_code,
                assigned_to=None,
                opened_at=now,
                due_at=due,
                last_message_at=now,
            )
            .returning(T.id)
        )
    ).scalar_one()


async def add_message(
    conn, tid: int, kind: str, body: str, now: datetime, staff_id: int | None = None
) -> None:
    await conn.execute(
        sa.insert(ticket_messages).values(
            ticket_id=tid, kind=kind, staff_id=staff_id, body=body, created_at=now
        )
    )


async def open_of_conversation(conn, conversation_id: int):
    """The newest open ticket of this conversation (a row with `id`), or None."""
    return (
        await conn.execute(
            sa.select(T.id)
            .where(T.conversation_id == conversation_id, T.status == "open")
            .order_by(T.id.desc())
            .limit(1)
        )
    ).first()


async def get(conn, tid: int, *, lock: bool = False):
    stmt = sa.select(tickets).where(T.id == tid)
    return (await conn.execute(stmt.with_for_update() if lock else stmt)).first()


async def exists(conn, tid: int) -> bool:
    return (await conn.execute(sa.select(T.id).where(T.id == tid))).first() is not None


async def update(conn, tid: int, values: dict[str, Any]) -> None:
    await conn.execute(sa.update(tickets).where(T.id == tid).values(**values))


async def close(conn, tid: int, now: datetime, *, by: str) -> None:
    """Close the ticket if it is still open."""
    await conn.execute(
        sa.update(tickets)
        .where(T.id == tid, T.status == "open")
        .values(status="closed", closed_at=now, closed_by=by)
    )


async def rate(conn, tid: int, value: int) -> None:
    """The resident's rating; only the first one counts."""
    await conn.execute(
        sa.update(tickets).where(T.id == tid, T.rating.is_(None)).values(rating=value)
    )


async def unanswered(conn):
    """Open tickets without a first answer and not yet flagged to the head of office."""
    return (
        await conn.execute(
            sa.select(T.id, T.opened_at, T.supervisor_flag_at, T.head_flag_at).where(
                T.status == "open", T.first_response_at.is_(None), T.head_flag_at.is_(None)
            )
        )
    ).all()


async def opened_since(conn, conversation_id: int, since: datetime) -> int:
    """How many tickets this conversation opened since `since` (the daily limit)."""
    return (
        await conn.scalar(
            sa.select(sa.func.count()).where(
                T.conversation_id == conversation_id, T.opened_at >= since
            )
        )
        or 0
    )
