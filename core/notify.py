"""Messages that are not a reply to an inbound event: a decision by staff (KUBE approved, a
report moved), a reminder, a waitlist promotion.

`notify` renders the message in the conversation's own language and queues it in the outbox on
the conversation's own channel, inside the caller's transaction: the decision and the message
commit together, so a crash can neither lose the message nor send it for an undone decision.
The caller hands the returned ids to `Outbox.notify` after the commit when the sender runs in the
same process; otherwise the running service's outbox poll (every second) picks them up. On
WhatsApp outside the 24-hour window the transport holds the text and sends the template.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from core.i18n import Texts, texts
from core.model import Reply
from db import conversation_store, inbox_store

Build = Callable[[Texts], "Reply | str | Iterable[Reply]"]


async def notify(
    conn, conversation_id: int, build: Build, *, now: datetime, default_locale: str = "id"
) -> list[int]:
    """Queue `build(texts)` (a Reply, a plain string, or several Replies) to one conversation.
    Returns the outbox row ids ([] when the conversation does not exist)."""
    return await notify_many(conn, [conversation_id], build, now=now, default_locale=default_locale)


async def notify_many(
    conn,
    conversation_ids: Iterable[int],
    build: Build,
    *,
    now: datetime,
    default_locale: str = "id",
) -> list[int]:
    ids = list(dict.fromkeys(conversation_ids))
    if not ids:
        return []
    rows = []
    for conv in await conversation_store.contacts(conn, ids):
        t = texts(conv.locale or default_locale)
        out = build(t)
        items: Iterable[Reply | str] = [out] if isinstance(out, (str, Reply)) else out
        for item in items:
            r = Reply(item) if isinstance(item, str) else item
            rows.append(
                dict(
                    channel=conv.channel,
                    user_key=conv.user_key,
                    address=conv.address,
                    inbound_event_id=None,
                    payload=r.to_payload(t.locale),
                    status="queued",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    if not rows:
        return []
    return await inbox_store.insert_messages(conn, rows)
