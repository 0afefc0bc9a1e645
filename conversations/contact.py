"""A phone number an officer may call, asked with its purpose (a report, a KUBE proposal, a UEP
application), always optional.

Other flows send the resident here with `offer(ctx, purpose, ref, label=..., then=...)` after
the matter is committed; the flow comes back to `then` (a flow and step) or rests at the menu.
How the number arrives depends on what the channel can do, never on its name:
- the "Share my number" choice (`core.model.SHARE_CONTACT`): Telegram renders it as its
  share-contact button and the reply is a `contact` input with the resident's own number;
  WhatsApp turns its tap into a `contact` input with the number they write from, which they
  have not seen, so it is shown masked and confirmed (Yes / Other number / Skip); elsewhere
  (the terminal, the simulator) it stays a choice and the number is asked to be typed;
- a typed number is accepted at every step (domain/phone.py normalises 08…, +62…, 62…);
- a number given earlier in this conversation is offered again for the new purpose, masked, and
  used only if the resident says yes (a number is given for one matter, not for all).
Stored in `contact_numbers` (db/contact_store.py) under the privacy notice; never logged; shown
to staff on the report / proposal page; deleted by retention (docs/privacy.md).
"""

from __future__ import annotations

from conversations import identity
from core.engine import MENU, Ctx, Flow, Input
from core.i18n import L_, N_
from core.model import SHARE_CONTACT, Choice
from core.notify import notify
from db import contact_store as store
from domain import phone as P

contact = Flow("contact")

# The errand this number is for, while the contact flow runs (not carried: leaving the flow for
# another one, the menu or an idle reset, forgets it).
KEY = "contact"
# What the resident reads for each purpose ({ref}: the report code, the KUBE name, UEP-00001).
PURPOSES = {
    "report": N_("your report {ref}"),
    "kube": N_("the KUBE proposal {ref}"),
    "uep": N_("your UEP application {ref}"),
}
SKIP_WORDS = ("lewati", "skip", "tidak", "no", "nggak", "gak", "tidak usah", "tidak perlu", "-")
YES_WORDS = ("ya", "yes", "iya", "boleh", "ok", "oke")


async def offer(
    ctx: Ctx,
    purpose: str,
    ref: str,
    *,
    label: str | None = None,
    then: tuple[str, str] | None = None,
) -> None:
    """Ask for a number an officer may call about this matter (optional), then go to `then`
    (or rest at the menu, where the last message offers its own way on). `ref` is what staff
    pages look the number up by; `label` what the resident reads (default: `ref`). A number
    already given for this matter is not asked again."""
    assert purpose in PURPOSES
    if await store.for_matter(ctx.conn, ctx.state.id, purpose, ref) is not None:
        if then is not None:
            await ctx.goto(*then, keep=True)
        return
    ctx.data[KEY] = {
        "purpose": purpose,
        "ref": ref,
        "label": label or ref,
        "then": list(then) if then else None,
        # The caller told the resident through the outbox (a report's code, queued with the
        # report): the question is queued behind it, so it cannot overtake it.
        "queue": bool(ctx.notified),
    }
    await ctx.goto("contact", "ask", keep=True)


def _errand(ctx: Ctx) -> dict:
    return ctx.data.get(KEY) or {}


def _what(ctx: Ctx) -> str:
    e = _errand(ctx)
    return ctx._(PURPOSES.get(e.get("purpose", ""), PURPOSES["report"]), ref=e.get("label", ""))


def _skip(ctx: Ctx) -> Choice:
    return ctx.choice("ct:skip", L_("Skip"))


def _skipped(inp: Input) -> bool:
    return inp.choice == "ct:skip" or (inp.kind == "text" and inp.word in SKIP_WORDS)


# --- ask -------------------------------------------------------------------------------------


@contact.ask("ask")
async def ask_ask(ctx: Ctx) -> None:
    if not _errand(ctx):  # nothing to ask for (an older state): back to the menu
        await ctx.goto(*MENU)
        return
    before = await store.latest(ctx.conn, ctx.state.id)
    choices: list[Choice] = []
    if before:
        ctx.data["before"] = before
        choices.append(
            Choice("ct:before", ctx._("Yes, {phone}", phone=P.masked(before))),
        )
    choices += [ctx.choice(SHARE_CONTACT, L_("Share my number")), _skip(ctx)]
    ctx.say(
        ctx._(
            "May an officer call you about {what} if they need to? This is optional: without "
            "a number we keep you informed here in this chat.\n"
            "If yes, tap Share my number or type your phone number (for example 0812 3456 "
            "7890). It is used only for this and deleted after {months} months.",
            what=_what(ctx),
            months=ctx.deps.programs.contact_retention_months,
        ),
        choices,
    )
    if _errand(ctx).pop("queue", False):
        question = ctx.replies.pop()
        ctx.notified += await notify(
            ctx.conn,
            ctx.state.id,
            lambda t: question,
            now=ctx.now,
            default_locale=ctx.deps.default_locale,
        )


@contact.on("ask")
async def on_ask(ctx: Ctx, inp: Input) -> None:
    if _skipped(inp):
        await _skip_done(ctx)
    elif inp.choice == "ct:before" and ctx.data.get("before"):
        await _save(ctx, ctx.data["before"], "reused")
    elif inp.choice == SHARE_CONTACT:  # the channel cannot share it: typed, then
        await ctx.goto("contact", "type", keep=True)
    else:
        await _given(ctx, inp)


async def _given(ctx: Ctx, inp: Input) -> None:
    """A shared contact or a typed number, at any step of this flow."""
    if inp.kind == "contact":
        phone = P.normalize(inp.payload.get("phone"), international=True)
        if inp.payload.get("phone"):
            await _redact(ctx)
        if not inp.payload.get("own") or phone is None:
            await ctx.not_understood(
                ctx._(
                    "That is not your own number. Please tap Share my number, type your "
                    "number, or tap Skip."
                )
            )
            return
        if not inp.payload.get("seen"):  # the number they write from: show it, ask first
            ctx.data["offered"] = phone
            await ctx.goto("contact", "confirm", keep=True)
            return
        await _save(ctx, phone, "shared")
        return
    phone = P.normalize(inp.text) if inp.kind == "text" else None
    if phone is not None:
        await _redact(ctx)
        await _save(ctx, phone, "typed")
    elif inp.kind == "text" and P.looks_like_phone(inp.text):
        await ctx.not_understood(
            ctx._(
                "That does not look like a phone number. Type it like 0812 3456 7890, or tap Skip."
            )
        )
    else:
        await ctx.not_understood()


async def _redact(ctx: Ctx) -> None:
    """The stored inbound message gives up its copy of the number (kept in contact_numbers)."""
    await store.redact_event(ctx.conn, ctx.event.channel, ctx.event.external_id)


# --- confirm the number the channel gave ---------------------------------------------------------


@contact.ask("confirm")
async def ask_confirm(ctx: Ctx) -> None:
    phone = ctx.data.get("offered")
    if not phone:
        await ctx.goto("contact", "ask", keep=True)
        return
    ctx.say(
        ctx._(
            "You write from {phone}. May an officer call you on this number about {what}?",
            phone=P.masked(phone),
            what=_what(ctx),
        ),
        [
            ctx.choice("ct:yes", L_("Yes")),
            ctx.choice("ct:other", L_("Use another number")),
            _skip(ctx),
        ],
    )


@contact.on("confirm")
async def on_confirm(ctx: Ctx, inp: Input) -> None:
    if _skipped(inp):
        await _skip_done(ctx)
    elif inp.choice == "ct:yes" or (inp.kind == "text" and inp.word in YES_WORDS):
        await _save(ctx, ctx.data["offered"], "shared")
    elif inp.choice == "ct:other":
        await ctx.goto("contact", "type", keep=True)
    else:
        await _given(ctx, inp)


# --- type it -----------------------------------------------------------------------------------


@contact.ask("type")
async def ask_type(ctx: Ctx) -> None:
    ctx.say(
        ctx._("Type the phone number an officer may call (for example 0812 3456 7890)."),
        [_skip(ctx)],
    )


@contact.on("type")
async def on_type(ctx: Ctx, inp: Input) -> None:
    if _skipped(inp):
        await _skip_done(ctx)
    else:
        await _given(ctx, inp)


# --- done --------------------------------------------------------------------------------------


async def _save(ctx: Ctx, phone: str, source: str) -> None:
    e = _errand(ctx)
    await store.save(
        ctx.conn,
        conversation_id=ctx.state.id,
        household_id=identity.household_id(ctx),
        purpose=e["purpose"],
        ref=e["ref"],
        phone=phone,
        source=source,
        now=ctx.now,
    )
    text = ctx._(
        "Thank you. An officer may call you at {phone} about {what}. We also keep you "
        "informed here in this chat.",
        phone=P.masked(phone),
        what=_what(ctx),
    )
    await _leave(ctx, text, forget=True)


async def _skip_done(ctx: Ctx) -> None:
    await _leave(
        ctx,
        ctx._("All right. An officer will keep you informed here in this chat."),
        forget=False,
    )


async def _leave(ctx: Ctx, text: str, *, forget: bool) -> None:
    e = ctx.data.pop(KEY, None) or {}
    for k in ("before", "offered"):
        ctx.data.pop(k, None)
    then = e.get("then")
    if then:
        ctx.note(text)
        await ctx.goto(then[0], then[1], keep=True)
        return
    choices = [ctx.choice("g:menu", L_("Main menu"))]
    if forget:  # the number can be taken back from the message that confirms it
        choices.append(ctx.choice("ct:forget", L_("Remove my number")))
        ctx.data["given"] = [e.get("purpose"), e.get("ref")]
    ctx.say(text, choices)
    ctx.rest_at("contact", "done")


@contact.on("done")
async def on_done(ctx: Ctx, inp: Input) -> None:
    given = ctx.data.get("given")
    if inp.choice == "ct:forget" and given:
        await store.forget(ctx.conn, conversation_id=ctx.state.id, purpose=given[0], ref=given[1])
        ctx.data.pop("given", None)
        ctx.say(
            ctx._("Your number is removed. An officer will keep you informed here in this chat."),
            [ctx.choice("g:menu", L_("Main menu"))],
        )
        ctx.rest_in_menu()
        return
    await ctx.forward(*MENU, inp)  # anything else is for the menu, where the errand ended
