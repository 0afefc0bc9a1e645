"""Staff alerts, the chat side: a Dinsos staff member links this chat to their dashboard account
with the one-time code from the dashboard page "Akun saya" (STF-XXXX-XXXX), and from then on
the chat receives their alerts (services/alerts.py); `/petugas` shows the link and unlinks.

The code works typed anywhere, in any case, with spaces or dashes: the engine hands every text
to `code_typed` before the step sees it (`EngineHooks.before_step`, conversations/hooks.py), the
understanding layer's `spot_entities` finds the code in it (entity `staff_code`), and the chat
is linked without leaving the step it was at (the step is asked again under the confirmation).
A text without "stf" in it costs one substring test. Codes that do not work
are limited per chat as ketua RT codes are (conversations/guesses.py) and all get the same answer.
docs/staff.md.
"""

from __future__ import annotations

from conversations.guesses import Guesses
from core.engine import Ctx, Flow, Input
from core.i18n import L_
from core.understanding import spot_entities
from services import alerts

staff_link = Flow("staff_link")

# As for ketua RT codes: codes that did not work are limited per chat (conversations/guesses.py).
GUESSES = Guesses("__stf_fail")


async def _link(ctx: Ctx, code: str) -> bool:
    """Try the code; put the answer as a note on the next message. True when linked."""
    if refusal := GUESSES.locked(ctx):
        ctx.note(refusal)
        return False
    account = await alerts.link_chat(ctx.conn, code, ctx.state.id, ctx.now)
    if account is None:
        GUESSES.failed(ctx)
        ctx.note(
            ctx._(
                "This code is not valid: it may be mistyped, already used or expired. "
                "Create a new code on the dashboard page Akun saya."
            )
        )
        return False
    GUESSES.worked(ctx)
    ctx.note(
        ctx._(
            "This chat is now linked to the staff account of {name}. Staff alerts will come "
            "here. Type /petugas to see the link or to stop the alerts.",
            name=account.name,
        )
    )
    return True


async def code_typed(ctx: Ctx, inp: Input) -> bool:
    """A staff link code in a text (at any step, before the step sees it: the engine's
    `before_step` hook): link, then ask the step again. True when the text held a code."""
    if inp.kind != "text" or "stf" not in inp.text.lower():  # cheap: most texts stop here
        return False
    code = spot_entities(inp.text).get("staff_code")
    if not code:
        return False
    await _link(ctx, code)
    await ctx.reask()
    return True


@staff_link.ask("status")
async def ask_status(ctx: Ctx) -> None:
    account = await alerts.account_of_chat(ctx.conn, ctx.state.id)
    if account is None:
        await ctx.goto("staff_link", "code")
        return
    ctx.say(
        ctx._(
            "This chat receives the staff alerts of {name} (new questions, escalations, "
            "reports past their deadline).",
            name=account.name,
        ),
        [ctx.choice("s:unlink", L_("Stop alerts")), ctx.choice("g:menu", L_("Main menu"))],
    )


@staff_link.on("status")
async def on_status(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "s:unlink":
        done = await alerts.unlink_chat(
            ctx.conn, ctx.state.id, actor=f"conversation:{ctx.state.id}", now=ctx.now
        )
        ctx.say(
            ctx._("Done. This chat no longer receives staff alerts.")
            if done
            else ctx._("This chat is not linked to a staff account."),
            [ctx.choice("g:menu", L_("Main menu"))],
        )
        ctx.rest_in_menu()
    else:
        await ctx.not_understood()


@staff_link.ask("code")
async def ask_code(ctx: Ctx) -> None:
    ctx.say(
        ctx._(
            "For Dinsos staff: this chat is not linked to a staff account. To receive staff "
            "alerts here, create a link code on the dashboard page Akun saya and type it here "
            "(for example STF-7KQ4-M9XD)."
        ),
        [ctx.choice("g:menu", L_("Main menu"))],
    )


@staff_link.on("code")
async def on_code(ctx: Ctx, inp: Input) -> None:
    code = alerts.normalize_link_code(inp.text) if inp.kind == "text" else None
    if code is None:
        await ctx.not_understood()
        return
    if await _link(ctx, code):
        ctx.say("", [ctx.choice("g:menu", L_("Main menu"))])
        ctx.rest_in_menu()
    else:
        await ctx.reask()
