"""What /metrics reads from the database at scrape time (web/observe.py caches it for a few
seconds): the backlog of the outbox and the inbox, open tickets and reports past their SLA.
Counts and ages only, no resident data.

Each query reads only rows in a waiting state through an index whose first column is that
state (ix_outbound_messages_status_next, ix_inbound_events_status, ix_tickets_status_opened,
ix_reports_state_due): the millions of `sent` / `done` rows are never counted, so a scrape costs
about the number of waiting rows, a handful in a healthy service.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from db.schema import UTCDateTime, inbound_events, outbound_messages, reports, tickets
from domain.reports import OPEN_STATES

I, O, T, R = inbound_events.c, outbound_messages.c, tickets.c, reports.c

# The outbox's states that wait for something; sent, failed and stopped are final.
OUTBOX_WAITING = ("queued", "sending", "held")
INBOX_STATES = ("pending", "dead")

_outbox = (
    sa.select(O.channel, O.status, sa.func.count(), sa.func.min(O.created_at, type_=UTCDateTime()))
    .where(O.status.in_(OUTBOX_WAITING))
    .group_by(O.channel, O.status)
)
_inbox = (
    sa.select(I.status, sa.func.count(), sa.func.min(I.received_at, type_=UTCDateTime()))
    .where(I.status.in_(INBOX_STATES))
    .group_by(I.status)
)
_tickets_open = sa.select(sa.func.count()).where(T.status == "open")
_tickets_overdue = sa.select(sa.func.count()).where(
    T.status == "open", T.first_response_at.is_(None), T.due_at < sa.bindparam("now")
)
_reports_open = sa.select(sa.func.count()).where(R.state.in_(OPEN_STATES))
_reports_late = sa.select(sa.func.count()).where(
    R.state.in_(OPEN_STATES), R.due_at <= sa.bindparam("now")
)


def _age(now: datetime, oldest: datetime | None) -> float:
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


async def snapshot(conn, now: datetime) -> dict:
    """{"outbox": [(channel, state, count, oldest age s)], "inbox": {state: (count, oldest age
    s)}, "tickets_open", "tickets_overdue", "reports_open", "reports_past_sla"}."""
    outbox = [
        (channel, status, n, _age(now, oldest))
        for channel, status, n, oldest in (await conn.execute(_outbox)).all()
    ]
    inbox = {status: (n, _age(now, oldest)) for status, n, oldest in await conn.execute(_inbox)}
    return {
        "outbox": outbox,
        "inbox": {s: inbox.get(s, (0, 0.0)) for s in INBOX_STATES},
        "tickets_open": await conn.scalar(_tickets_open),
        "tickets_overdue": await conn.scalar(_tickets_overdue, {"now": now}),
        "reports_open": await conn.scalar(_reports_open),
        "reports_past_sla": await conn.scalar(_reports_late, {"now": now}),
    }
