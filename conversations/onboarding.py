"""First contact: the privacy notice with the anti-fraud line, consent (logged with the notice
version), then the language. `/bahasa` reuses the language step later."""

from __future__ import annotations

from conversations.texts import notice_text
from core.engine import Ctx, Flow, Input
from core.i18n import L_
from db import conversation_store

start = Flow("start")
language = Flow("language")


@start.ask("notice")
async def ask_notice(ctx: Ctx) -> None:
    ctx.say(
        notice_text(ctx) + "\n\n" + ctx._("Do you agree?"),
        [
            ctx.choice("c:agree", L_("I agree")),
            ctx.choice("c:decline", L_("I do not agree")),
            ctx.choice("g:language", L_("Bahasa/Language")),
        ],
    )


async def _log_consent(ctx: Ctx, decision: str) -> None:
    st = ctx.state
    await conversation_store.log_consent(
        ctx.conn,
        user_key=st.user_key,
        channel=st.channel,
        notice_version=ctx.deps.programs.notice_version,
        decision=decision,
        locale=ctx.t.locale,
        at=ctx.now,
    )


@start.on("notice")
async def on_notice(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "c:agree" or inp.word in ("setuju", "ya", "agree", "yes", "ok"):
        await _log_consent(ctx, "agree")
        ctx.state.consent_version = ctx.deps.programs.notice_version
        ctx.note(ctx._("Thank you."))
        await ctx.goto("language", "choose")
    elif inp.choice == "c:decline" or inp.word in ("tidak setuju", "tidak", "no"):
        await _log_consent(ctx, "decline")
        ctx.say(
            ctx._(
                "We respect your choice. Without your agreement we cannot check your data "
                "here. You can still visit your kelurahan office, or contact {office}: "
                "{phone}.\nSend any message to read the notice again.",
                office=ctx.deps.programs.office,
                phone=ctx.deps.programs.office_phone,
            )
        )
        ctx.rest_at("start", "declined")
    else:
        await ctx.not_understood(ctx._("Please choose I agree or I do not agree."))


@start.ask("declined")
async def ask_declined(ctx: Ctx) -> None:
    await ask_notice(ctx)


@start.on("declined")
async def on_declined(ctx: Ctx, inp: Input) -> None:
    ctx.rest_at("start", "notice")
    await ask_notice(ctx)


@language.ask("choose")
async def ask_language(ctx: Ctx) -> None:
    ctx.say(
        ctx._("Choose a language / Pilih bahasa:"),
        [
            ctx.choice("l:id", L_("Bahasa Indonesia")),
            ctx.choice("l:en", L_("English")),
        ],
    )


@language.on("choose")
async def on_language(ctx: Ctx, inp: Input) -> None:
    words = {
        "indonesia": "id",
        "bahasa indonesia": "id",
        "id": "id",
        "english": "en",
        "inggris": "en",
        "en": "en",
    }
    loc = inp.choice[2:] if inp.choice in ("l:id", "l:en") else words.get(inp.word)
    if loc is None:
        await ctx.not_understood(ctx._("Please choose a language with the buttons."))
        return
    ctx.set_locale(loc)
    if ctx.state.consent_version != ctx.deps.programs.notice_version:
        await ctx.goto("start", "notice")  # language chosen from the notice: show it again
        return
    ctx.note(ctx._("Language set to English."))
    await ctx.goto("menu", "main")
