"""The outbox's rows (`outbound_messages`): claim, mark, re-queue, stop, recover, and the hold /
release of a channel's window. The caller owns the transaction; statements are built once.

Status moves: queued -> sending -> sent | failed | stopped | held | queued (a retry); held ->
queued (release, requeue_held); sent -> held (a send the channel failed afterwards, e.g.
WhatsApp's 131047). "sending" is the claim taken right before the request goes to the network:
it keeps a row from going out twice, and a row found in it at start-up was caught mid-request
(resent once, `interrupted` counts it).

Leases (several workers on one database, docs/scaling.md): a worker holds the queued rows it has
in memory under a lease (`lease_owner` = its worker id, `lease_until`), renewed while it lives;
other workers leave them alone until the lease expires. The claim keeps each conversation in
order across workers: a row goes to `sending` only when no earlier row of the same conversation
(channel + user key) is still queued or sending. Recovery touches only expired leases.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from db.schema import outbound_messages

O = outbound_messages.c

# What the sender needs of a claimed row.
_SEND_COLUMNS = (O.id, O.channel, O.user_key, O.address, O.payload, O.attempts, O.created_at)
_ACTIVE = ("queued", "sending")

_e = outbound_messages.alias("e")
# An earlier row of the same conversation is still queued or being sent (it goes first).
_earlier_active = (
    sa.exists()
    .where(
        _e.c.channel == O.channel,
        _e.c.user_key == O.user_key,
        _e.c.id < O.id,
        _e.c.status.in_(_ACTIVE),
    )
    .correlate(outbound_messages)
)
# ... and it is held by another live worker (a lease we must not cut across).
_earlier_leased_elsewhere = (
    sa.exists()
    .where(
        _e.c.channel == O.channel,
        _e.c.user_key == O.user_key,
        _e.c.id < O.id,
        _e.c.status.in_(_ACTIVE),
        _e.c.lease_owner != sa.bindparam("me"),
        _e.c.lease_until >= sa.bindparam("now"),
    )
    .correlate(outbound_messages)
)
# The row is free for this worker: never leased, leased to it, or its lease has expired.
# (A row nobody holds has no `lease_until`; `lease_owner` then names the worker that held it
# last, e.g. the one that sent it.)
_free = sa.or_(
    O.lease_until.is_(None),
    O.lease_owner == sa.bindparam("me"),
    O.lease_until < sa.bindparam("now"),
)
_unleased = sa.or_(O.lease_until.is_(None), O.lease_until < sa.bindparam("now"))


def _lease_stmt(by_ids: bool):
    """Lease queued rows to this worker: the due ones (a small batch, oldest first), or the ids
    given (a notify). FOR UPDATE SKIP LOCKED on PostgreSQL: concurrent workers take different
    rows without waiting for each other (SQLite, one process, ignores it). A row behind an
    earlier row of its conversation that another live worker holds is left to that worker."""
    if by_ids:
        where = [O.id.in_(sa.bindparam("ids", expanding=True)), O.status == "queued", _free]
    else:
        where = [O.status == "queued", O.next_attempt_at <= sa.bindparam("now"), _unleased]
    pick = (
        sa.select(O.id)
        .where(*where, O.channel.in_(sa.bindparam("channels", expanding=True)))
        .where(~_earlier_leased_elsewhere)
        .order_by(O.id)
        .with_for_update(skip_locked=True)
    )
    if not by_ids:
        pick = pick.limit(sa.bindparam("n"))
    return (
        sa.update(outbound_messages)
        .where(O.id.in_(pick.scalar_subquery()))
        .values(lease_owner=sa.bindparam("me"), lease_until=sa.bindparam("until"))
        .returning(*_SEND_COLUMNS)
    )


_lease_due = _lease_stmt(False)
_lease_ids = _lease_stmt(True)
# Keep (or adopt, when nobody holds them) the leases of the rows this worker has in memory;
# the ids still its own.
_renew = (
    sa.update(outbound_messages)
    .where(O.id.in_(sa.bindparam("ids", expanding=True)), O.status.in_(_ACTIVE), _free)
    .values(lease_owner=sa.bindparam("me"), lease_until=sa.bindparam("until"))
    .returning(O.id)
)
# A stopping worker lets go of its rows: queued ones are free at once, and ones cut short
# mid-request are recovered (resent once) by the next worker that looks.
_release_leases = (
    sa.update(outbound_messages)
    .where(O.lease_owner == sa.bindparam("me"), O.status.in_(_ACTIVE))
    .values(lease_owner=None, lease_until=None)
)

# queued -> sending right before the request: only a row this worker may hold, and only when no
# earlier row of its conversation is still queued or sending (order across workers).
_claim = (
    sa.update(outbound_messages)
    .where(
        O.id.in_(sa.bindparam("ids", expanding=True)),
        O.status == "queued",
        O.channel.in_(sa.bindparam("channels", expanding=True)),
        _free,
        ~_earlier_active,
    )
    .values(
        status="sending",
        attempts=O.attempts + 1,
        lease_owner=sa.bindparam("me"),
        lease_until=sa.bindparam("until"),
    )
    .returning(*_SEND_COLUMNS)
)
# Of rows the claim did not take: those still queued and this worker's to send (they wait for an
# earlier row of their conversation).
_still_mine = sa.select(O.id).where(
    O.id.in_(sa.bindparam("ids", expanding=True)), O.status == "queued", _free
)
# The due, unleased queued rows before this one in its conversation, leased to `me` (a row that
# waits for them takes them instead of waiting for a poll).
_lease_earlier = (
    sa.update(outbound_messages)
    .where(
        O.channel == sa.bindparam("ch"),
        O.user_key == sa.bindparam("uk"),
        O.id < sa.bindparam("rid"),
        O.status == "queued",
        O.next_attempt_at <= sa.bindparam("now"),
        _unleased,
    )
    .values(lease_owner=sa.bindparam("me"), lease_until=sa.bindparam("until"))
    .returning(*_SEND_COLUMNS)
)
_earlier_active_of = sa.select(
    sa.exists().where(
        O.channel == sa.bindparam("ch"),
        O.user_key == sa.bindparam("uk"),
        O.id < sa.bindparam("rid"),
        O.status.in_(_ACTIVE),
    )
)
_upd_sent = (
    sa.update(outbound_messages)
    .where(O.id == sa.bindparam("rid"))
    .values(
        status="sent",
        sent_at=sa.bindparam("at"),
        external_id=sa.bindparam("ext"),
        attempts=sa.bindparam("att"),
        lease_until=None,
    )
)


# A row caught mid-request (in `sending` with an expired lease: its worker died; at a SQLite
# start-up, any) for the first time is queued again (resent once); a second time it is failed.
def _recover_stmts(everything: bool):
    caught = [O.status == "sending"]
    if not everything:
        caught.append(sa.or_(O.lease_until.is_(None), O.lease_until < sa.bindparam("now")))
    fail = (
        sa.update(outbound_messages)
        .where(*caught, O.interrupted >= 1)
        .values(
            status="failed",
            last_error="interrupted twice during send; not resent",
            lease_owner=None,
            lease_until=None,
        )
    )
    requeue = (
        sa.update(outbound_messages)
        .where(*caught, O.interrupted == 0)
        .values(
            status="queued",
            interrupted=1,
            next_attempt_at=sa.bindparam("now"),
            last_error="interrupted during send; resent once",
            lease_owner=None,
            lease_until=None,
        )
    )
    return fail, requeue


_recover = {e: _recover_stmts(e) for e in (False, True)}
# A single process's start-up: queued rows still leased (to this process before a crash: there
# is no other) are free at once, not after their lease runs out.
_free_queued_leases = (
    sa.update(outbound_messages)
    .where(O.status == "queued", O.lease_until.is_not(None))
    .values(lease_owner=None, lease_until=None)
)
_count_resent = sa.select(sa.func.count()).where(O.interrupted >= 1)
_stop_row = (
    sa.update(outbound_messages)
    .where(O.id == sa.bindparam("rid"))
    .values(status="stopped", last_error=sa.bindparam("reason"), lease_until=None)
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
    if with_next:  # a retry in place: the worker keeps the row (and its lease)
        values["next_attempt_at"] = sa.bindparam("next")
    else:  # a final status: nobody holds the row any more (lease_owner: who held it last)
        values["lease_until"] = None
    return sa.update(outbound_messages).where(O.id == sa.bindparam("rid")).values(**values)


_mark = {(a, n): _mark_stmt(a, n) for a in (False, True) for n in (False, True)}

# --- a channel's window: hold and release ---------------------------------------------------
_release = (
    sa.update(outbound_messages)
    .where(O.user_key == sa.bindparam("uk"), O.channel == sa.bindparam("ch"), O.status == "held")
    .values(
        status="queued",
        next_attempt_at=sa.bindparam("now"),
        address=sa.bindparam("addr"),
        lease_owner=sa.bindparam("me"),
        lease_until=sa.bindparam("until"),
    )
    .returning(*_SEND_COLUMNS)
)
_requeue_held = (
    sa.update(outbound_messages)
    .where(O.user_key == sa.bindparam("uk"), O.channel == sa.bindparam("ch"), O.status == "held")
    .values(
        status="queued",
        next_attempt_at=sa.bindparam("now"),
        address=sa.bindparam("addr"),
        lease_owner=None,
        lease_until=None,
    )
    .returning(O.id)
)
_hold_sent = (
    sa.update(outbound_messages)
    .where(
        O.external_id == sa.bindparam("ext"), O.channel == sa.bindparam("ch"), O.status == "sent"
    )
    .values(status="held", last_error=sa.bindparam("reason"), lease_until=None)
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
        user_key=r.user_key,
        address=r.address,
        payload=r.payload,
        attempts=r.attempts,
        created_at=r.created_at,
    )


async def lease_due(
    conn, me: str, now: datetime, until: datetime, channels: list[str], limit: int = 100
) -> list:
    """Lease up to `limit` due, unleased queued rows on these channels to worker `me` (until
    `until`), oldest first: the rows (id, channel, user_key, address, payload, attempts,
    created_at)."""
    params = {"me": me, "now": now, "until": until, "channels": channels, "n": limit}
    return sorted((await conn.execute(_lease_due, params)).all(), key=lambda r: r.id)


async def lease_ids(
    conn, ids: list[int], me: str, now: datetime, until: datetime, channels: list[str]
) -> list:
    """Lease these rows to `me` when they are queued on these channels and nobody else holds
    them; the rows leased (the columns of `lease_due`), oldest first."""
    params = {"ids": ids, "me": me, "now": now, "until": until, "channels": channels}
    return sorted((await conn.execute(_lease_ids, params)).all(), key=lambda r: r.id)


async def renew(conn, ids: list[int], me: str, now: datetime, until: datetime) -> set[int]:
    """Extend `me`'s leases on these queued or sending rows (taking unleased ones); the ids
    that are still `me`'s."""
    if not ids:
        return set()
    params = {"ids": ids, "me": me, "now": now, "until": until}
    return {r[0] for r in await conn.execute(_renew, params)}


async def release_leases(conn, me: str) -> int:
    """`me` stops: its queued and sending rows lose their lease (others take them at once).
    How many."""
    return (await conn.execute(_release_leases, {"me": me})).rowcount or 0


async def claim(
    conn, ids: list[int], channels: list[str], me: str, now: datetime, until: datetime
) -> tuple[list, set[int]]:
    """queued -> sending for these ids (attempts + 1, leased to `me`), right before their
    requests: the rows claimed (the columns of `lease_due`), and the ids not claimed that are
    still queued and `me`'s to send: they wait for an earlier row of their conversation. Any
    other id is no longer queued (sent, held, stopped, or taken by another worker)."""
    params = {"ids": ids, "channels": channels, "me": me, "now": now, "until": until}
    rows = (await conn.execute(_claim, params)).all()
    rest = set(ids) - {r.id for r in rows}
    waiting: set[int] = set()
    if rest:
        waiting = {
            r[0] for r in await conn.execute(_still_mine, {"ids": list(rest), "me": me, "now": now})
        }
    return rows, waiting


async def lease_earlier(
    conn,
    channel: str,
    user_key: str,
    row_id: int,
    me: str,
    now: datetime,
    until: datetime,
) -> list:
    """Lease to `me` the due queued rows nobody holds that come before `row_id` in its
    conversation; the rows (the columns of `lease_due`), oldest first."""
    params = {"ch": channel, "uk": user_key, "rid": row_id, "me": me, "now": now, "until": until}
    return sorted((await conn.execute(_lease_earlier, params)).all(), key=lambda r: r.id)


async def earlier_active(conn, channel: str, user_key: str, row_id: int) -> bool:
    """Whether an earlier row of this conversation is still queued or being sent."""
    params = {"ch": channel, "uk": user_key, "rid": row_id}
    return bool((await conn.execute(_earlier_active_of, params)).scalar())


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


async def recover(conn, now: datetime, *, everything: bool = False) -> tuple[int, int]:
    """Rows left in `sending` by a worker that died (their lease has expired; `everything`: all
    of them, and every queued row's lease, for a single process's start-up) were caught
    mid-request: queued again when it is
    the first time (resent once), failed when it is the second. (resent, failed)."""
    fail, requeue = _recover[everything]
    failed = (await conn.execute(fail, {"now": now})).rowcount or 0
    resent = (await conn.execute(requeue, {"now": now})).rowcount or 0
    if everything:
        await conn.execute(_free_queued_leases)
    return resent, failed


async def count_resent(conn) -> int:
    """Rows ever queued again after being caught mid-request (the dashboard's home)."""
    return (await conn.execute(_count_resent)).scalar() or 0


async def release_held(
    conn,
    channel: str,
    user_key: str,
    address: str,
    now: datetime,
    me: str | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Held rows of this user queued again (held -> queued, to `address`, leased to worker `me`
    until `until` when given), in id order, as the rows `Outbox.submit` takes (they go before
    anything queued later: the claim keeps a conversation's order)."""
    params = {"uk": user_key, "ch": channel, "now": now, "addr": address}
    rows = (await conn.execute(_release, {**params, "me": me, "until": until})).all()
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
