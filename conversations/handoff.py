"""Human handoff: a resident asks a person; Dinsos staff answer from the dashboard.

Resident side (flows `handoff` and `rating`; docs/handoff.md):
- "Hubungi petugas" (g:contact, on the menu, after two misunderstandings, and as "Balas petugas"
  on a relayed answer) asks for the question in one message, with the office's phone and hours.
  The message opens a ticket, the conversation's owner becomes "staff" (the ticket chat), and
  the resident is told when to expect an answer. With a ticket already open, g:contact goes
  back into that ticket's chat instead of opening another.
- In the ticket chat the bot is silent: everything the resident sends is added to the ticket
  (after a pause of 30 minutes, the first message gets one line saying where it went).
  `menu`, `batal`, `selesai`, /start, /cek, a language change or a menu button leave the chat
  and the ticket stays OPEN: the bot says once that the question still waits (ticket number)
  and the answer will come here, and goes where the resident asked.
- Only staff close a question, or the resident withdraws it: "Tarik pertanyaan" (h:withdraw)
  in the ticket chat, then a confirmation (h:wd:yes / h:wd:no). A withdrawn ticket is closed
  with closed_by = "resident" and the system message "Warga menarik pertanyaan."
- When staff close the ticket the resident is asked to rate the answer 1–5 (buttons).

The staff side (assign, reply, note, close, the SLA job) is services/tickets.py.
"""

from __future__ import annotations

from conversations import limits
from conversations.texts import office_hours_text
from core.engine import CHOICES, IDLE_AFTER, MENU, Ctx, Flow, Input
from core.i18n import L_
from db import queries, ticket_store
from domain.cleaning import decimal_number
from domain.office_hours import add_office_hours, next_open
from services import alerts
from services.tickets import WITHDRAWN_NOTE, rating_reply

handoff = Flow("handoff")
rating = Flow("rating")

# Words that leave the ticket chat (the ticket stays open). Not "sudah" or "cukup": in a chat
# with an officer they are answers, and go to the ticket.
LEAVE_WORDS = {"selesai", "done", "finish", "end", "keluar", "exit"}
# Global actions that leave the ticket chat and go where the resident asked.
LEAVE_ACTIONS = {"menu", "cancel", "start", "check", "language"}
MIN_QUESTION = 3

WITHDRAW = "h:withdraw"
WITHDRAW_YES = "h:wd:yes"
WITHDRAW_NO = "h:wd:no"
YES_WORDS = {"ya", "y", "yes", "iya", "ok", "oke"}
NO_WORDS = {"tidak", "tdk", "no", "nggak", "gak", "enggak", "jangan"}


def _hours_text(ctx: Ctx) -> str:
    return office_hours_text(ctx)


def _chat_choices(ctx: Ctx):
    return [ctx.choice(WITHDRAW, L_("Withdraw question")), ctx.choice("g:menu", L_("Main menu"))]


# ------------------------------------------------------------------ resident: ask a question


@handoff.ask("ask")
async def ask_question(ctx: Ctx) -> None:
    ticket = await ticket_store.open_of_conversation(ctx.conn, ctx.state.id)
    if ticket is not None:  # one question at a time: back into its chat
        ctx.pop_stuck()
        ctx.hand_to_staff("handoff", "waiting")
        ctx.say(
            ctx._(
                "Your question (ticket T-{id}) is still open. Type your message here; "
                "the officer will read it with your question, and the answer will come here.",
                id=ticket.id,
            ),
            _chat_choices(ctx),
        )
        return
    if await limits.reached(ctx, limits.TICKETS):  # [limits] tickets_per_day
        return
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
    if await limits.reached(ctx, limits.TICKETS):
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
            "You may send more messages. Meanwhile you may use the menu: "
            "your question stays open until an officer answers it."
        )
    )
    ctx.say("\n\n".join(lines), _chat_choices(ctx))
    return tid


# ------------------------------------------------------------------ resident: the ticket chat


async def staff_owned(ctx: Ctx, inp: Input, action: str | None) -> None:
    """Input while staff own the conversation (the ticket chat): added to the ticket, no reply.
    Leaving (menu, batal, selesai, /start, a menu button) keeps the ticket open; only the
    confirmed "Withdraw question" closes it from this side."""
    st = ctx.state
    ticket = await ticket_store.open_of_conversation(ctx.conn, st.id)
    if ticket is None:  # closed meanwhile (staff closed it a moment ago): back to the bot
        ctx.hand_back()
        await ctx.engine.hooks.to_menu(ctx)
        return
    tid = int(ticket.id)
    confirming = st.step == "withdraw"
    picked = _picked(st.data.get(CHOICES) or [], inp, numbers=confirming)
    if action in LEAVE_ACTIONS or (inp.kind == "text" and inp.word in LEAVE_WORDS):
        await _leave(ctx, tid)
        if action in ("check", "language"):
            await ctx.engine.hooks.global_action(ctx, action)
        else:
            await ctx.engine.hooks.to_menu(ctx)
        return
    if inp.kind == "choice" and (inp.choice or "").startswith("m:"):
        await _leave(ctx, tid)  # another service, from a menu still on screen
        await ctx.forward(*MENU, inp)
        return
    if action == "contact":  # "Hubungi petugas" / "Balas petugas": already in the chat
        ctx.rest_at("handoff", "waiting")
        ctx.say(
            ctx._(
                "You are in the chat about your question (ticket T-{id}). Type your message; "
                "the officer will read it here.",
                id=tid,
            ),
            _chat_choices(ctx),
        )
        return
    if picked == WITHDRAW or (picked == WITHDRAW_YES and not confirming):
        ctx.rest_at("handoff", "withdraw")
        ctx.say(
            ctx._(
                "Withdraw your question (ticket T-{id})? An officer will then no longer answer it.",
                id=tid,
            ),
            [
                ctx.choice(WITHDRAW_YES, L_("Yes, withdraw")),
                ctx.choice(WITHDRAW_NO, L_("No, keep my question")),
            ],
        )
        return
    word = inp.word if inp.kind == "text" else ""
    if confirming and (picked == WITHDRAW_YES or word in YES_WORDS):
        await withdraw(ctx, tid)
        return
    if confirming or picked == WITHDRAW_NO:
        ctx.rest_at("handoff", "waiting")
        if picked == WITHDRAW_NO or word in NO_WORDS:
            ctx.say(
                ctx._(
                    "Your question (ticket T-{id}) stays open. The answer will come here.",
                    id=tid,
                ),
                _chat_choices(ctx),
            )
            return
        # Something else: it is a message for the officer, and the question stays.
        await _append(ctx, tid, _describe(inp))
        ctx.say(
            ctx._(
                "Your question (ticket T-{id}) stays open; your message was added to it.",
                id=tid,
            ),
            _chat_choices(ctx),
        )
        return
    await _append(ctx, tid, _describe(inp))
    # Silent on purpose: the officer answers. The misunderstanding counter is not touched.
    # After a pause (coming back hours later, e.g. to answer the officer) one line says where
    # the message went, and how to reach the bot.
    if ctx.now - st.last_activity_at > IDLE_AFTER:
        ctx.say(
            ctx._(
                "Your message was added to your question (ticket T-{id}); the officer will "
                "answer here. Type menu to use the bot meanwhile.",
                id=tid,
            ),
            _chat_choices(ctx),
        )


async def withdraw(ctx: Ctx, tid: int) -> None:
    """The resident withdraws the question (confirmed): the ticket is closed by them."""
    await ticket_store.close(ctx.conn, tid, ctx.now, by="resident")
    await ticket_store.add_message(ctx.conn, tid, "system", WITHDRAWN_NOTE, ctx.now)
    ctx.hand_back()
    ctx.note(
        ctx._("You withdrew your question (ticket T-{id}). An officer will not answer it.", id=tid)
    )
    await ctx.engine.hooks.to_menu(ctx)


async def _leave(ctx: Ctx, tid: int) -> None:
    """Out of the ticket chat, back to the bot; the ticket stays open (said once, here)."""
    ctx.hand_back()
    ctx.note(
        ctx._(
            "Your question (ticket T-{id}) still waits for an officer; the answer will come here.",
            id=tid,
        )
    )


async def _append(ctx: Ctx, tid: int, body: str) -> None:
    await ticket_store.add_message(ctx.conn, tid, "resident", body, ctx.now)
    await ticket_store.update(ctx.conn, tid, {"last_message_at": ctx.now})


def _picked(offered: list[list[str]], inp: Input, *, numbers: bool) -> str | None:
    """The withdraw button this input picks in the ticket chat (the engine does not resolve
    choices while staff own the conversation): a tapped id or a typed label; a typed number
    only at the confirmation (in the chat a number is an answer for the officer)."""
    if inp.kind == "choice":
        return inp.choice if inp.choice in (WITHDRAW, WITHDRAW_YES, WITHDRAW_NO) else None
    if inp.kind != "text":
        return None
    word = " ".join(inp.word.split())
    shown = [c for c in offered if len(c) > 1 and c[1]]
    n = decimal_number(word) if numbers else None
    if n is not None and 1 <= n <= len(shown):
        return shown[n - 1][0]
    for cid, label in shown:
        if " ".join(label.lower().split()) == word:
            return cid
    return None


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
        value = decimal_number(inp.choice[2:])
    elif inp.kind == "text":
        value = decimal_number(inp.word)  # "4", "⁴", "④": any digits, never a ValueError
    if value is not None and not 1 <= value <= 5:
        value = None
    tid = ctx.data.get("ticket")
    if value is None or not tid:
        await ctx.engine.hooks.to_menu(ctx)  # they moved on; the rating is optional
        return
    await ticket_store.rate(ctx.conn, tid, value)
    ctx.note(ctx._("Thank you for your rating."))
    await ctx.engine.hooks.to_menu(ctx)
