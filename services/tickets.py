"""Handoff tickets, staff side (used by web/inbox.py) and the SLA job.

`assign`, `reply` (relayed through the outbox to the resident's own channel, wherever they are
in the bot, with a "Balas petugas" button that takes them back into the ticket's chat; on
WhatsApp after 24 hours the transport sends the template and holds the text), `note`
(internal), `close`. Each runs inside the caller's transaction, together with its outbox rows
and audit entry. The SLA job
flags unanswered tickets to the supervisor and the head of office after
[sla].escalate_*_hours office hours. The resident's side is conversations/handoff.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.engine import MENU, moved_data
from core.i18n import L_, Texts, texts
from core.model import Choice, Reply
from core.notify import notify
from db import conversation_store
from db import ticket_store as store
from db.audit import audit
from domain.office_hours import office_seconds_between

# In ascending order, so that a typed number is the rating itself (numbers pick choices by place).
RATINGS = [
    ("r:1", L_("1 Very poor")),
    ("r:2", L_("2 Poor")),
    ("r:3", L_("3 Fair")),
    ("r:4", L_("4 Good")),
    ("r:5", L_("5 Very good")),
]


def rating_reply(t: Texts) -> Reply:
    return Reply(
        t._(
            "The officer has closed your question. How was the answer? "
            "Choose 1 (very poor) to 5 (very good)."
        ),
        [Choice(cid, t._(label)) for cid, label in RATINGS],
    )


# The system message of a ticket the resident withdrew (conversations/handoff.py), shown to staff.
WITHDRAWN_NOTE = "Warga menarik pertanyaan."
# The button on a relayed answer: "Hubungi petugas" by another name, so that it works from any
# step (a global choice, core/engine.py) and leads back into the open ticket's chat.
REPLY_CHOICE = ("g:contact", L_("Reply to the officer"))


def answer_reply(t: Texts, tid: int, text: str) -> Reply:
    """The officer's answer as the resident gets it."""
    return Reply(
        t._(
            "Officer of Dinas Sosial:\n{text}\n\n"
            "(Ticket T-{id}. To write back, tap Reply to the officer.)",
            text=text,
            id=tid,
        ),
        [Choice(REPLY_CHOICE[0], t._(REPLY_CHOICE[1]))],
    )


class TicketError(ValueError):
    """A staff action that cannot be done (closed ticket, empty text): shown on the page."""


async def _open_ticket_row(conn, tid: int):
    row = await store.get(conn, tid, lock=True)
    if row is None:
        raise TicketError("Tiket tidak ditemukan.")
    if row.status != "open":
        if row.closed_by == "resident":
            raise TicketError("Warga sudah menarik pertanyaan ini; tiket ditutup.")
        raise TicketError("Tiket ini sudah ditutup.")
    return row


async def assign(conn, tid: int, staff_id: int | None, *, actor: str, now: datetime) -> None:
    await _open_ticket_row(conn, tid)
    await store.update(conn, tid, {"assigned_to": staff_id})
    await audit(conn, actor, "ticket.assign", f"T-{tid}", now=now, detail={"staff_id": staff_id})


async def reply(
    conn,
    tid: int,
    text: str,
    *,
    staff_id: int,
    actor: str,
    now: datetime,
    default_locale: str = "id",
) -> list[int]:
    """The officer's answer, relayed to the resident. Returns outbox ids (notify after commit)."""
    text = text.strip()
    if not text:
        raise TicketError("Balasan kosong tidak dikirim.")
    if len(text) > 3000:
        raise TicketError("Balasan terlalu panjang (paling banyak 3.000 karakter).")
    row = await _open_ticket_row(conn, tid)
    values: dict[str, Any] = {"last_message_at": now}
    if row.first_response_at is None:
        values["first_response_at"] = now
    if row.assigned_to is None:
        values["assigned_to"] = staff_id
    await store.update(conn, tid, values)
    await store.add_message(conn, tid, "staff", text, now, staff_id)
    await audit(conn, actor, "ticket.reply", f"T-{tid}", now=now)
    return await notify(
        conn,
        row.conversation_id,
        lambda t: answer_reply(t, tid, text),
        now=now,
        default_locale=default_locale,
    )


async def note(conn, tid: int, text: str, *, staff_id: int, actor: str, now: datetime) -> None:
    text = text.strip()
    if not text:
        raise TicketError("Catatan kosong tidak disimpan.")
    if not await store.exists(conn, tid):
        raise TicketError("Tiket tidak ditemukan.")
    await store.add_message(conn, tid, "note", text[:3000], now, staff_id)
    await audit(conn, actor, "ticket.note", f"T-{tid}", now=now)


async def close(
    conn, tid: int, *, staff_id: int, actor: str, now: datetime, default_locale: str = "id"
) -> list[int]:
    """Close the ticket and tell the resident. In the ticket's chat or resting at the menu they
    are asked for a rating (the conversation moves to it); busy elsewhere in the bot they are
    only told, so that what they are doing is not cut off."""
    row = await _open_ticket_row(conn, tid)
    await store.close(conn, tid, now, by="staff")
    await store.add_message(conn, tid, "system", "Ditutup oleh petugas.", now, staff_id)
    await audit(conn, actor, "ticket.close", f"T-{tid}", now=now)
    conv = await conversation_store.lock(conn, row.conversation_id)
    if conv is None:
        return []
    if conv.owner != "staff" and (conv.flow, conv.step) != MENU:
        return await notify(
            conn,
            conv.id,
            lambda t: t._("The officer has closed your question (ticket T-{id}).", id=tid),
            now=now,
            default_locale=default_locale,
        )
    r = rating_reply(texts(conv.locale or default_locale))
    # The conversation moves to the rating step as `ctx.goto` would move it, with the rating
    # buttons of the message below offered there.
    data = moved_data(conv.data or {}, r.choices, ticket=tid)
    await conversation_store.hand_back(conn, conv.id, flow="rating", step="ask", data=data, now=now)
    return await notify(
        conn, conv.id, lambda t: rating_reply(t), now=now, default_locale=default_locale
    )


# ------------------------------------------------------------------ SLA job


async def sla_job(conn, now: datetime, deps) -> list[int]:
    """Flag open tickets without a first answer: to the supervisor (kepala bidang) after
    [sla].escalate_supervisor_hours office hours, to the head of office after
    escalate_head_hours. Flags show in the inbox and are written to the audit log."""
    cfg = deps.programs
    for r in await store.unanswered(conn):
        waited = office_seconds_between(cfg.office_hours, r.opened_at, now) / 3600
        if r.supervisor_flag_at is None and waited >= cfg.sla.escalate_supervisor_hours:
            await store.update(conn, r.id, {"supervisor_flag_at": now})
            await audit(
                conn,
                "system:sla",
                "ticket.escalate.supervisor",
                f"T-{r.id}",
                now=now,
                detail={"office_hours_waited": round(waited, 1)},
            )
        if waited >= cfg.sla.escalate_head_hours:
            await store.update(conn, r.id, {"head_flag_at": now})
            await audit(
                conn,
                "system:sla",
                "ticket.escalate.head",
                f"T-{r.id}",
                now=now,
                detail={"office_hours_waited": round(waited, 1)},
            )
    return []
