"""UEP (Usaha Ekonomi Produktif): a matched resident whose household meets the UEP rule applies
for aid to the business they already run: what it is, how long it has run, what the aid would
buy. Staff decide (cli/uep.py, web/proposals.py, via services/uep.py's `decide`); the resident is
told in their own language.
"""

from __future__ import annotations

from conversations import contact, identity
from conversations.intents import not_an_answer
from core.engine import Ctx, Flow, Input
from core.i18n import L_, N_
from db import kube_store as store
from domain.clock import JAKARTA
from services.uep import ref

uep = Flow("uep")
DURATIONS = {
    "lt1": N_("Less than 1 year"),
    "1to3": N_("1 to 3 years"),
    "gt3": N_("More than 3 years"),
}
LABELS = {"lt1": L_("Under 1 year"), "1to3": L_("1–3 years"), "gt3": L_("Over 3 years")}
STATUS = {
    "DIAJUKAN": N_("submitted, waiting for the Dinsos decision"),
    "DISETUJUI": N_("approved"),
    "DITOLAK": N_("rejected"),
}


def _cancel(ctx: Ctx):
    return [ctx.choice("g:cancel", L_("Cancel"))]


@uep.ask("start")
async def ask_start(ctx: Ctx) -> None:
    if not await identity.require_match(ctx, "uep", "start"):
        return
    pid = identity.person_id(ctx)
    open_ = await store.open_uep(ctx.conn, pid)
    if open_ is not None:
        ctx.say(
            ctx._(
                "You already applied for UEP ({ref}, {date}). Status: {status}. "
                "We will tell you the decision here.",
                ref=ref(open_.id),
                date=ctx.t.date(open_.created_at.astimezone(JAKARTA).date()),
                status=ctx._(STATUS[open_.status]),
            ),
            [ctx.choice("g:menu", L_("Main menu"))],
        )
        ctx.rest_in_menu()
        return
    me = await store.person(ctx.conn, pid, ctx.deps.programs, ctx.now.astimezone(JAKARTA).date())
    rule = ctx.deps.programs.programs.get("UEP")
    if not me.eligible.get("UEP"):
        lo, hi = rule.desil if rule and rule.desil else (1, 4)
        ctx.say(
            ctx._(
                "By the data, your family does not meet the UEP rule now: UEP is for desil "
                "{min}–{max}, your family is in desil {desil}.\n"
                "If you think the data is wrong, an officer can help.",
                min=lo,
                max=hi,
                desil=me.desil,
            ),
            [
                ctx.choice("g:contact", L_("Contact an officer")),
                ctx.choice("g:menu", L_("Main menu")),
            ],
        )
        ctx.rest_in_menu()
        return
    await ctx.goto("uep", "business", keep=True)


@uep.on("start")
async def on_start(ctx: Ctx, inp: Input) -> None:
    await ctx.reask()


@uep.ask("business")
async def ask_business(ctx: Ctx) -> None:
    ctx.say(
        ctx._(
            "UEP helps a business you already run.\n"
            "What is your business? (e.g. selling fried snacks at home)"
        ),
        _cancel(ctx),
    )


def _text(inp: Input, lo: int, hi: int) -> str | None:
    s = " ".join(inp.text.split()) if inp.kind == "text" else ""
    return s if lo <= len(s) <= hi else None


@uep.on("business")
async def on_business(ctx: Ctx, inp: Input) -> None:
    if await not_an_answer(ctx, inp, story=True):
        return
    s = _text(inp, 5, 160)
    if s is None:
        await ctx.not_understood(ctx._("Please describe your business in 5–160 characters."))
        return
    ctx.data["business"] = s
    await ctx.goto("uep", "duration", keep=True)


@uep.ask("duration")
async def ask_duration(ctx: Ctx) -> None:
    ctx.say(
        ctx._("How long has the business been running?"),
        [
            *[ctx.choice(f"d:{k}", v) for k, v in LABELS.items()],
            ctx.choice("g:cancel", L_("Cancel")),
        ],
    )


@uep.on("duration")
async def on_duration(ctx: Ctx, inp: Input) -> None:
    c = inp.choice or ""
    if not (c.startswith("d:") and c[2:] in DURATIONS):
        await ctx.not_understood(ctx._("Please tap one of the answers."))
        return
    ctx.data["duration"] = c[2:]
    await ctx.goto("uep", "needs", keep=True)


@uep.ask("needs")
async def ask_needs(ctx: Ctx) -> None:
    ctx.say(
        ctx._("What would the aid buy? (e.g. a bigger frying pan and a gas stove)"), _cancel(ctx)
    )


@uep.on("needs")
async def on_needs(ctx: Ctx, inp: Input) -> None:
    s = _text(inp, 5, 255)
    if s is None:
        await ctx.not_understood(ctx._("Please write what the aid would buy in 5–255 characters."))
        return
    ctx.data["needs"] = s
    await ctx.goto("uep", "confirm", keep=True)


@uep.ask("confirm")
async def ask_confirm(ctx: Ctx) -> None:
    d = ctx.data
    duration = DURATIONS[d["duration"]]
    ctx.say(
        ctx._(
            "Please check your UEP application:\n• Business: {business}\n• Running: {duration}\n"
            "• The aid would buy: {needs}\nSend it to Dinsos?",
            business=d["business"],
            duration=ctx._(duration),
            needs=d["needs"],
        ),
        [
            ctx.choice("u:ok", L_("Yes, send")),
            ctx.choice("u:edit", L_("Start again")),
            ctx.choice("g:cancel", L_("Cancel")),
        ],
    )


@uep.on("confirm")
async def on_confirm(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "u:edit":
        await ctx.goto("uep", "business", keep=True)
        return
    if inp.choice != "u:ok":
        await ctx.not_understood(ctx._("Tap Yes, send, or Start again."))
        return
    pid = identity.person_id(ctx)
    if await store.open_uep(ctx.conn, pid) is None:
        me = await store.person(
            ctx.conn, pid, ctx.deps.programs, ctx.now.astimezone(JAKARTA).date()
        )
        app_id = await store.add_uep(
            ctx.conn,
            p=me,
            business=ctx.data["business"],
            duration=ctx.data["duration"],
            needs=ctx.data["needs"],
            now=ctx.now,
            conversation_id=ctx.state.id,
        )
    else:
        app_id = (await store.open_uep(ctx.conn, pid)).id
    ctx.say(
        ctx._(
            "Your UEP application is sent. Number: {ref}.\nDinsos will check it; we will "
            "tell you the decision here. This service is free: never pay anyone for it.",
            ref=ref(app_id),
        ),
        [ctx.choice("g:menu", L_("Main menu"))],
    )
    ctx.rest_in_menu()
    await contact.offer(ctx, "uep", str(app_id), label=ref(app_id))  # optional; then the menu
