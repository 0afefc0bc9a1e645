"""First contact: the privacy notice with the anti-fraud line, consent (logged with the notice
version), then the language. `/bahasa` reuses the language step later.

When the first message (before any language was chosen) is written in Sundanese or Javanese
(`core.i18n.guess_locale`), the notice says, in that language, that it can be used, with a
button for it, and the language step offers it first."""

from __future__ import annotations

from conversations.texts import notice_text
from core.engine import Ctx, Flow, Input
from core.i18n import L_, LANGUAGE_NAMES, guess_locale, texts
from core.model import Choice
from db import conversation_store

start = Flow("start")
language = Flow("language")

# The languages offered, each named in itself (marked for the catalogs: labels fit in 20).
LANGUAGES = {
    "id": L_("Bahasa Indonesia"),
    "su": L_("Basa Sunda"),
    "jv": L_("Basa Jawa"),
    "en": L_("English"),
}
assert set(LANGUAGES) == set(LANGUAGE_NAMES)
# The language the resident seems to write in (kept across flows until a language is chosen).
HINT = "__lang_hint"
# Typed answers at the language step.
LANGUAGE_WORDS = {
    "indonesia": "id",
    "bahasa indonesia": "id",
    "id": "id",
    "english": "en",
    "inggris": "en",
    "en": "en",
    "sunda": "su",
    "basa sunda": "su",
    "bahasa sunda": "su",
    "su": "su",
    "jawa": "jv",
    "jawi": "jv",
    "jowo": "jv",
    "basa jawa": "jv",
    "bahasa jawa": "jv",
    "boso jowo": "jv",
    "jv": "jv",
}


def _language_hint(ctx: Ctx) -> str | None:
    """The regional language the resident wrote this message in, while none was chosen."""
    if ctx.state.locale is not None or ctx.event.kind != "text":
        return None
    guess = guess_locale(str(ctx.event.payload.get("text", "")))
    if guess is not None and guess != ctx.t.locale:
        ctx.data[HINT] = guess
    return ctx.data.get(HINT)


@start.ask("notice")
async def ask_notice(ctx: Ctx) -> None:
    hint = _language_hint(ctx)
    if hint is not None:
        # Said in the resident's own language, above the notice; its button replaces
        # "Bahasa/Language" (three buttons stay buttons on WhatsApp; "bahasa" still works).
        own = texts(hint)
        ctx.note(
            own._(
                "You can use this service in {language}: tap {language}.",
                language=LANGUAGE_NAMES[hint],
            )
        )
        other = Choice(f"l:{hint}", own._(LANGUAGES[hint]))
    else:
        other = ctx.choice("g:language", L_("Bahasa/Language"))
    ctx.say(
        notice_text(ctx) + "\n\n" + ctx._("Do you agree?"),
        [
            ctx.choice("c:agree", L_("I agree")),
            ctx.choice("c:decline", L_("I do not agree")),
            other,
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


# Typed answers to the notice, beside the buttons and their labels (Sundanese and Javanese too).
AGREE_WORDS = ("setuju", "ya", "agree", "yes", "ok", "satuju", "muhun", "sumuhun", "nggih", "iya")
DECLINE_WORDS = ("tidak setuju", "tidak", "no", "teu satuju", "henteu", "ora setuju", "mboten")


@start.on("notice")
async def on_notice(ctx: Ctx, inp: Input) -> None:
    chosen = _chosen_language(inp)
    if chosen is not None:  # the notice's button for their language, or its name typed
        ctx.set_locale(chosen)
        ctx.data[HINT] = chosen  # still offered first at the language step, after consent
        await ctx.reask()
    elif inp.choice == "c:agree" or inp.word in AGREE_WORDS:
        await _log_consent(ctx, "agree")
        ctx.state.consent_version = ctx.deps.programs.notice_version
        ctx.note(ctx._("Thank you."))
        await ctx.goto("language", "choose")
    elif inp.choice == "c:decline" or inp.word in DECLINE_WORDS:
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
    elif HINT not in ctx.data and _language_hint(ctx) is not None:
        await ctx.reask()  # written in Sundanese or Javanese: the notice offers that language
    else:
        await ctx.not_understood(ctx._("Please choose I agree or I do not agree."))


@start.ask("declined")
async def ask_declined(ctx: Ctx) -> None:
    await ask_notice(ctx)


@start.on("declined")
async def on_declined(ctx: Ctx, inp: Input) -> None:
    ctx.rest_at("start", "notice")
    await ask_notice(ctx)


def _chosen_language(inp: Input) -> str | None:
    if inp.choice and inp.choice.startswith("l:") and inp.choice[2:] in LANGUAGES:
        return inp.choice[2:]
    return LANGUAGE_WORDS.get(inp.word)


@language.ask("choose")
async def ask_language(ctx: Ctx) -> None:
    order = list(LANGUAGES)
    hint = ctx.data.get(HINT)
    if hint in LANGUAGES:  # the language they wrote in comes first
        order.remove(hint)
        order.insert(0, hint)
    ctx.say(
        ctx._("Choose a language / Pilih bahasa:"),
        [ctx.choice(f"l:{loc}", LANGUAGES[loc]) for loc in order],
    )


@language.on("choose")
async def on_language(ctx: Ctx, inp: Input) -> None:
    loc = _chosen_language(inp)
    if loc is None:
        await ctx.not_understood(ctx._("Please choose a language with the buttons."))
        return
    ctx.data.pop(HINT, None)
    before = ctx.state.locale
    ctx.set_locale(loc)
    if ctx.state.consent_version != ctx.deps.programs.notice_version:
        await ctx.goto("start", "notice")  # language chosen from the notice: show it again
        return
    if before == loc:  # the language they already had: say it stays, not that it changed
        ctx.note(ctx._("The language stays English."))
    else:
        ctx.note(ctx._("Language set to English."))
    await ctx.goto("menu", "main")
