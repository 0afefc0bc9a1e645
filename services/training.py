"""Skills training, what staff and the scheduler do: the reminders 3 and 1 days before the
start, the seat allocation of DTSEN-priority sessions at their deadline, and the message to a
resident who got a place (a waitlist promotion). The caller owns the transaction; messages are
queued in it and their outbox ids returned. The resident's side is conversations/training.py.
"""

from __future__ import annotations

from core.i18n import LOCALES, Texts, texts
from core.notify import notify
from db import training_store as store
from domain import training as T
from domain.clock import JAKARTA


async def status_text(t: Texts, conn, reg, s) -> str:
    """What a registration means for the resident, with its code (also used by notifications)."""
    if reg.status == T.CONFIRMED:
        return t._(
            "You have a place in {title}.\nYour registration code: {code}\n"
            "Show it at the place: {place}, {when}.\n"
            "We will remind you 3 days and 1 day before.",
            title=s.title,
            code=reg.code,
            place=s.place,
            when=t.datetime(s.starts_at),
        )
    if reg.status == T.WAITLIST:
        pos = await store.waitlist_position(conn, reg, s)
        return t._(
            "{title} is full. You are number {pos} on the waiting list "
            "(code {code}). If a place opens, we will tell you here.",
            title=s.title,
            pos=pos,
            code=reg.code,
        )
    if reg.status == T.PENDING:
        return t._(
            "You are registered for {title} (code {code}).\n"
            "Seats are given after the deadline ({date}): families with the lowest desil "
            "first, then by time of registration. We will tell you the result here.",
            title=s.title,
            code=reg.code,
            date=t.date(s.deadline),
        )
    return t._("This registration was cancelled.")


async def notify_promoted(conn, reg, now, deps) -> list[int]:
    s = await store.session(conn, reg.session_id)
    reg = await store.registration_by_id(conn, reg.id)
    if reg.conversation_id is None:
        return []
    text = {}
    for loc in LOCALES:
        t = texts(loc)
        text[loc] = t._("Good news: a place opened up.\n") + await status_text(t, conn, reg, s)
    return await notify(
        conn,
        reg.conversation_id,
        lambda t: text[t.locale],
        now=now,
        default_locale=deps.default_locale,
    )


# --- scheduled jobs ---------------------------------------------------------------------------


async def remind_job(conn, now, deps) -> list[int]:
    """Reminders 3 days and 1 day before the start (from 08.00 WIB). A reminder is marked in the
    same transaction, and only the UPDATE that marks it sends it: idempotent across runs and
    processes."""
    rows = await store.reminders_due(conn, now)
    ids: list[int] = []
    for r in rows:
        due = T.reminder_due(r.starts_at, now, r.reminded_3d_at is not None, False)
        if due is None:
            continue
        # A 3-day reminder not sent yet is skipped: the 1-day reminder says it all.
        marked = await store.mark_reminded(
            conn, r.id, due, now, skip_3d=due == "1d" and r.reminded_3d_at is None
        )
        if not marked or r.conversation_id is None:
            continue
        days = (T.local_dates(r.starts_at, 1)[0] - now.astimezone(JAKARTA).date()).days
        ids += await notify(
            conn,
            r.conversation_id,
            lambda t, r=r, days=days: t._(
                "Reminder: your training {title} starts in {days} days, on {when}, at {place}.\n"
                "Your registration code: {code}",
                title=r.title,
                days=days,
                when=t.datetime(r.starts_at),
                place=r.place,
                code=r.code,
            ),
            now=now,
            default_locale=deps.default_locale,
        )
    return ids


async def allocate_job(conn, now, deps) -> list[int]:
    """DTSEN-priority sessions whose deadline is over: seats by desil, then time of registration;
    everyone is told the result."""
    due = [
        s
        for s in await store.unallocated_priority_sessions(conn)
        if T.allocation_due(s.deadline, now)
    ]
    ids: list[int] = []
    for s0 in due:
        s = await store.session(conn, s0.id, lock=True)
        if not await store.claim_allocation(conn, s.id, now):
            continue
        pending = await store.pending_registrations(conn, s.id)
        result = T.allocate([T.Applicant(r.id, r.desil, r.registered_at) for r in pending], s.quota)
        confirmed = 0
        for rid, status, _pos in result:
            await store.set_status(conn, rid, status, now)
            confirmed += status == T.CONFIRMED
        await store.set_seats_taken(conn, s.id, confirmed)
        s = await store.session(conn, s.id)
        for rid, _status, _pos in result:
            reg = await store.registration_by_id(conn, rid)
            if reg.conversation_id is None:
                continue
            texts_by_locale = {}
            for loc in LOCALES:
                t = texts(loc)
                texts_by_locale[loc] = t._(
                    "The seats for {title} have been allocated.\n", title=s.title
                ) + await status_text(t, conn, reg, s)
            ids += await notify(
                conn,
                reg.conversation_id,
                lambda t, m=texts_by_locale: m[t.locale],
                now=now,
                default_locale=deps.default_locale,
            )
    return ids
