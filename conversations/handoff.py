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

The staff side (assign, reply, note, close, the SLA job) is services/tickets.py.
"""

from __future__ import annotations

from conversations.texts import office_hours_text
from core.engine import Ctx, Flow, Input
from core.i18n import L_
from db import queries, ticket_store
from domain.office_hours import add_office_hours, next_open
from services import alerts
from services.tickets import rating_reply

handoff = Flow("handoff")
rating = Flow("rating")

END_WORDS = {"selesai", "sudah", "cukup", "done", "finish", "end"}
MIN_QUESTION = 3


def _hours_text(ctx: Ctx) -> str:
    return office_hours_text(ctx)


# ------------------------------------------------------------------ resident: ask a question


@handoff.ask("ask")
async def ask_question(ctx: Ctx) -> None:
    p = ctx.deps.programs
    ctx.say(
        ctx._(
            "Ask an officer of {office}.\n"
            "Type your question in one message; an officer will answer here.\n\n"
            "Or call {phone} (WhatsApp {whatsapp}), {hours}.",
            office=p.office,
            phone=p.office_phone,
            whatsapp=p.office_whatsapp,
            hours=_hours_text(ctx),
        ),
        [ctx.choice("g:cancel", L_("Cancel"))],
    )


@handoff.on("ask")
async def on_question(ctx: Ctx, inp: Input) -> None:
    if inp.kind != "text" or len(inp.text.strip()) < MIN_QUESTION:
        await ctx.not_understood(ctx._("Please type your question in words, in one message."))
        return
    await open_ticket(ctx, inp.text.strip())


async def open_ticket(ctx: Ctx, first_message: str) -> int:
    cfg = ctx.deps.programs
    now = ctx.now
    reason = "stuck" if ctx.pop_stuck() else "asked"
    kel = None
    if ctx.state.household_id:
        kel = await queries.household_kelurahan(ctx.conn, ctx.state.household_id)
    due = add_office_hours(cfg.office_hours, now, cfg.sla.first_response_hours)
    tid = await ticket_store.create(
        ctx.conn, conversation_id=ctx.state.id, reason=reason, kelurahan_code=kel, now=now, due=due
    )
    await ticket_store.add_message(ctx.conn, tid, "resident", first_message[:4000], now)
    ctx.notified += await alerts.ticket_opened(ctx.conn, tid, kel, now=now, deps=ctx.deps)
    ctx.hand_to_staff("handoff", "waiting")
    lines = [
        ctx._(
            "Your question has been passed to an officer (ticket T-{id}). "
            "The answer will come here.",
            id=tid,
        )
    ]
    opens = next_open(cfg.office_hours, now)
    if opens > now:
        lines.append(
            ctx._(
                "The office is closed now ({hours}). An officer will answer from {when}.",
                hours=_hours_text(ctx),
                when=ctx.t.datetime(opens),
            )
        )
    else:
        lines.append(
            ctx._("An officer will answer by {when} at the latest.", when=ctx.t.datetime(due))
        )
    lines.append(
        ctx._(
            "You may send more messages. Type selesai when you are done, or menu "
            "to go back to the bot."
        )
    )
    ctx.say("\n\n".join(lines))
    return tid


async def staff_owned(ctx: Ctx, inp: Input, action: str | None) -> None:
    """Input while staff own the conversation: added to the ticket, no reply; `menu`,
    `batal`, `selesai` end the ticket."""
    st = ctx.state
    ticket = await ticket_store.open_of_conversation(ctx.conn, st.id)
    ending = action in ("menu", "cancel", "start") or (inp.kind == "text" and inp.word in END_WORDS)
    if ticket is None:  # closed meanwhile (staff closed it a moment ago): back to the bot
        ctx.hand_back()
        await ctx.engine.hooks.to_menu(ctx)
        return
    if ending:
        await ticket_store.close(ctx.conn, ticket.id, ctx.now, by="resident")
        await ticket_store.add_message(
            ctx.conn, ticket.id, "system", "Warga mengakhiri percakapan.", ctx.now
        )
        ctx.hand_back()
        ctx.note(ctx._("The conversation with the officer has ended. Thank you."))
        await ctx.engine.hooks.to_menu(ctx)
        return
    body = _describe(inp)
    await ticket_store.add_message(ctx.conn, ticket.id, "resident", body, ctx.now)
    await ticket_store.update(ctx.conn, ticket.id, {"last_message_at": ctx.now})
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

# The rating buttons and text (services.tickets.rating_reply): staff closing the ticket send
# the same message.


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
    await ticket_store.rate(ctx.conn, tid, value)
    ctx.note(ctx._("Thank you for your rating."))
    await ctx.engine.hooks.to_menu(ctx)
