"""The outbox's rows (`outbound_messages`): claim, mark, re-queue, stop, recover, and the hold /
release of a channel's window. The caller owns the transaction; statements are built once.

Status moves: queued -> sending -> sent | failed | stopped | held | queued (a retry); held ->
queued (release, requeue_held); sent -> held (a send the channel failed afterwards, e.g.
WhatsApp's 131047). "sending" is the claim taken right before the request goes to the network:
it keeps a row from going out twice, and a row found in it at start-up was caught mid-request
(resent once, `interrupted` counts it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from db.schema import outbound_messages

O = outbound_messages.c

# What the sender needs of a claimed row.
_SEND_COLUMNS = (O.id, O.channel, O.address, O.payload, O.attempts, O.created_at)

_due = (
    sa.select(O.id)
    .where(
        O.status == "queued",
        O.next_attempt_at <= sa.bindparam("now"),
        O.channel.in_(sa.bindparam("channels", expanding=True)),
    )
    .order_by(O.id)
    .limit(sa.bindparam("n"))
)
_claim = (
    sa.update(outbound_messages)
    .where(
        O.id.in_(sa.bindparam("ids", expanding=True)),
        O.status == "queued",
        O.channel.in_(sa.bindparam("channels", expanding=True)),
    )
    .values(status="sending", attempts=O.attempts + 1)
    .returning(*_SEND_COLUMNS)
)
_sel_queued = sa.select(*_SEND_COLUMNS).where(
    O.id.in_(sa.bindparam("ids", expanding=True)),
    O.status == "queued",
    O.channel.in_(sa.bindparam("channels", expanding=True)),
)
_upd_sent = (
    sa.update(outbound_messages)
    .where(O.id == sa.bindparam("rid"))
    .values(
        status="sent",
        sent_at=sa.bindparam("at"),
        external_id=sa.bindparam("ext"),
        attempts=sa.bindparam("att"),
    )
)
# At start-up: a row caught mid-request for the first time is queued again (resent once); one
# caught a second time is failed.
_recover_fail = (
    sa.update(outbound_messages)
    .where(O.status == "sending", O.interrupted >= 1)
    .values(status="failed", last_error="interrupted twice during send; not resent")
)
_recover_requeue = (
    sa.update(outbound_messages)
    .where(O.status == "sending", O.interrupted == 0)
    .values(
        status="queued",
        interrupted=1,
        next_attempt_at=sa.bindparam("now"),
        last_error="interrupted during send; resent once",
    )
)
_count_resent = sa.select(sa.func.count()).where(O.interrupted >= 1)
_stop_row = (
    sa.update(outbound_messages)
    .where(O.id == sa.bindparam("rid"))
    .values(status="stopped", last_error=sa.bindparam("reason"))
)
_stop_chat = (
    sa.update(outbound_messages)
    .where(O.channel == sa.bindparam("ch"), O.address == sa.bindparam("addr"), O.status == "queued")
    .values(status="stopped", last_error=sa.bindparam("reason"))
)


def _mark_stmt(with_attempts: bool, with_next: bool):
    values: dict[str, Any] = {
        "status": sa.bindparam("status"),
        "last_error": sa.bindparam("reason"),
    }
    if with_attempts:
        values["attempts"] = sa.bindparam("att")
    if with_next:
        values["next_attempt_at"] = sa.bindparam("next")
    return sa.update(outbound_messages).where(O.id == sa.bindparam("rid")).values(**values)


_mark = {(a, n): _mark_stmt(a, n) for a in (False, True) for n in (False, True)}

# --- a channel's window: hold and release ---------------------------------------------------
_release = (
    sa.update(outbound_messages)
    .where(O.user_key == sa.bindparam("uk"), O.channel == sa.bindparam("ch"), O.status == "held")
    .values(status="queued", next_attempt_at=sa.bindparam("now"), address=sa.bindparam("addr"))
    .returning(*_SEND_COLUMNS)
)
_requeue_held = (
    sa.update(outbound_messages)
    .where(O.user_key == sa.bindparam("uk"), O.channel == sa.bindparam("ch"), O.status == "held")
    .values(status="queued", next_attempt_at=sa.bindparam("now"), address=sa.bindparam("addr"))
    .returning(O.id)
)
_hold_sent = (
    sa.update(outbound_messages)
    .where(
        O.external_id == sa.bindparam("ext"), O.channel == sa.bindparam("ch"), O.status == "sent"
    )
    .values(status="held", last_error=sa.bindparam("reason"))
    .returning(O.address)
)
_count_sending = sa.select(sa.func.count()).where(
    O.user_key == sa.bindparam("uk"), O.channel == sa.bindparam("ch"), O.status == "sending"
)
_recent_payloads = (
    sa.select(O.payload)
    .where(O.user_key == sa.bindparam("uk"), O.channel == sa.bindparam("ch"))
    .order_by(O.id.desc())
    .limit(20)
)
_insert_one = sa.insert(outbound_messages).returning(O.id)


def send_row(r) -> dict[str, Any]:
    """A queued row as `Outbox.submit` takes it."""
    return dict(
        id=r.id,
        channel=r.channel,
        address=r.address,
        payload=r.payload,
        attempts=r.attempts,
        created_at=r.created_at,
    )


async def due(conn, now: datetime, channels: list[str], limit: int = 500) -> list[int]:
    """Ids of queued rows whose time has come, on these channels, oldest first."""
    return [r[0] for r in await conn.execute(_due, {"now": now, "channels": channels, "n": limit})]


async def queued(conn, ids: list[int], channels: list[str]) -> list:
    """These rows, when still queued on these channels: id, channel, address, payload,
    attempts, created_at."""
    return (await conn.execute(_sel_queued, {"ids": ids, "channels": channels})).all()


async def claim(conn, ids: list[int], channels: list[str]) -> list:
    """queued -> sending for these ids (attempts + 1), right before their requests; the rows
    claimed (the columns of `queued`). A row no longer queued is not returned."""
    return (await conn.execute(_claim, {"ids": ids, "channels": channels})).all()


async def mark_sent(conn, marks: list[dict[str, Any]]) -> None:
    """Sent rows, many at once: each {"rid", "ext" (external id), "att" (attempts), "at"}."""
    await conn.execute(_upd_sent, marks)


async def mark(
    conn,
    row_id: int,
    status: str,
    reason: str | None,
    *,
    attempts: int | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    """Set a row's status and last error (and its attempts / next attempt time when given)."""
    params: dict[str, Any] = {"rid": row_id, "status": status, "reason": reason}
    if attempts is not None:
        params["att"] = attempts
    if next_attempt_at is not None:
        params["next"] = next_attempt_at
    await conn.execute(_mark[(attempts is not None, next_attempt_at is not None)], params)


async def stop_chat(conn, row_id: int, channel: str, address: str, reason: str) -> None:
    """This row and every queued row of its chat: stopped (the user blocked the bot)."""
    await conn.execute(_stop_row, {"rid": row_id, "reason": reason})
    await conn.execute(_stop_chat, {"ch": channel, "addr": address, "reason": reason})


async def recover(conn, now: datetime) -> tuple[int, int]:
    """Rows left in `sending` (caught mid-request by a crash): queued again when it is the
    first time (resent once), failed when it is the second. (resent, failed)."""
    failed = (await conn.execute(_recover_fail)).rowcount or 0
    resent = (await conn.execute(_recover_requeue, {"now": now})).rowcount or 0
    return resent, failed


async def count_resent(conn) -> int:
    """Rows ever queued again after being caught mid-request (the dashboard's home)."""
    return (await conn.execute(_count_resent)).scalar() or 0


async def release_held(
    conn, channel: str, user_key: str, address: str, now: datetime
) -> list[dict[str, Any]]:
    """Held rows of this user queued again (held -> queued, to `address`), in id order, as the
    rows `Outbox.submit` takes (this process sends them before anything queued later)."""
    rows = (
        await conn.execute(_release, {"uk": user_key, "ch": channel, "now": now, "addr": address})
    ).all()
    return [send_row(r) for r in sorted(rows, key=lambda r: r.id)]


async def requeue_held(conn, channel: str, user_key: str, address: str, now: datetime) -> list[int]:
    """Held rows of this user back to the queue (held -> queued, to `address`); ids in order."""
    return sorted(
        r[0]
        for r in await conn.execute(
            _requeue_held, {"uk": user_key, "ch": channel, "now": now, "addr": address}
        )
    )


async def hold_sent(conn, channel: str, external_id: str, reason: str) -> str | None:
    """A sent row (by the channel's message id) held again; its address, None if no such row."""
    row = (
        await conn.execute(_hold_sent, {"ext": external_id, "ch": channel, "reason": reason})
    ).first()
    return row.address if row is not None else None


async def count_sending(conn, channel: str, user_key: str) -> int:
    """How many rows of this user are being sent right now."""
    return (await conn.execute(_count_sending, {"uk": user_key, "ch": channel})).scalar() or 0


async def recent_payloads(conn, channel: str, user_key: str) -> list[dict]:
    """The payloads of this user's 20 newest rows on the channel, newest first."""
    return [
        r.payload for r in await conn.execute(_recent_payloads, {"uk": user_key, "ch": channel})
    ]


async def insert_queued(
    conn,
    channel: str,
    user_key: str,
    address: str,
    payload: dict,
    now: datetime,
    inbound_event_id: int | None = None,
) -> int:
    """One queued row, due now; its id."""
    res = await conn.execute(
        _insert_one,
        dict(
            channel=channel,
            user_key=user_key,
            address=address,
            inbound_event_id=inbound_event_id,
            payload=payload,
            status="queued",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        ),
    )
    return res.scalar_one()
