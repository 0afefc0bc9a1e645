"""Phone numbers residents gave so an officer can call them (conversations/contact.py asks):
what staff-side messages and pages need. A message never promises a call without a number."""

from __future__ import annotations

from core.i18n import Texts
from db import contact_store as store
from domain import phone as P


async def number_for(
    conn, purpose: str, ref: str, conversation_id: int | None = None
) -> str | None:
    """The newest number (E.164) given for this matter (by this conversation when given), or
    None."""
    rows = await store.of_matter(conn, purpose, ref)
    for r in rows:
        if conversation_id is None or r.conversation_id == conversation_id:
            return r.phone
    return None


def next_steps(t: Texts, phone: str | None) -> str:
    """How an officer follows up on a decision: a call only when there is a number."""
    if phone:
        return t._(
            "An officer may call you at {phone} about the next steps.", phone=P.masked(phone)
        )
    return t._("An officer will tell you the next steps here in this chat.")
