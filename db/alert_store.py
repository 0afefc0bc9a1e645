"""Staff alerts: one-time link codes, the chats linked to staff accounts, the record of alerts
sent (each event once), and the look-ups the alert jobs need. The caller owns the transaction."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from db.dialect import insert_ignore
from db.schema import (
    conversations,
    reports,
    staff_alerts,
    staff_chats,
    staff_link_codes,
    staff_users,
)
from domain.reports import SELESAI

LC, SC, SA, U, C, R = (
    staff_link_codes.c,
    staff_chats.c,
    staff_alerts.c,
    staff_users.c,
    conversations.c,
    reports.c,
)

# --------------------------------------------------------------------------- link codes


async def add_code(
    conn, *, user_id: int, code_hash: str, now: datetime, expires_at: datetime
) -> None:
    """A new code for this account; the account's earlier unused codes stop working, and codes
    past their expiry (anyone's, used or not) are deleted (the audit log keeps the linking)."""
    await conn.execute(
        sa.delete(staff_link_codes).where(
            sa.or_(sa.and_(LC.user_id == user_id, LC.used_at.is_(None)), LC.expires_at <= now)
        )
    )
    await conn.execute(
        sa.insert(staff_link_codes).values(
            user_id=user_id, code_hash=code_hash, created_at=now, expires_at=expires_at
        )
    )


async def use_code(conn, code_hash: str, now: datetime) -> int | None:
    """Mark the code used and return its account's id, when it is unused, not expired and the
    account is active; else None. One conditional UPDATE: two chats typing the same code at once
    cannot both get it."""
    active = sa.select(U.id).where(U.id == LC.user_id, U.active.is_(True)).exists()
    return await conn.scalar(
        sa.update(staff_link_codes)
        .where(
            LC.code_hash == code_hash,
            LC.used_at.is_(None),
            LC.expires_at > now,
            active,
        )
        .values(used_at=now)
        .returning(LC.user_id)
    )


async def pending_code(conn, user_id: int, now: datetime):
    """The account's newest unused, unexpired code (its expiry only: the code is not stored)."""
    return (
        await conn.execute(
            sa.select(LC.id, LC.expires_at)
            .where(LC.user_id == user_id, LC.used_at.is_(None), LC.expires_at > now)
            .order_by(LC.id.desc())
            .limit(1)
        )
    ).first()


# --------------------------------------------------------------------------- linked chats


async def link(conn, user_id: int, conversation_id: int, now: datetime) -> None:
    """Link the chat to the account (a chat linked to another account moves over)."""
    await conn.execute(sa.delete(staff_chats).where(SC.conversation_id == conversation_id))
    await conn.execute(
        sa.insert(staff_chats).values(
            user_id=user_id, conversation_id=conversation_id, linked_at=now
        )
    )


async def unlink(conn, *, conversation_id: int, user_id: int | None = None) -> int | None:
    """Remove the chat's link (only if it belongs to `user_id`, when given); the account's id it
    belonged to, or None when there was no such link."""
    where = [SC.conversation_id == conversation_id]
    if user_id is not None:
        where.append(SC.user_id == user_id)
    return await conn.scalar(sa.delete(staff_chats).where(*where).returning(SC.user_id))


async def chats_of(conn, user_id: int):
    """The account's linked chats: (conversation_id, channel, linked_at), oldest first."""
    return (
        await conn.execute(
            sa.select(SC.conversation_id, C.channel, SC.linked_at)
            .join(conversations, C.id == SC.conversation_id)
            .where(SC.user_id == user_id)
            .order_by(SC.linked_at, SC.id)
        )
    ).all()


async def account_of_chat(conn, conversation_id: int):
    """(id, username, name) of the account this chat is linked to, or None."""
    return (
        await conn.execute(
            sa.select(U.id, U.username, U.name)
            .join(staff_chats, SC.user_id == U.id)
            .where(SC.conversation_id == conversation_id)
        )
    ).first()


async def recipients(
    conn, *, roles: tuple[str, ...] = (), operators_of: str | None = None
) -> list[int]:
    """Conversation ids of the chats linked to ACTIVE accounts that have one of `roles`, or are
    operators of kelurahan `operators_of`. Distinct, by id."""
    who: list[sa.ColumnElement[bool]] = []
    if roles:
        who.append(U.role.in_(roles))
    if operators_of:
        who.append(sa.and_(U.role == "operator", U.kelurahan_code == operators_of))
    if not who:
        return []
    rows = await conn.execute(
        sa.select(SC.conversation_id)
        .join(staff_users, U.id == SC.user_id)
        .where(U.active.is_(True), sa.or_(*who))
        .distinct()
        .order_by(SC.conversation_id)
    )
    return [r[0] for r in rows]


# --------------------------------------------------------------------------- sent alerts


async def record(conn, kind: str, ref: str, now: datetime, recipients: int) -> bool:
    """Record that the alert (kind, ref) is sent; False when it was recorded before (then it
    must not be sent again)."""
    got = await conn.scalar(
        insert_ignore(conn, staff_alerts)
        .values(kind=kind, ref=ref, at=now, recipients=recipients)
        .returning(SA.id)
    )
    return got is not None


async def sent(conn, kind: str, ref: str) -> bool:
    return (
        await conn.scalar(sa.select(SA.id).where(SA.kind == kind, SA.ref == ref).limit(1))
    ) is not None


async def late_reports(conn, kind: str, now: datetime, limit: int = 200):
    """Open reports past their due date with no `kind` alert recorded: (id, code, kelurahan_code,
    category, due_at), oldest due first."""
    done = sa.select(SA.id).where(SA.kind == kind, SA.ref == R.code).exists()
    return (
        await conn.execute(
            sa.select(R.id, R.code, R.kelurahan_code, R.category, R.due_at)
            .where(R.state != SELESAI, R.due_at <= now, ~done)
            .order_by(R.due_at, R.id)
            .limit(limit)
        )
    ).all()
