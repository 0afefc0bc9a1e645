"""Skills training: open sessions (the resident's kecamatan first, by sector), details, register,
my registrations, cancel. The scheduled jobs (reminders, the seat allocation) and the texts about
a registration are services/training.py. Rules: docs/kube-training.md.
"""

from __future__ import annotations

from conversations import identity
from core.engine import Ctx, Flow, Input
from core.i18n import L_, N_
from core.model import Choice
from db import kube_store
from db import training_store as store
from domain import training as T
from domain.clock import JAKARTA
from domain.eligibility import age_on
from services.training import notify_promoted, status_text

training = Flow("training")
LIST_MAX = 7  # sessions shown as buttons at once (WhatsApp lists hold 10 rows)

REFUSALS = {
    "closed": N_("Registration for this training is closed."),
    "already": N_("You are already registered for this training."),
    "desil": N_(
        "This training is for families in desil 1–{desil_max}; your family is in desil {desil}."
    ),
    "age": N_("This training is for ages {age_min}–{age_max}; you will be {age} when it starts."),
    "overlap": N_("You already hold a place in another training on the same days: {other}."),
}


def _short(text: str, n: int = 20) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _sector(ctx_or_cfg, code: str) -> str:
    cfg = ctx_or_cfg.deps.programs if isinstance(ctx_or_cfg, Ctx) else ctx_or_cfg
    return next((o.label for o in cfg.training_sectors if o.code == code), code)


def _kec(ctx: Ctx, code: str) -> str:
    k = ctx.deps.region.kecamatan_by_code(code)
    return k.name if k else code


def _today(ctx: Ctx):
    return ctx.now.astimezone(JAKARTA).date()


async def _me(ctx: Ctx):
    return await kube_store.person(
        ctx.conn, identity.person_id(ctx), ctx.deps.programs, _today(ctx)
    )


# --- list -----------------------------------------------------------------------------------


@training.ask("start")
async def ask_start(ctx: Ctx) -> None:
    if not await identity.require_match(ctx, "training", "start"):
        return
    await ctx.goto("training", "list", keep=True)


@training.on("start")
async def on_start(ctx: Ctx, inp: Input) -> None:
    await ctx.reask()


@training.ask("list")
async def ask_list(ctx: Ctx) -> None:
    me = await _me(ctx)
    sector = ctx.data.get("sector")
    rows = await store.open_sessions(
        ctx.conn, ctx.now, kecamatan_first=me.kecamatan_code, sector=sector
    )
    shown = rows[:LIST_MAX]
    head = (
        ctx._("Open trainings, sector {sector}:", sector=_sector(ctx, sector))
        if sector
        else ctx._("Open trainings (your kecamatan first):")
    )
    lines = [head]
    for i, s in enumerate(shown, 1):
        left = max(s.quota - s.seats_taken, 0)
        lines.append(
            ctx._(
                "{n}. {title} ({sector}), Kec. {kec}, {date}; {left} of {quota} seats left",
                n=i,
                title=s.title,
                sector=_sector(ctx, s.sector),
                kec=_kec(ctx, s.kecamatan_code),
                date=ctx.t.date(s.starts_at.astimezone(JAKARTA).date()),
                left=left,
                quota=s.quota,
            )
        )
    if not shown:
        lines.append(ctx._("There is no open training right now. Please check again later."))
    else:
        lines.append(ctx._("Tap a training to see the details."))
    ctx.say(
        "\n".join(lines),
        [
            *[Choice(f"t:{s.id}", _short(s.title)) for s in shown],
            ctx.choice("t:sector", L_("Choose sector")),
            ctx.choice("t:mine", L_("My registrations")),
            ctx.choice("g:menu", L_("Main menu")),
        ],
    )


@training.on("list")
async def on_list(ctx: Ctx, inp: Input) -> None:
    c = inp.choice or ""
    if c == "t:sector":
        await ctx.goto("training", "sector", keep=True)
    elif c == "t:mine":
        await ctx.goto("training", "mine", keep=True)
    elif c.startswith("t:") and c[2:].isdigit():
        ctx.data["sid"] = int(c[2:])
        await ctx.goto("training", "detail", keep=True)
    else:
        await ctx.not_understood(ctx._("Please tap one of the trainings, or Choose sector."))


@training.ask("sector")
async def ask_sector(ctx: Ctx) -> None:
    ctx.say(
        ctx._("Which sector are you interested in?"),
        [
            *[Choice(f"s:{o.code}", o.label) for o in ctx.deps.programs.training_sectors],
            ctx.choice("s:all", L_("All sectors")),
            ctx.choice("g:menu", L_("Main menu")),
        ],
    )


@training.on("sector")
async def on_sector(ctx: Ctx, inp: Input) -> None:
    c = inp.choice or ""
    codes = {o.code for o in ctx.deps.programs.training_sectors}
    if c == "s:all":
        ctx.data.pop("sector", None)
    elif c.startswith("s:") and c[2:] in codes:
        ctx.data["sector"] = c[2:]
    else:
        await ctx.not_understood(ctx._("Please tap one of the sectors."))
        return
    await ctx.goto("training", "list", keep=True)


# --- details and registration ---------------------------------------------------------------


def session_text(ctx: Ctx, s) -> str:
    lines = [
        s.title,
        ctx._("Sector: {sector}", sector=_sector(ctx, s.sector)),
        ctx._("Organiser: {organiser}", organiser=s.organiser),
        ctx._("Place: {place}, Kec. {kec}", place=s.place, kec=_kec(ctx, s.kecamatan_code)),
        ctx._("Starts: {when}, for {days} days", when=ctx.t.datetime(s.starts_at), days=s.days),
        ctx._("Seats: {quota}, {left} left", quota=s.quota, left=max(s.quota - s.seats_taken, 0)),
        ctx._("Register by: {date}", date=ctx.t.date(s.deadline)),
        ctx._(
            "For: desil 1–{desil_max}, aged {age_min}–{age_max}",
            desil_max=s.desil_max,
            age_min=s.age_min,
            age_max=s.age_max,
        ),
    ]
    if s.priority:
        lines.append(
            ctx._(
                "DTSEN priority: seats are given after the deadline, lowest desil "
                "first, then by time of registration."
            )
        )
    if s.notes:
        lines.append(s.notes)
    return "\n".join(lines)


@training.ask("detail")
async def ask_detail(ctx: Ctx) -> None:
    s = await store.session(ctx.conn, ctx.data.get("sid", 0))
    if s is None:
        await ctx.goto("training", "list", keep=True)
        return
    ctx.say(
        session_text(ctx, s),
        [
            ctx.choice("t:reg", L_("Register")),
            ctx.choice("t:list", L_("Other trainings")),
            ctx.choice("g:menu", L_("Main menu")),
        ],
    )


@training.on("detail")
async def on_detail(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "t:reg" or inp.word in ("daftar", "register"):
        await _register(ctx)
    elif inp.choice == "t:list":
        await ctx.goto("training", "list", keep=True)
    else:
        await ctx.not_understood(ctx._("Tap Register to sign up, or Other trainings."))


def _after(ctx: Ctx) -> list[Choice]:
    return [
        ctx.choice("t:mine", L_("My registrations")),
        ctx.choice("t:list", L_("Other trainings")),
        ctx.choice("g:menu", L_("Main menu")),
    ]


async def _register(ctx: Ctx) -> None:
    s = await store.session(ctx.conn, ctx.data.get("sid", 0))
    me = await _me(ctx)
    start_day = s.starts_at.astimezone(JAKARTA).date()
    held = await store.person_active(ctx.conn, me.id)
    other = next(
        (
            h
            for h in held
            if h.session_id != s.id and T.overlaps(h.starts_at, h.days, s.starts_at, s.days)
        ),
        None,
    )
    age = age_on(me.birth, start_day)
    problem = T.register_problem(
        desil=me.desil,
        age=age,
        desil_max=s.desil_max,
        age_range=(s.age_min, s.age_max),
        open_=T.is_open(s.deadline, s.starts_at, ctx.now),
        already=any(h.session_id == s.id for h in held),
        overlap=other is not None,
    )
    ctx.rest_at("training", "after")
    if problem:
        ctx.say(
            ctx._(
                REFUSALS[problem],
                desil_max=s.desil_max,
                desil=me.desil,
                age_min=s.age_min,
                age_max=s.age_max,
                age=age,
                other=other.title if other else "",
            ),
            [
                ctx.choice("g:contact", L_("Contact an officer")),
                *_after(ctx),
            ],
        )
        return
    status, rid = await store.register(
        ctx.conn, s=s, person_id=me.id, desil=me.desil, now=ctx.now, conversation_id=ctx.state.id
    )
    reg = await store.registration_by_id(ctx.conn, rid)
    ctx.say(await status_text(ctx.t, ctx.conn, reg, s), _after(ctx))


@training.ask("after")
async def ask_after(ctx: Ctx) -> None:
    await ctx.goto("training", "list", keep=True)


@training.on("after")
async def on_after(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "t:mine":
        await ctx.goto("training", "mine", keep=True)
    elif inp.choice == "t:list":
        await ctx.goto("training", "list", keep=True)
    else:
        await ctx.not_understood(ctx._("Tap My registrations, or Other trainings."))


# --- my registrations, cancel -----------------------------------------------------------------

STATUS_WORDS = {
    T.CONFIRMED: N_("place confirmed"),
    T.WAITLIST: N_("waiting list"),
    T.PENDING: N_("waiting for the seat allocation"),
}


@training.ask("mine")
async def ask_mine(ctx: Ctx) -> None:
    today = _today(ctx)
    held = [
        h
        for h in await store.person_active(ctx.conn, identity.person_id(ctx))
        if T.local_dates(h.starts_at, h.days)[1] >= today
    ]  # finished trainings drop off
    if not held:
        ctx.say(
            ctx._("You have no training registrations now."),
            [ctx.choice("t:list", L_("Other trainings")), ctx.choice("g:menu", L_("Main menu"))],
        )
        return
    lines = [ctx._("Your training registrations:")]
    for i, h in enumerate(held, 1):
        lines.append(
            f"{i}. {h.title}, {ctx.t.date(h.starts_at.astimezone(JAKARTA).date())} "
            f"({ctx._(STATUS_WORDS[h.status])}; {h.code})"
        )
    lines.append(ctx._("Tap one to see it or cancel it."))
    ctx.say(
        "\n".join(lines),
        [
            *[Choice(f"r:{h.id}", _short(h.title)) for h in held[:LIST_MAX]],
            ctx.choice("t:list", L_("Other trainings")),
            ctx.choice("g:menu", L_("Main menu")),
        ],
    )


@training.on("mine")
async def on_mine(ctx: Ctx, inp: Input) -> None:
    c = inp.choice or ""
    if c == "t:list":
        await ctx.goto("training", "list", keep=True)
    elif c.startswith("r:") and c[2:].isdigit():
        ctx.data["rid"] = int(c[2:])
        await ctx.goto("training", "reg", keep=True)
    else:
        await ctx.not_understood(ctx._("Please tap one of your registrations."))


async def _my_reg(ctx: Ctx):
    reg = await store.registration_by_id(ctx.conn, ctx.data.get("rid", 0))
    if reg is None or reg.person_id != identity.person_id(ctx) or reg.status not in T.ACTIVE:
        return None
    return reg


@training.ask("reg")
async def ask_reg(ctx: Ctx) -> None:
    reg = await _my_reg(ctx)
    if reg is None:
        await ctx.goto("training", "mine", keep=True)
        return
    s = await store.session(ctx.conn, reg.session_id)
    ctx.say(
        await status_text(ctx.t, ctx.conn, reg, s),
        [
            ctx.choice("r:cancel", L_("Cancel registration")),
            ctx.choice("t:mine", L_("My registrations")),
            ctx.choice("g:menu", L_("Main menu")),
        ],
    )


@training.on("reg")
async def on_reg(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "r:cancel":
        await ctx.goto("training", "cancel", keep=True)
    elif inp.choice == "t:mine":
        await ctx.goto("training", "mine", keep=True)
    else:
        await ctx.not_understood(ctx._("Tap Cancel registration, or My registrations."))


@training.ask("cancel")
async def ask_cancel(ctx: Ctx) -> None:
    ctx.say(
        ctx._("Cancel this registration? Your place goes to the next person on the waiting list."),
        [
            ctx.choice("r:yes", L_("Yes, cancel it")),
            ctx.choice("r:no", L_("No, keep it")),
        ],
    )


@training.on("cancel")
async def on_cancel(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "r:no" or inp.word in ("tidak", "no"):
        await ctx.goto("training", "reg", keep=True)
        return
    if not (inp.choice == "r:yes" or inp.word in ("ya", "yes")):
        await ctx.not_understood(ctx._("Tap Yes, cancel it, or No, keep it."))
        return
    reg = await _my_reg(ctx)
    done = await store.cancel(ctx.conn, rid=reg.id, now=ctx.now) if reg else None
    if done:
        _, promoted = done
        if promoted is not None:
            ctx.notified += await notify_promoted(ctx.conn, promoted, ctx.now, ctx.deps)
    ctx.rest_at("training", "after")
    ctx.say(ctx._("Your registration is cancelled."), _after(ctx))
