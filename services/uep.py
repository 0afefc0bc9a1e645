"""UEP, the staff side: approve or reject an application and tell the resident in their own
language (cli/uep.py, web/proposals.py). The caller owns the transaction. The resident's side is
conversations/uep.py."""

from __future__ import annotations

from core.i18n import Texts
from core.notify import notify
from db import kube_store as store
from services import contact


def ref(app_id: int) -> str:
    return f"UEP-{app_id:05d}"


async def decide(
    conn, deps, *, app_id: int, approve: bool, reason: str | None, now, actor: str = "cli"
) -> tuple[str | None, list[int]]:
    problem = await store.decide_uep(
        conn, app_id=app_id, approve=approve, reason=reason, now=now, actor=actor
    )
    if problem:
        return problem, []
    a = await store.uep(conn, app_id)
    if a.conversation_id is None:
        return None, []

    phone = await contact.number_for(conn, "uep", str(app_id), a.conversation_id)

    def build(t: Texts) -> str:
        if approve:
            return (
                t._("Good news: Dinsos approved your UEP application {ref}.", ref=ref(app_id))
                + " "
                + contact.next_steps(t, phone)
            )
        return t._(
            "Dinsos did not approve your UEP application {ref}.\nReason: {reason}\n"
            "Questions: contact an officer.",
            ref=ref(app_id),
            reason=reason or "-",
        )

    return None, await notify(
        conn, a.conversation_id, build, now=now, default_locale=deps.default_locale
    )
