"""The staff's read side of handoff tickets (web/inbox.py): the inbox tabs, their counts, one
ticket with its messages and what the resident wrote before it. `kelurahan` (an operator's)
limits to one kelurahan; None is city-wide. Tickets are written by the handoff service."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from db.schema import (
    conversations,
    households,
    inbound_events,
    staff_users,
    ticket_messages,
    tickets,
)

T, M = tickets.c, ticket_messages.c


def _scope(q, kelurahan: str | None):
    return q.where(T.kelurahan_code == kelurahan) if kelurahan is not None else q


async def tab_counts(
    conn, *, kelurahan: str | None, staff_id: int, now: datetime
) -> dict[str, int]:
    """Open tickets: new (nobody assigned), mine, all, overdue (no first answer, past due)."""
    base = _scope(sa.select(sa.func.count()).select_from(tickets), kelurahan)
    return {
        "new": await conn.scalar(base.where(T.status == "open", T.assigned_to.is_(None))),
        "mine": await conn.scalar(base.where(T.status == "open", T.assigned_to == staff_id)),
        "all": await conn.scalar(base.where(T.status == "open")),
        "overdue": await conn.scalar(
            base.where(T.status == "open", T.first_response_at.is_(None), T.due_at < now)
        ),
    }


async def tab(
    conn, name: str, *, kelurahan: str | None, staff_id: int, now: datetime, limit: int = 200
):
    """The tickets of one tab (TABS), with the assignee's name and the channel: open ones
    oldest first, closed ones newest first."""
    assignee = staff_users.alias("assignee")
    q = _scope(
        sa.select(
            T.id,
            T.reason,
            T.kelurahan_code,
            T.opened_at,
            T.due_at,
            T.first_response_at,
            T.last_message_at,
            T.supervisor_flag_at,
            T.head_flag_at,
            T.closed_at,
            T.closed_by,
            T.rating,
            T.status,
            assignee.c.name.label("assignee"),
            conversations.c.channel,
        )
        .join(conversations, conversations.c.id == T.conversation_id)
        .outerjoin(assignee, assignee.c.id == T.assigned_to),
        kelurahan,
    )
    q = {
        "new": q.where(T.status == "open", T.assigned_to.is_(None)).order_by(T.opened_at),
        "mine": q.where(T.status == "open", T.assigned_to == staff_id).order_by(T.opened_at),
        "all": q.where(T.status == "open").order_by(T.opened_at),
        "overdue": q.where(
            T.status == "open", T.first_response_at.is_(None), T.due_at < now
        ).order_by(T.opened_at),
        "closed": q.where(T.status == "closed").order_by(T.closed_at.desc()),
    }[name].limit(limit)
    return (await conn.execute(q)).all()


async def first_resident_messages(conn, ticket_ids: list[int]) -> dict[int, str]:
    """{ticket id: the resident's first message} (the inbox's preview)."""
    if not ticket_ids:
        return {}
    sub = (
        sa.select(M.ticket_id, sa.func.min(M.id).label("mid"))
        .where(M.ticket_id.in_(ticket_ids), M.kind == "resident")
        .group_by(M.ticket_id)
        .subquery()
    )
    return {
        tid: body
        for tid, body in await conn.execute(
            sa.select(sub.c.ticket_id, M.body).join(sub, sub.c.mid == M.id)
        )
    }


async def ticket(conn, ticket_id: int):
    """The ticket with its conversation's channel, locale, household_id and user_key, or None."""
    return (
        await conn.execute(
            sa.select(
                tickets,
                conversations.c.channel,
                conversations.c.locale,
                conversations.c.household_id,
                conversations.c.user_key,
            )
            .join(conversations, conversations.c.id == T.conversation_id)
            .where(T.id == ticket_id)
        )
    ).first()


async def messages(conn, ticket_id: int):
    """(kind, body, created_at, name of the staff member or None), in order."""
    return (
        await conn.execute(
            sa.select(M.kind, M.body, M.created_at, staff_users.c.name)
            .outerjoin(staff_users, staff_users.c.id == M.staff_id)
            .where(M.ticket_id == ticket_id)
            .order_by(M.id)
        )
    ).all()


async def inbound_before(conn, user_key: str, before: datetime, limit: int = 6):
    """The resident's last `limit` inbound events before `before`, newest first."""
    I = inbound_events.c
    return (
        await conn.execute(
            sa.select(I.payload, I.kind, I.received_at)
            .where(I.user_key == user_key, I.received_at < before)
            .order_by(I.id.desc())
            .limit(limit)
        )
    ).all()


async def household_place(conn, household_id: int):
    """(kelurahan_code, rw, rt) of a household, or None."""
    H = households.c
    return (
        await conn.execute(sa.select(H.kelurahan_code, H.rw, H.rt).where(H.id == household_id))
    ).first()
