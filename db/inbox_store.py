"""The inbox and the per-conversation processing in the database (core/inbox.py's hot path).

Statements are built once, at import: building them per event cost about a tenth of the CPU.
The caller (core.inbox.Service) owns the transaction; one inbound event costs the same
statements as before the stores existed: lock the conversation, read the pending events, update
the state, mark the event done, insert the replies.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from db.schema import conversations, inbound_events, outbound_messages

C = conversations.c
I = inbound_events.c

# INSERT ... ON CONFLICT DO NOTHING RETURNING id, per dialect: a redelivery returns no row.
_ins_event = {
    name: mod.insert(inbound_events).on_conflict_do_nothing().returning(I.id)
    for name, mod in (("postgresql", postgresql), ("sqlite", sqlite))
}
_sel_conv = sa.select(conversations).where(C.user_key == sa.bindparam("k")).with_for_update()
# The next pending event, and whether another one waits behind it.
_sel_pending = (
    sa.select(inbound_events)
    .where(I.user_key == sa.bindparam("k"), I.status == "pending")
    .order_by(I.id)
    .limit(2)
)
STATE_COLUMNS = (
    "address",
    "locale",
    "flow",
    "step",
    "data",
    "owner",
    "role",
    "household_id",
    "consent_version",
    "misunderstood",
    "last_activity_at",
)
_upd_conv = (
    sa.update(conversations)
    .where(C.id == sa.bindparam("cid"))
    .values({k: sa.bindparam(f"v_{k}") for k in STATE_COLUMNS})
)
_upd_done = (
    sa.update(inbound_events)
    .where(I.id == sa.bindparam("eid"))
    .values(status="done", processed_at=sa.bindparam("at"))
)
_upd_failed = (
    sa.update(inbound_events)
    .where(I.id == sa.bindparam("eid"))
    .values(status="failed", processed_at=sa.bindparam("at"), error=sa.bindparam("err"))
)
_upd_payload = (
    sa.update(inbound_events).where(I.id == sa.bindparam("eid")).values(payload=sa.bindparam("p"))
)
_ins_out = sa.insert(outbound_messages).returning(
    outbound_messages.c.id, sort_by_parameter_order=True
)
_ins_one = sa.insert(outbound_messages).returning(outbound_messages.c.id)
_sel_pending_keys = sa.select(I.user_key).where(I.status == "pending").distinct()
_upd_attempt = (
    sa.update(inbound_events)
    .where(I.id == sa.bindparam("eid"), I.status == "pending")
    .values(attempts=I.attempts + 1, error=sa.bindparam("err"))
    .returning(I.attempts)
)
_upd_dead = (
    sa.update(inbound_events)
    .where(I.id == sa.bindparam("eid"))
    .values(status="dead", processed_at=sa.bindparam("at"), error=sa.bindparam("err"))
)
_count_dead = sa.select(sa.func.count()).where(I.status == "dead")
_sel_dead = (
    sa.select(I.id, I.channel, I.kind, I.attempts, I.error, I.received_at, I.processed_at)
    .where(I.status == "dead")
    .order_by(I.id.desc())
    .limit(sa.bindparam("n"))
)


# The outbox columns a reply row carries (core.inbox builds them).
REPLY_COLUMNS = (
    "channel",
    "user_key",
    "address",
    "inbound_event_id",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "lease_owner",  # the worker that sends it (None: whichever polls it; docs/scaling.md)
    "lease_until",
)


def _finish_pg(reply: bool):
    """PostgreSQL: the writes that end an event's processing in ONE statement (data-modifying
    CTEs): the event done, the conversation's state, and its one reply inserted (RETURNING its
    id). Three round trips become one."""
    done = (
        sa.update(inbound_events)
        .where(I.id == sa.bindparam("eid"))
        .values(status=sa.bindparam("e_status"), processed_at=sa.bindparam("at"))
    )
    conv = (
        sa.update(conversations)
        .where(C.id == sa.bindparam("cid"))
        .values({k: sa.bindparam(f"v_{k}") for k in STATE_COLUMNS})
    )
    if not reply:
        return conv.add_cte(done.cte("done_event"))
    return (
        sa.insert(outbound_messages)
        .values({k: sa.bindparam(f"o_{k}") for k in REPLY_COLUMNS})
        .add_cte(done.cte("done_event"))
        .add_cte(conv.cte("saved_state"))
        .returning(outbound_messages.c.id)
    )


_finish = {r: _finish_pg(r) for r in (False, True)}


def transient(exc: BaseException) -> bool:
    """Whether a processing error is the database's or the network's (a lost or killed
    connection, a locked SQLite file, a timeout) rather than the event's: worth retrying."""
    if isinstance(exc, sa.exc.DBAPIError):
        return bool(exc.connection_invalidated) or isinstance(
            exc, sa.exc.OperationalError | sa.exc.InterfaceError
        )
    return isinstance(exc, OSError | TimeoutError | sa.exc.TimeoutError)


# --- inbox -----------------------------------------------------------------------------------


def event_insert(conn):
    """The prebuilt insert-ignoring statement for this connection's dialect (one per batch)."""
    return _ins_event["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]


def _event_row(ev, now: datetime, status: str) -> dict:
    return {
        "channel": ev.channel,
        "external_id": ev.external_id,
        "user_key": ev.user_key,
        "address": ev.address,
        "kind": ev.kind,
        "payload": ev.payload,
        "locale_hint": ev.locale_hint,
        "status": status,
        "received_at": now,
    }


async def insert_event(conn, stmt, ev, now: datetime) -> bool:
    """Store one inbound event (`stmt` from `event_insert`); False for a duplicate delivery."""
    res = await conn.execute(stmt, _event_row(ev, now, "pending"))
    return res.first() is not None


_ins_events = {
    name: mod.insert(inbound_events).on_conflict_do_nothing().returning(I.channel, I.external_id)
    for name, mod in (("postgresql", postgresql), ("sqlite", sqlite))
}


async def insert_events(conn, events: list, now: datetime) -> list[bool]:
    """Store several inbound events in one statement (a multi-row INSERT ... ON CONFLICT DO
    NOTHING RETURNING); per event, False for a duplicate delivery (also of an earlier event of
    the same list)."""
    if len(events) == 1:
        return [await insert_event(conn, event_insert(conn), events[0], now)]
    stmt = _ins_events["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
    res = await conn.execute(stmt, [_event_row(ev, now, "pending") for ev in events])
    stored = {(r[0], r[1]) for r in res}
    out = []
    for ev in events:
        key = (ev.channel, ev.external_id)
        out.append(key in stored)
        stored.discard(key)
    return out


async def insert_handled_event(conn, ev, now: datetime) -> int | None:
    """Store an inbound event a channel answered itself, as already processed (`done`), so a
    redelivery does nothing: its id, or None when it was stored before."""
    row = (
        await conn.execute(event_insert(conn), {**_event_row(ev, now, "done"), "processed_at": now})
    ).first()
    return row[0] if row is not None else None


async def pending_user_keys(conn) -> list[str]:
    """Every conversation that has stored but unprocessed events."""
    return [r[0] for r in await conn.execute(_sel_pending_keys)]


# --- processing ------------------------------------------------------------------------------


async def lock_conversation(conn, user_key: str):
    """The conversation row, locked (FOR UPDATE on PostgreSQL), or None."""
    return (await conn.execute(_sel_conv, {"k": user_key})).first()


async def pending_events(conn, user_key: str):
    """The oldest pending event and, when there is one, the next (at most two rows)."""
    return (await conn.execute(_sel_pending, {"k": user_key})).all()


async def first_pending(conn, user_key: str):
    return (await conn.execute(_sel_pending, {"k": user_key})).first()


# A new conversation at the start, ignored when another worker created it first.
_ins_conv = {
    name: mod.insert(conversations).on_conflict_do_nothing()
    for name, mod in (("postgresql", postgresql), ("sqlite", sqlite))
}


async def create_conversation(
    conn, user_key: str, channel: str, address: str, now: datetime
) -> None:
    """A new conversation at the start (ignored when another worker created it first)."""
    await conn.execute(
        _ins_conv["postgresql" if conn.dialect.name == "postgresql" else "sqlite"],
        dict(
            user_key=user_key,
            channel=channel,
            address=address,
            flow="start",
            step="start",
            data={},
            owner="bot",
            role="warga",
            misunderstood=0,
            last_activity_at=now,
            created_at=now,
        ),
    )


async def save_state(conn, state) -> None:
    """Write the conversation's state (an object with `id` and the STATE_COLUMNS attributes)."""
    await conn.execute(
        _upd_conv, {"cid": state.id, **{f"v_{k}": getattr(state, k) for k in STATE_COLUMNS}}
    )


async def finish_event(conn, state, event_id: int, now: datetime, *, replies: list[dict]) -> None:
    """Write what processing an event produced, in the caller's transaction: the outbox rows
    (`replies`, dicts of REPLY_COLUMNS; each gets its "id"), the conversation's state (`state`,
    as `save_state`) and the event done. One statement on PostgreSQL when there is at most one
    reply."""
    if conn.dialect.name == "postgresql" and len(replies) <= 1:
        params = {
            "cid": state.id,
            **{f"v_{k}": getattr(state, k) for k in STATE_COLUMNS},
            "eid": event_id,
            "at": now,
            "e_status": "done",
        }
        if replies:
            params.update({f"o_{k}": replies[0].get(k) for k in REPLY_COLUMNS})
        res = await conn.execute(_finish[bool(replies)], params)
        if replies:
            replies[0]["id"] = res.scalar_one()
        return
    if replies:
        await insert_replies(conn, replies)
    await save_state(conn, state)
    await mark_done(conn, event_id, now)


async def mark_done(conn, event_id: int, now: datetime) -> None:
    await conn.execute(_upd_done, {"eid": event_id, "at": now})


async def set_payload(conn, event_id: int, payload: dict) -> None:
    """Rewrite a stored event's payload (its long numbers masked once it is processed)."""
    await conn.execute(_upd_payload, {"eid": event_id, "p": payload})


async def mark_failed(conn, event_id: int, now: datetime, error: str) -> None:
    await conn.execute(_upd_failed, {"eid": event_id, "at": now, "err": error[:250]})


async def count_attempt(conn, event_id: int, error: str) -> int:
    """A pending event's processing failed transiently: attempts + 1 (and the error's name);
    the new count, 0 when the event is no longer pending."""
    row = (await conn.execute(_upd_attempt, {"eid": event_id, "err": error[:250]})).first()
    return row[0] if row is not None else 0


async def mark_dead(conn, event_id: int, now: datetime, error: str) -> None:
    """The dead-letter state: retried too often; staff see it (dashboard home, `bot.py inbox`)."""
    await conn.execute(_upd_dead, {"eid": event_id, "at": now, "err": error[:250]})


async def count_dead(conn) -> int:
    return (await conn.execute(_count_dead)).scalar() or 0


async def dead_events(conn, limit: int = 50) -> list:
    """The newest dead-lettered events (no payload: it may hold a NIK): id, channel, kind,
    attempts, error, received_at, processed_at."""
    return (await conn.execute(_sel_dead, {"n": limit})).all()


async def insert_replies(conn, rows: list[dict]) -> None:
    """Insert outbox rows (dicts of outbound_messages columns); sets each row's "id"."""
    if len(rows) == 1:  # the common case: a plain INSERT ... RETURNING, no executemany
        rows[0]["id"] = (await conn.execute(_ins_one, rows[0])).scalar_one()
    else:
        for row, (rid,) in zip(rows, await conn.execute(_ins_out, rows), strict=False):
            row["id"] = rid


async def insert_messages(conn, rows: list[dict]) -> list[int]:
    """Insert outbox rows in one statement; their ids, in the order given."""
    return [r[0] for r in await conn.execute(_ins_out, rows)]
