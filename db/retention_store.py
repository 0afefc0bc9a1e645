"""Retention in the database (services/retention.py decides when and logs what went): the
deletes and redactions, each returning how many rows it touched. The caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from db import contact_store, media_store, nlu_store
from db.schema import (
    check_attempts,
    conversations,
    inbound_events,
    outbound_messages,
    report_events,
    report_photos,
    reports,
    ticket_messages,
    tickets,
    wa_statuses,
)


async def purge_records(conn, cutoff: datetime) -> dict[str, int]:
    """Message contents, delivery statuses, failed-check counters, the understanding layer's
    misses, the messages of tickets closed and the personal fields of reports closed before
    `cutoff`. Rows touched, by table."""
    I, O, T, M, R = inbound_events.c, outbound_messages.c, tickets.c, ticket_messages.c, reports.c
    counts: dict[str, int] = {}

    async def run(name: str, stmt) -> None:
        counts[name] = (await conn.execute(stmt)).rowcount or 0

    old_in = sa.select(I.id).where(I.received_at < cutoff, I.status != "pending")
    await conn.execute(
        sa.update(outbound_messages)
        .where(O.inbound_event_id.in_(old_in))
        .values(inbound_event_id=None)
    )
    await run(
        "outbound_messages",
        sa.delete(outbound_messages).where(O.created_at < cutoff, O.status != "sending"),
    )
    await run(
        "inbound_events",
        sa.delete(inbound_events).where(I.received_at < cutoff, I.status != "pending"),
    )
    await run("wa_statuses", sa.delete(wa_statuses).where(wa_statuses.c.received_at < cutoff))
    await run("check_attempts", sa.delete(check_attempts).where(check_attempts.c.at < cutoff))
    counts["nlu_misses"] = await nlu_store.purge_before(conn, cutoff)

    closed_tickets = sa.select(T.id).where(T.status == "closed", T.closed_at < cutoff)
    await run("ticket_messages", sa.delete(ticket_messages).where(M.ticket_id.in_(closed_tickets)))

    closed = sa.and_(R.state == "SELESAI", R.updated_at < cutoff)
    closed_ids = sa.select(R.id).where(closed)
    await run(
        "report_photos", sa.delete(report_photos).where(report_photos.c.report_id.in_(closed_ids))
    )
    await conn.execute(
        sa.update(report_events)
        .where(report_events.c.report_id.in_(closed_ids), report_events.c.note.is_not(None))
        .values(note=None)
    )
    await run(
        "reports",
        sa.update(reports)
        .where(
            closed,
            sa.or_(
                R.target_name.is_not(None),
                R.target_address.is_not(None),
                R.target_nik.is_not(None),
                R.target_kk.is_not(None),
                R.detail.is_not(None),
                R.story.is_not(None),
                R.lat.is_not(None),
            ),
        )
        .values(
            target_name=None,
            target_address=None,
            target_nik=None,
            target_kk=None,
            detail=None,
            story=None,
            lat=None,
            lon=None,
        ),
    )
    return counts


async def purge_contacts(conn, cutoff: datetime) -> int:
    """Phone numbers residents gave for a matter, given or last confirmed before `cutoff`."""
    return await contact_store.purge_before(conn, cutoff)


async def purge_media(conn, cutoff: datetime) -> list[str]:
    """Delete the rows of images residents sent before `cutoff` (every channel), except those an
    open report still shows. Returns the stored files to delete: those no newer image shares."""
    return await media_store.purge_before(conn, cutoff)


async def forget_idle_conversations(conn, cutoff: datetime) -> int:
    """Conversations idle since before `cutoff`, with no open ticket or report, forget their
    state and their match. How many did."""
    C, T, R = conversations.c, tickets.c, reports.c
    idle = sa.and_(
        C.last_activity_at < cutoff,
        C.owner == "bot",
        sa.or_(C.household_id.is_not(None), C.flow != "menu", C.step != "main"),
    )
    busy_ticket = sa.select(T.conversation_id).where(T.status == "open")
    busy_report = sa.select(R.reporter_conversation_id).where(
        R.state != "SELESAI", R.reporter_conversation_id.is_not(None)
    )
    res = await conn.execute(
        sa.update(conversations)
        .where(idle, C.id.not_in(busy_ticket), C.id.not_in(busy_report))
        .values(data={}, household_id=None, flow="menu", step="main", misunderstood=0)
    )
    return res.rowcount or 0
