"""Human handoff: a resident asks a person; Dinsos staff answer from the dashboard.

Resident side (flows `handoff` and `rating`):
- "Hubungi petugas" (g:contact, on the menu and after two misunderstandings) asks for the
  question in one message, with the office's phone and hours. The message opens a ticket, the
  conversation's owner becomes "staff", and the resident is told when to expect an answer
  (outside office hours: when the office opens; the first answer is due within
  [sla].first_response_hours office hours).
- While staff own the conversation the bot is silent: everything the resident sends is added
  to the ticket. `menu`, `batal` or `selesai` ends the ticket and brings the menu back.
- When staff close the ticket the resident is asked to rate the answer 1–5 (buttons).

Staff side (used by web/inbox.py): `assign`, `reply` (relayed through the outbox to the
resident's own channel; on WhatsApp after 24 hours the transport sends the template and holds
the text), `note` (internal), `close`. Each runs inside the caller's transaction, together with
its outbox rows and audit entry. The SLA job flags unanswered tickets to the supervisor and the
head of office after [sla].escalate_*_hours office hours.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from core.engine import Ctx, Flow, Input
from core.i18n import L_, Texts
from core.notify import notify
from core.model import Choice, Reply
from domain.office_hours import add_office_hours, next_open, office_seconds_between
from db.audit import audit
from db.schema import conversations, households, ticket_messages, tickets

handoff = Flow("handoff")
rating = Flow("rating")

T, M, C = tickets.c, ticket_messages.c, conversations.c
END_WORDS = {"selesai", "sudah", "cukup", "done", "finish", "end"}
MIN_QUESTION = 3


def _hours_text(ctx: Ctx) -> str:
    from conversations.common import office_hours_text

    return office_hours_text(ctx)


# ------------------------------------------------------------------ resident: ask a question

@handoff.ask("ask")
async def ask_question(ctx: Ctx) -> None:
    p = ctx.deps.programs
    ctx.say(ctx._("Ask an officer of {office}.\n"
                  "Type your question in one message; an officer will answer here.\n\n"
                  "Or call {phone} (WhatsApp {whatsapp}), {hours}.",
                  office=p.office, phone=p.office_phone, whatsapp=p.office_whatsapp,
                  hours=_hours_text(ctx)),
            [ctx.choice("g:cancel", L_("Cancel"))])


@handoff.on("ask")
async def on_question(ctx: Ctx, inp: Input) -> None:
    if inp.kind != "text" or len(inp.text.strip()) < MIN_QUESTION:
        await ctx.not_understood(ctx._("Please type your question in words, in one message."))
        return
    await open_ticket(ctx, inp.text.strip())


async def open_ticket(ctx: Ctx, first_message: str) -> int:
    cfg = ctx.deps.programs
    now = ctx.now
    reason = "stuck" if ctx.state.data.pop("__stuck", None) else "asked"
    kel = None
    if ctx.state.household_id:
        kel = (await ctx.conn.execute(sa.select(households.c.kelurahan_code).where(
            households.c.id == ctx.state.household_id))).scalar()
    due = add_office_hours(cfg.office_hours, now, cfg.sla.first_response_hours)
    tid = (await ctx.conn.execute(sa.insert(tickets).values(
        conversation_id=ctx.state.id, status="open", reason=reason, kelurahan_code=kel,
        assigned_to=None, opened_at=now, due_at=due, last_message_at=now,
    ).returning(T.id))).scalar_one()
    await ctx.conn.execute(sa.insert(ticket_messages).values(
        ticket_id=tid, kind="resident", staff_id=None, body=first_message[:4000], created_at=now))
    ctx.state.owner = "staff"
    ctx.state.flow, ctx.state.step = "handoff", "waiting"
    ctx.state.data = {k: v for k, v in ctx.state.data.items() if k.startswith("__")}
    lines = [ctx._("Your question has been passed to an officer (ticket T-{id}). "
                   "The answer will come here.", id=tid)]
    opens = next_open(cfg.office_hours, now)
    if opens > now:
        lines.append(ctx._("The office is closed now ({hours}). An officer will answer from "
                           "{when}.", hours=_hours_text(ctx), when=ctx.t.datetime(opens)))
    else:
        lines.append(ctx._("An officer will answer by {when} at the latest.",
                           when=ctx.t.datetime(due)))
    lines.append(ctx._("You may send more messages. Type selesai when you are done, or menu "
                       "to go back to the bot."))
    ctx.say("\n\n".join(lines))
    return tid


async def staff_owned(ctx: Ctx, inp: Input, action: str | None) -> None:
    """Input while staff own the conversation: added to the ticket, no reply; `menu`,
    `batal`, `selesai` end the ticket."""
    st = ctx.state
    ticket = (await ctx.conn.execute(sa.select(T.id).where(
        T.conversation_id == st.id, T.status == "open").order_by(T.id.desc()).limit(1))).first()
    ending = action in ("menu", "cancel", "start") or (inp.kind == "text" and inp.word in END_WORDS)
    if ticket is None:  # closed meanwhile (staff closed it a moment ago): back to the bot
        st.owner = "bot"
        await ctx.engine.hooks.to_menu(ctx)
        return
    if ending:
        await _close(ctx.conn, ticket.id, ctx.now, by="resident")
        await _add(ctx.conn, ticket.id, "system", "Warga mengakhiri percakapan.", ctx.now)
        st.owner = "bot"
        ctx.note(ctx._("The conversation with the officer has ended. Thank you."))
        await ctx.engine.hooks.to_menu(ctx)
        return
    body = _describe(inp)
    await _add(ctx.conn, ticket.id, "resident", body, ctx.now)
    await ctx.conn.execute(sa.update(tickets).where(T.id == ticket.id).values(
        last_message_at=ctx.now))
    # Silent on purpose: the officer answers. The misunderstanding counter is not touched.


def _describe(inp: Input) -> str:
    if inp.kind == "text":
        return inp.text[:4000]
    if inp.kind == "choice":
        return f"[tombol {inp.choice}]"
    if inp.kind == "location":
        lat, lon = inp.payload.get("lat"), inp.payload.get("lon")
        return f"[lokasi {lat},{lon}]"
    if inp.kind == "photo":
        return f"[foto {inp.payload.get('ref', '')}]"
    return f"[{inp.payload.get('type', inp.kind)}]"


# ------------------------------------------------------------------ resident: rating

# In ascending order, so that a typed number is the rating itself (numbers pick choices by place).
RATINGS = [("r:1", L_("1 Very poor")), ("r:2", L_("2 Poor")), ("r:3", L_("3 Fair")),
           ("r:4", L_("4 Good")), ("r:5", L_("5 Very good"))]


def rating_reply(t: Texts) -> Reply:
    return Reply(t._("The officer has closed your question. How was the answer? "
                     "Choose 1 (very poor) to 5 (very good)."),
                 [Choice(cid, t._(label)) for cid, label in RATINGS])


@rating.ask("ask")
async def ask_rating(ctx: Ctx) -> None:
    r = rating_reply(ctx.t)
    ctx.say(r.text, r.choices)


@rating.on("ask")
async def on_rating(ctx: Ctx, inp: Input) -> None:
    value = None
    if inp.kind == "choice" and inp.choice and inp.choice.startswith("r:"):
        value = int(inp.choice[2:])
    elif inp.kind == "text" and inp.word.isdigit() and 1 <= int(inp.word) <= 5:
        value = int(inp.word)
    tid = ctx.data.get("ticket")
    if value is None or not tid:
        await ctx.engine.hooks.to_menu(ctx)  # they moved on; the rating is optional
        return
    await ctx.conn.execute(sa.update(tickets).where(T.id == tid, T.rating.is_(None))
                           .values(rating=value))
    ctx.note(ctx._("Thank you for your rating."))
    await ctx.engine.hooks.to_menu(ctx)


# ------------------------------------------------------------------ staff operations

class TicketError(ValueError):
    """A staff action that cannot be done (closed ticket, empty text): shown on the page."""


async def _add(conn, tid: int, kind: str, body: str, now: datetime, staff_id: int | None = None):
    await conn.execute(sa.insert(ticket_messages).values(
        ticket_id=tid, kind=kind, staff_id=staff_id, body=body, created_at=now))


async def _close(conn, tid: int, now: datetime, *, by: str) -> None:
    await conn.execute(sa.update(tickets).where(T.id == tid, T.status == "open").values(
        status="closed", closed_at=now, closed_by=by))


async def _open_ticket_row(conn, tid: int):
    row = (await conn.execute(sa.select(tickets).where(T.id == tid).with_for_update())).first()
    if row is None:
        raise TicketError("Tiket tidak ditemukan.")
    if row.status != "open":
        raise TicketError("Tiket ini sudah ditutup.")
    return row


async def assign(conn, tid: int, staff_id: int | None, *, actor: str, now: datetime) -> None:
    await _open_ticket_row(conn, tid)
    await conn.execute(sa.update(tickets).where(T.id == tid).values(assigned_to=staff_id))
    await audit(conn, actor, "ticket.assign", f"T-{tid}", now=now, detail={"staff_id": staff_id})


async def reply(conn, tid: int, text: str, *, staff_id: int, actor: str, now: datetime,
                default_locale: str = "id") -> list[int]:
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
    await conn.execute(sa.update(tickets).where(T.id == tid).values(**values))
    await _add(conn, tid, "staff", text, now, staff_id)
    await audit(conn, actor, "ticket.reply", f"T-{tid}", now=now)
    return await notify(conn, row.conversation_id, lambda t: t._(
        "Officer of Dinas Sosial:\n{text}\n\n(Type selesai when your question is answered.)",
        text=text), now=now, default_locale=default_locale)


async def note(conn, tid: int, text: str, *, staff_id: int, actor: str, now: datetime) -> None:
    text = text.strip()
    if not text:
        raise TicketError("Catatan kosong tidak disimpan.")
    row = (await conn.execute(sa.select(tickets.c.id).where(T.id == tid))).first()
    if row is None:
        raise TicketError("Tiket tidak ditemukan.")
    await _add(conn, tid, "note", text[:3000], now, staff_id)
    await audit(conn, actor, "ticket.note", f"T-{tid}", now=now)


async def close(conn, tid: int, *, staff_id: int, actor: str, now: datetime,
                default_locale: str = "id") -> list[int]:
    """Close the ticket, give the conversation back to the bot, ask for a rating."""
    row = await _open_ticket_row(conn, tid)
    await _close(conn, tid, now, by="staff")
    await _add(conn, tid, "system", "Ditutup oleh petugas.", now, staff_id)
    await audit(conn, actor, "ticket.close", f"T-{tid}", now=now)
    conv = (await conn.execute(sa.select(conversations).where(
        C.id == row.conversation_id).with_for_update())).first()
    if conv is None or conv.owner != "staff":
        return []
    t_locale = conv.locale or default_locale
    from core.i18n import texts

    r = rating_reply(texts(t_locale))
    data = {k: v for k, v in (conv.data or {}).items() if k.startswith("__")}
    data.update(ticket=tid, _choices=[[c.id, c.label] for c in r.choices])
    await conn.execute(sa.update(conversations).where(C.id == conv.id).values(
        owner="bot", flow="rating", step="ask", data=data, misunderstood=0,
        last_activity_at=now))
    return await notify(conn, conv.id, lambda t: rating_reply(t), now=now,
                        default_locale=default_locale)


# ------------------------------------------------------------------ SLA job

async def sla_job(conn, now: datetime, deps) -> list[int]:
    """Flag open tickets without a first answer: to the supervisor (kepala bidang) after
    [sla].escalate_supervisor_hours office hours, to the head of office after
    escalate_head_hours. Flags show in the inbox and are written to the audit log."""
    cfg = deps.programs
    rows = (await conn.execute(sa.select(T.id, T.opened_at, T.supervisor_flag_at, T.head_flag_at)
                               .where(T.status == "open", T.first_response_at.is_(None),
                                      T.head_flag_at.is_(None)))).all()
    for r in rows:
        waited = office_seconds_between(cfg.office_hours, r.opened_at, now) / 3600
        if r.supervisor_flag_at is None and waited >= cfg.sla.escalate_supervisor_hours:
            await conn.execute(sa.update(tickets).where(T.id == r.id).values(supervisor_flag_at=now))
            await audit(conn, "system:sla", "ticket.escalate.supervisor", f"T-{r.id}", now=now,
                        detail={"office_hours_waited": round(waited, 1)})
        if waited >= cfg.sla.escalate_head_hours:
            await conn.execute(sa.update(tickets).where(T.id == r.id).values(head_flag_at=now))
            await audit(conn, "system:sla", "ticket.escalate.head", f"T-{r.id}", now=now,
                        detail={"office_hours_waited": round(waited, 1)})
    return []
