"""Phone numbers residents gave so that an officer can call them (conversations/contact.py), and
what staff pages read of them. The caller owns the transaction. A number is E.164; nothing here
logs it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from db.schema import contact_numbers, conversations, inbound_events

N = contact_numbers.c

PURPOSES = ("report", "kube", "uep")


async def save(
    conn,
    *,
    conversation_id: int,
    household_id: int | None,
    purpose: str,
    ref: str,
    phone: str,
    source: str,
    now: datetime,
) -> None:
    """The number for this conversation and matter (replacing one given before for it)."""
    assert purpose in PURPOSES
    key = (N.conversation_id == conversation_id, N.purpose == purpose, N.ref == ref)
    res = await conn.execute(
        sa.update(contact_numbers)
        .where(*key)
        .values(phone=phone, source=source, household_id=household_id, updated_at=now)
    )
    if not res.rowcount:
        await conn.execute(
            sa.insert(contact_numbers).values(
                conversation_id=conversation_id,
                household_id=household_id,
                purpose=purpose,
                ref=ref,
                phone=phone,
                source=source,
                created_at=now,
                updated_at=now,
            )
        )


async def forget(conn, *, conversation_id: int, purpose: str, ref: str) -> int:
    """The resident took the number back for this matter. Rows deleted."""
    res = await conn.execute(
        sa.delete(contact_numbers).where(
            N.conversation_id == conversation_id, N.purpose == purpose, N.ref == ref
        )
    )
    return res.rowcount or 0


async def for_matter(conn, conversation_id: int, purpose: str, ref: str) -> str | None:
    """The number this conversation gave for this matter, or None."""
    return (
        await conn.execute(
            sa.select(N.phone).where(
                N.conversation_id == conversation_id, N.purpose == purpose, N.ref == ref
            )
        )
    ).scalar_one_or_none()


async def latest(conn, conversation_id: int) -> str | None:
    """The number this conversation gave last, for any matter (offered again, never reused
    without asking), or None."""
    return (
        await conn.execute(
            sa.select(N.phone)
            .where(N.conversation_id == conversation_id)
            .order_by(N.updated_at.desc(), N.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def of_matter(conn, purpose: str, refs: list[str] | str):
    """Every number given for a matter (a merged report has several reporters), newest first:
    rows with phone, source, created_at, updated_at, conversation_id, channel."""
    refs = [refs] if isinstance(refs, str) else list(refs)
    if not refs:
        return []
    C = conversations.c
    return (
        await conn.execute(
            sa.select(
                N.id,
                N.phone,
                N.source,
                N.ref,
                N.created_at,
                N.updated_at,
                N.conversation_id,
                C.channel,
            )
            .join(conversations, C.id == N.conversation_id)
            .where(N.purpose == purpose, N.ref.in_(refs))
            .order_by(N.updated_at.desc(), N.id.desc())
        )
    ).all()


async def purge_before(conn, cutoff: datetime) -> int:
    """Retention: numbers given or confirmed last before `cutoff`. Rows deleted."""
    res = await conn.execute(sa.delete(contact_numbers).where(N.updated_at < cutoff))
    return res.rowcount or 0


async def redact_event(conn, channel: str, external_id: str) -> None:
    """The inbound message that carried a number keeps no copy of it: the number lives only in
    contact_numbers, which retention empties sooner than the inbox."""
    I = inbound_events.c
    await conn.execute(
        sa.update(inbound_events)
        .where(I.channel == channel, I.external_id == external_id)
        .values(payload={"redacted": "phone"})
    )
