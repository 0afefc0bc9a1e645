"""KUBE, the staff side: approve or reject a submitted group and tell every member in their own
language (cli/kube.py, web/proposals.py). The caller owns the transaction. The resident's side
is conversations/kube.py."""

from __future__ import annotations

from core.i18n import Texts
from core.notify import notify_many
from db import kube_store as store
from domain import kube as K
from services import contact


async def decide(
    conn, deps, *, group_id: int, approve: bool, reason: str | None, now, actor: str = "cli"
) -> tuple[str | None, list[int]]:
    """Approve or reject a submitted group and tell every member. (problem, outbox ids)."""
    problem = await store.decide(
        conn, group_id=group_id, approve=approve, reason=reason, now=now, actor=actor
    )
    if problem:
        return problem, []
    g = await store.group(conn, group_id)
    members = await store.members(conn, group_id)
    chairs = {m.conversation_id for m in members if m.role == K.KETUA and m.conversation_id}
    # The chair gave a number when submitting (conversations/contact.py), or did not: the
    # message promises a call only with one.
    phone = await contact.number_for(conn, "kube", str(group_id)) if approve else None

    def build_chair(t: Texts) -> str:
        return (
            t._("Good news: Dinsos approved KUBE {name}.", name=g.name)
            + " "
            + (contact.next_steps(t, phone))
        )

    def build(t: Texts) -> str:
        if approve:
            if phone:
                return t._(
                    "Good news: Dinsos approved KUBE {name}. An officer will call the chair "
                    "about the next steps.",
                    name=g.name,
                )
            return t._(
                "Good news: Dinsos approved KUBE {name}. An officer will tell the chair the "
                "next steps in this chat.",
                name=g.name,
            )
        return t._(
            "Dinsos did not approve KUBE {name}.\nReason: {reason}\n"
            "The members are free to form or join another group. Questions: contact an "
            "officer.",
            name=g.name,
            reason=reason or "-",
        )

    ids = await notify_many(
        conn,
        [
            m.conversation_id
            for m in members
            if m.conversation_id and m.conversation_id not in chairs
        ],
        build,
        now=now,
        default_locale=deps.default_locale,
    )
    ids += await notify_many(
        conn,
        chairs,
        build_chair if approve else build,
        now=now,
        default_locale=deps.default_locale,
    )
    return None, ids
