"""The numbers behind the dashboard's Statistik page (web/stats.py).

The simulator's conversations (channel `SIM`) are test traffic: left out of every number except
the channel counts. `kelurahan` (an operator's) limits a number to one kelurahan where the data
has one; None is city-wide.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from db.schema import (
    conversations,
    households,
    inbound_events,
    people,
    reports,
    tickets,
    training_registrations,
    training_sessions,
)

SIM = "web"  # the simulator's channel: never counted as residents
C = conversations.c


def _real():
    """Conversations that are residents, not the simulator."""
    return C.channel != SIM


async def report_counts(conn, kelurahan: str | None) -> dict[str, dict[str, int]]:
    """{kelurahan code: {state: reports}}."""
    Rc = reports.c
    q = (
        sa.select(Rc.kelurahan_code, Rc.state, sa.func.count())
        .select_from(reports.outerjoin(conversations, C.id == Rc.reporter_conversation_id))
        .where(sa.or_(C.id.is_(None), _real()))
        .group_by(Rc.kelurahan_code, Rc.state)
    )
    if kelurahan is not None:
        q = q.where(Rc.kelurahan_code == kelurahan)
    by_kel: dict[str, dict[str, int]] = {}
    for kel, state, n in await conn.execute(q):
        by_kel.setdefault(kel, {})[state] = n
    return by_kel


async def ticket_times(conn, kelurahan: str | None, since: datetime):
    """Every resident ticket opened since `since`, whatever its state: (opened_at, due_at,
    first_response_at, status, closed_by, closed_at)."""
    T = tickets.c
    q = (
        sa.select(T.opened_at, T.due_at, T.first_response_at, T.status, T.closed_by, T.closed_at)
        .join(conversations, C.id == T.conversation_id)
        .where(T.opened_at >= since, _real())
    )
    if kelurahan is not None:
        q = q.where(T.kelurahan_code == kelurahan)
    return (await conn.execute(q)).all()


async def desil_counts(conn, kelurahan: str | None) -> dict[int, int]:
    """{desil: distinct households matched in the chat}."""
    H = households.c
    q = (
        sa.select(H.desil, sa.func.count(sa.distinct(H.id)))
        .select_from(conversations.join(households, H.id == C.household_id))
        .where(_real())
        .group_by(H.desil)
        .order_by(H.desil)
    )
    if kelurahan is not None:
        q = q.where(H.kelurahan_code == kelurahan)
    return {d: n for d, n in await conn.execute(q)}


async def training_counts(conn, kelurahan: str | None):
    """(session id, title, starts_at, quota, registration status, registrations), not counting
    cancelled registrations; an operator's through the registrant's household."""
    S, G = training_sessions.c, training_registrations.c
    q = (
        sa.select(S.id, S.title, S.starts_at, S.quota, G.status, sa.func.count())
        .select_from(
            training_registrations.join(training_sessions, S.id == G.session_id).outerjoin(
                conversations, C.id == G.conversation_id
            )
        )
        .where(G.status != "CANCELLED", sa.or_(C.id.is_(None), _real()))
        .group_by(S.id, S.title, S.starts_at, S.quota, G.status)
    )
    if kelurahan is not None:
        q = (
            q.join(people, people.c.id == G.person_id)
            .join(households, households.c.id == people.c.household_id)
            .where(households.c.kelurahan_code == kelurahan)
        )
    return (await conn.execute(q)).all()


async def channel_counts(conn, since: datetime) -> tuple[dict[str, int], dict[str, int]]:
    """({channel: conversations}, {channel: inbound messages since `since`}), city-wide."""
    convs = {
        ch: n
        for ch, n in await conn.execute(sa.select(C.channel, sa.func.count()).group_by(C.channel))
    }
    I = inbound_events.c
    inbound = {
        ch: n
        for ch, n in await conn.execute(
            sa.select(I.channel, sa.func.count()).where(I.received_at >= since).group_by(I.channel)
        )
    }
    return convs, inbound
