"""The dashboard's home page: how the service is doing (counts only, no resident data)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from db.schema import conversations, inbound_events, outbound_messages

C, I, O = conversations.c, inbound_events.c, outbound_messages.c


async def summary(conn, *, now: datetime, day_start: datetime) -> dict:
    """Conversations (all, active in 24 h), inbound messages today (and failed ones), outbound
    messages by status and conversations by channel."""
    return {
        "conversations": await conn.scalar(sa.select(sa.func.count()).select_from(conversations)),
        "active_24h": await conn.scalar(
            sa.select(sa.func.count()).where(C.last_activity_at > now - timedelta(hours=24))
        ),
        "inbound_today": await conn.scalar(
            sa.select(sa.func.count()).where(I.received_at >= day_start)
        ),
        "inbound_failed": await conn.scalar(
            sa.select(sa.func.count()).where(I.status == "failed", I.received_at >= day_start)
        ),
        # Dead-lettered inbound events (retried until the cap after transient errors), all time.
        "inbound_dead": await conn.scalar(sa.select(sa.func.count()).where(I.status == "dead")),
        # Replies caught mid-request by a crash and resent once at start-up (may be doubled).
        "outbound_resent": await conn.scalar(sa.select(sa.func.count()).where(O.interrupted >= 1)),
        "outbound": [
            tuple(r)
            for r in await conn.execute(
                sa.select(O.status, sa.func.count()).group_by(O.status).order_by(O.status)
            )
        ],
        "channels": [
            tuple(r)
            for r in await conn.execute(
                sa.select(C.channel, sa.func.count()).group_by(C.channel).order_by(C.channel)
            )
        ],
    }
