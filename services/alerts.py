"""Staff alerts: a staff member links a Telegram or WhatsApp chat to their dashboard account with
a one-time code (dashboard "Akun saya", then the code typed to the bot: conversations/staff_link.py)
and that chat receives alerts; either side can unlink. docs/staff.md.

Who gets what (`ROUTES`; roles are services/staff.py ROLES):

- a new ticket (question to an officer) → operators of the ticket's kelurahan and the
  verifikators (who work the queues city-wide); a ticket with no kelurahan → verifikators;
- a ticket unanswered for [sla].escalate_supervisor_hours office hours → verifikators (the
  supervisor level: there is no separate kepala bidang role);
- unanswered for [sla].escalate_head_hours → admins (the head of office level);
- a report still open past its due date ([sla].verification_days) → operators of its
  kelurahan and the verifikators, once per report (`late_reports_job`).

An alert holds nothing personal: the kind of event, the ticket or report code, the kelurahan's
name and a link to the dashboard page (JARING_PUBLIC_URL + path, or the path alone). Each event
is recorded in `staff_alerts` in the transaction that queues it, so it is sent once. Messages
go through the outbox like any other (core.notify, the caller's transaction); the caller hands
the returned ids to the outbox after the commit. Only chats of active accounts get alerts.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from core.i18n import Texts
from core.notify import notify_many
from db import alert_store as store
from db import ticket_store
from db.audit import audit
from domain import reports as R
from services.reports import code_hash

LINK_MINUTES = 15
PREFIX = "STF"
# Typed with spaces, dashes or neither, in any case: "stf 7kq4 m9xd", "STF-7KQ4-M9XD".
_CODE = re.compile(
    rf"^{PREFIX}[\s\-_.]{{0,3}}([{R.ALPHABET}]{{4}})[\s\-_.]{{0,3}}([{R.ALPHABET}]{{4}})$", re.I
)

# Event kind -> (roles that get it city-wide, whether operators of the kelurahan get it).
ROUTES: dict[str, tuple[tuple[str, ...], bool]] = {
    "ticket_new": (("verifikator",), True),
    "ticket_supervisor": (("verifikator",), False),
    "ticket_head": (("admin",), False),
    "report_late": (("verifikator",), True),
}


# --------------------------------------------------------------------------- link codes


def new_link_code() -> str:
    pick = "".join(secrets.choice(R.ALPHABET) for _ in range(8))
    return f"{PREFIX}-{pick[:4]}-{pick[4:]}"


def normalize_link_code(text: str) -> str | None:
    m = _CODE.match((text or "").strip())
    return f"{PREFIX}-{m.group(1).upper()}-{m.group(2).upper()}" if m else None


async def create_link_code(
    conn, user_id: int, *, actor: str, now: datetime
) -> tuple[str, datetime]:
    """A new one-time code for this account (shown once; stored as its hash), and its expiry.
    The account's earlier unused code stops working."""
    code = new_link_code()
    expires = now + timedelta(minutes=LINK_MINUTES)
    await store.add_code(
        conn, user_id=user_id, code_hash=code_hash(code), now=now, expires_at=expires
    )
    await audit(conn, actor, "staff.link_code", f"staff_users:{user_id}", now=now)
    return code, expires


async def link_chat(conn, code: str, conversation_id: int, now: datetime):
    """Link the chat to the code's account: (id, username, name) of the account, or None for a
    wrong, used or expired code, or a disabled account (one answer for all)."""
    user_id = await store.use_code(conn, code_hash(code), now)
    if user_id is None:
        return None
    await store.link(conn, user_id, conversation_id, now)
    await audit(
        conn,
        f"conversation:{conversation_id}",
        "staff.link",
        f"staff_users:{user_id}",
        now=now,
    )
    return await store.account_of_chat(conn, conversation_id)


async def unlink_chat(
    conn, conversation_id: int, *, actor: str, now: datetime, user_id: int | None = None
) -> bool:
    """Stop alerts to this chat (only when linked to `user_id`, if given). False when there was
    no such link."""
    uid = await store.unlink(conn, conversation_id=conversation_id, user_id=user_id)
    if uid is None:
        return False
    await audit(
        conn,
        actor,
        "staff.unlink",
        f"staff_users:{uid}",
        {"conversation": conversation_id},
        now=now,
    )
    return True


async def account_of_chat(conn, conversation_id: int):
    return await store.account_of_chat(conn, conversation_id)


async def chats_of(conn, user_id: int):
    return await store.chats_of(conn, user_id)


async def pending_code(conn, user_id: int, now: datetime):
    return await store.pending_code(conn, user_id, now)


# --------------------------------------------------------------------------- alerts


def _link(deps, path: str) -> str:
    return f"{getattr(deps, 'public_url', '') or ''}{path}"


def _kel_name(deps, code: str | None) -> str | None:
    if not code:
        return None
    kel = deps.region.kelurahan_by_code(code)
    return kel.name if kel else code


def _footer(t: Texts) -> str:
    return t._("Type /petugas to stop these alerts in this chat.")


async def _send(
    conn,
    kind: str,
    ref: str,
    kelurahan_code: str | None,
    body: Callable[[Texts, str], str],
    path: str,
    *,
    now: datetime,
    deps,
) -> list[int]:
    roles, operators = ROUTES[kind]
    to = await store.recipients(
        conn, roles=roles, operators_of=kelurahan_code if operators else None
    )
    if not await store.record(conn, kind, ref, now, len(to)) or not to:
        return []
    name = _kel_name(deps, kelurahan_code)
    link = _link(deps, path)

    def build(t: Texts) -> str:
        kel = t._("Kelurahan {name}", name=name) if name else t._("kelurahan not known")
        return f"{body(t, kel)}\n{link}\n\n{_footer(t)}"

    return await notify_many(conn, to, build, now=now, default_locale=deps.default_locale)


async def ticket_opened(
    conn, tid: int, kelurahan_code: str | None, *, now: datetime, deps
) -> list[int]:
    """A resident's question opened ticket `tid`: alert the staff who answer it."""
    return await _send(
        conn,
        "ticket_new",
        f"T-{tid}",
        kelurahan_code,
        lambda t, kel: t._("Staff alert: a new question, ticket T-{id}, {kel}.", id=tid, kel=kel),
        f"/inbox/{tid}",
        now=now,
        deps=deps,
    )


async def ticket_escalated(conn, tid: int, level: str, *, now: datetime, deps) -> list[int]:
    """Ticket `tid` was flagged (`level` "supervisor" or "head") by the SLA job."""
    row = await ticket_store.get(conn, tid)
    if row is None:
        return []
    hours = (
        deps.programs.sla.escalate_supervisor_hours
        if level == "supervisor"
        else deps.programs.sla.escalate_head_hours
    )

    def body(t: Texts, kel: str) -> str:
        return t._(
            "Staff alert: ticket T-{id}, {kel}, has had no answer for {hours} office hours.",
            id=tid,
            kel=kel,
            hours=hours,
        )

    return await _send(
        conn,
        f"ticket_{level}",
        f"T-{tid}",
        row.kelurahan_code,
        body,
        f"/inbox/{tid}",
        now=now,
        deps=deps,
    )


async def late_reports_job(conn, now: datetime, deps) -> list[int]:
    """Scheduler job: every open report past its due date is alerted once to the staff of its
    kelurahan (operators there, and the verifikators)."""
    ids: list[int] = []
    for r in await store.late_reports(conn, "report_late", now):
        code = r.code
        ids += await _send(
            conn,
            "report_late",
            code,
            r.kelurahan_code,
            lambda t, kel, code=code: t._(
                "Staff alert: report {code}, {kel}, is past its verification deadline.",
                code=code,
                kel=kel,
            ),
            f"/reports/{code}",
            now=now,
            deps=deps,
        )
    return ids
