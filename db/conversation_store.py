"""Conversations outside the inbox's hot path (db/inbox_store.py): where a message to a resident
goes, the consent log, a ketua RT's role, and a conversation handed back to the bot by staff.
The caller owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from db.schema import consent_log, conversations

C = conversations.c
_sel_contacts = sa.select(C.id, C.user_key, C.channel, C.address, C.locale)


async def contacts(conn, conversation_ids: Iterable[int]):
    """(id, user_key, channel, address, locale) of these conversations, by id."""
    return (
        await conn.execute(_sel_contacts.where(C.id.in_(list(conversation_ids))).order_by(C.id))
    ).all()


async def lock(conn, conversation_id: int):
    """The conversation row, locked (FOR UPDATE on PostgreSQL), or None."""
    return (
        await conn.execute(
            sa.select(conversations).where(C.id == conversation_id).with_for_update()
        )
    ).first()


async def hand_back(
    conn, conversation_id: int, *, flow: str, step: str, data: dict[str, Any], now: datetime
) -> None:
    """Give the conversation back to the bot at flow/step with this data (a ticket closed)."""
    await conn.execute(
        sa.update(conversations)
        .where(C.id == conversation_id)
        .values(owner="bot", flow=flow, step=step, data=data, misunderstood=0, last_activity_at=now)
    )


async def set_role(conn, conversation_id: int, role: str) -> None:
    await conn.execute(sa.update(conversations).where(C.id == conversation_id).values(role=role))


async def log_consent(
    conn,
    *,
    user_key: str,
    channel: str,
    notice_version: str,
    decision: str,
    locale: str,
    at: datetime,
) -> None:
    await conn.execute(
        sa.insert(consent_log).values(
            user_key=user_key,
            channel=channel,
            notice_version=notice_version,
            decision=decision,
            locale=locale,
            at=at,
        )
    )


async def with_key_prefix(conn, prefix: str):
    """(user_key, locale) of the conversations whose user key starts with `prefix` (the
    dashboard simulator's residents of one staff member)."""
    C = conversations.c
    return (
        await conn.execute(
            sa.select(C.user_key, C.locale).where(C.user_key.startswith(prefix, autoescape=True))
        )
    ).all()
