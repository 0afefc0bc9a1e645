"""Check my household: NIK, a masked echo to confirm, No. KK, then the household's standing.

Privacy: a wrong pair and an unknown NIK get the same answer; failed checks are limited per
conversation (5 an hour) and per NIK (10 a day, counted by keyed hash); NIK and KK are masked in
every reply and dropped from the conversation state once the check is done. A locked check is
told before the NIK is asked, or right after a locked NIK (conversations/identity.py).

The answer comes in parts (docs/wording.md): a first message of at most ~450 characters (desil,
its meaning, aid received), then "Programs to join" and "Official check" behind buttons.
"""

from __future__ import annotations

from conversations import identity
from conversations.menu import menu as menu_flow
from core import metrics
from core.engine import MENU, Ctx, Flow, Input
from core.i18n import L_, N_
from db import queries
from domain.clock import JAKARTA
from domain.eligibility import HouseholdFacts, MemberFacts, evaluate, is_extreme_poverty
from domain.nik import IdProblem, check_kk, check_nik, mask

check = Flow("check")

# Problem code -> message; {what} is "NIK" or "No. KK".
PROBLEMS = {
    "empty": N_("Please type your {what}: 16 digits."),
    "not_digits": N_("A {what} has only digits. Please type the 16 digits of your {what}."),
    "province": N_(
        "The first 2 digits of this {what} are not a province code. Please check it and type it again."
    ),
    "month": N_(
        "Digits 9 and 10 of this {what} should be a month (01–12). Please check it and type it again."
    ),
    "day": N_(
        "Digits 7 and 8 of this {what} are not a valid day. Please check it and type it again."
    ),
    "date": N_(
        "The date inside this {what} does not exist in the calendar. Please check it and type it again."
    ),
    "serial": N_(
        "The last 4 digits of a {what} cannot be 0000. Please check it and type it again."
    ),
    "future": N_(
        "The date inside this {what} is in the future. Please check it and type it again."
    ),
}


def problem_text(ctx: Ctx, p: IdProblem, what: str) -> str:
    if p.code == "length":
        return ctx._(
            "A {what} has 16 digits; you sent {got}. Please type it again.",
            what=what,
            got=p.params.get("got", 0),
        )
    return ctx._(PROBLEMS.get(p.code, PROBLEMS["not_digits"]), what=what)


def _cancel(ctx: Ctx):
    return [ctx.choice("g:cancel", L_("Cancel"))]


@check.ask("nik")
async def ask_nik(ctx: Ctx) -> None:
    until = await identity.lock_until(ctx)
    if until:  # told before the NIK is asked
        identity.tell_locked(ctx, until)
        return
    if identity.awaited(ctx):  # matching for another service (KUBE, a report ...)
        ctx.say(
            ctx._("Type your NIK (16 digits, printed on your KTP or family card)."), _cancel(ctx)
        )
        return
    ctx.say(
        ctx._(
            "Check your family's aid status.\n"
            "Type your NIK (16 digits, printed on your KTP or family card)."
        ),
        _cancel(ctx),
    )


@check.on("nik")
async def on_nik(ctx: Ctx, inp: Input) -> None:
    if inp.kind != "text":
        await ctx.not_understood(ctx._("Please type your NIK as text: 16 digits."))
        return
    res = check_nik(inp.text, ctx.now.date())
    if isinstance(res, IdProblem):
        await ctx.not_understood(problem_text(ctx, res, "NIK"))
        return
    # A NIK locked by too many failed checks is told now, not after the No. KK.
    until = await identity.lock_until(ctx, res.nik)
    if until:
        identity.tell_locked(ctx, until)
        return
    ctx.data["nik"] = res.nik
    await ctx.goto("check", "nik_confirm", keep=True)


@check.ask("nik_confirm")
async def ask_nik_confirm(ctx: Ctx) -> None:
    ctx.say(
        ctx._("You typed NIK {nik}. Is it correct?", nik=mask(ctx.data["nik"])),
        [
            ctx.choice("k:yes", L_("Yes, correct")),
            ctx.choice("k:edit", L_("Change NIK")),
        ],
    )


@check.on("nik_confirm")
async def on_nik_confirm(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "k:yes" or inp.word in ("ya", "yes", "benar", "betul"):
        await ctx.goto("check", "kk", keep=True)
    elif inp.choice == "k:edit" or inp.word in ("ubah", "tidak", "no", "change"):
        ctx.data.pop("nik", None)
        await ctx.goto("check", "nik", keep=True)
    elif inp.kind == "text" and not isinstance(check_nik(inp.text, ctx.now.date()), IdProblem):
        await on_nik(ctx, inp)  # a resident who simply types the NIK again
    else:
        await ctx.not_understood()


@check.ask("kk")
async def ask_kk(ctx: Ctx) -> None:
    ctx.say(
        ctx._(
            "Now type your family card number (No. KK): 16 digits, at the top of the "
            "family card (Kartu Keluarga)."
        ),
        _cancel(ctx),
    )


@check.on("kk")
async def on_kk(ctx: Ctx, inp: Input) -> None:
    if "nik" not in ctx.data:  # state from an older version: start the check again
        await ctx.goto("check", "nik", keep=True)
        return
    if inp.kind != "text":
        await ctx.not_understood(ctx._("Please type your No. KK as text: 16 digits."))
        return
    res = check_kk(inp.text, ctx.now.date())
    if isinstance(res, IdProblem):
        await ctx.not_understood(problem_text(ctx, res, "No. KK"))
        return
    nik = ctx.data["nik"]
    until = await identity.lock_until(ctx, nik)
    if until:  # locked meanwhile (another conversation failed with this NIK)
        identity.tell_locked(ctx, until)
        return
    matched = await queries.match_person(ctx.conn, nik, res.kk)
    if await identity.simulator_may_see(ctx, matched[0] if matched else None):
        await queries.record_attempt(
            ctx.conn, ctx.state.id, ctx.deps.nik_hash(nik), matched is not None, ctx.now
        )
    else:  # the simulator, outside the operator's kelurahan: answered as no match, not counted
        matched = None
    if matched is None:
        if await identity.lock_until(ctx, nik):  # this failure locked the check (docs/observe.md)
            metrics.CHECK_LOCKS.inc()
        ctx.data.pop("nik", None)
        ctx.rest_at("check", "failed")
        ctx.say(
            ctx._(
                "Sorry, we could not match this NIK and No. KK in our data.\n"
                "Please check both numbers. If they are right and still do not match, your "
                "data may not be recorded yet or may differ: ask your kelurahan office, or "
                "contact an officer."
            ),
            [
                ctx.choice("k:retry", L_("Try again")),
                ctx.choice("g:contact", L_("Contact an officer")),
                ctx.choice("g:menu", L_("Main menu")),
            ],
        )
        return
    household_id, person_id = matched
    identity.set_match(ctx, household_id, person_id)
    ctx.data.pop("nik", None)
    after = identity.take_return(ctx)
    if after:  # another flow asked for a match first (identity.require_match): go back to it
        await identity.matched_note(ctx, household_id)
        await ctx.goto(after[0], after[1])
        return
    await show_status(ctx, household_id)


@check.ask("failed")
async def ask_failed(ctx: Ctx) -> None:
    await ctx.goto("check", "nik", keep=True)


@check.on("failed")
async def on_failed(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "k:retry" or inp.word in ("coba lagi", "try again"):
        await ctx.goto("check", "nik", keep=True)
    elif inp.kind == "text" and not isinstance(check_nik(inp.text, ctx.now.date()), IdProblem):
        await on_nik(ctx, inp)
    else:
        await ctx.not_understood()


# --- the answer --------------------------------------------------------------------------

COMPONENT_WORDS = {
    "child": N_("a child under {child}"),
    "elder": N_("an elder aged {elder}+"),
    "disability": N_("a person with a disability"),
}


def reason_text(ctx: Ctx, r) -> str | None:
    p = r.params
    cfg = ctx.deps.programs
    match r.code:
        case "desil_in":
            return ctx._("for desil {min}–{max}; you are included", **p)
        case "desil_out":
            return ctx._("only for desil {min}–{max}", **p)
        case "component":
            words = [
                ctx._(COMPONENT_WORDS[w], child=cfg.child_max_age + 1, elder=cfg.elder_min_age)
                for w in p.get("which", [])
                if w in COMPONENT_WORDS
            ]
            return ctx._("has {who}", who=", ".join(words))
        case "no_component":
            return ctx._(
                "no child under {child}, elder aged {elder}+ or person with a disability",
                child=p["child_max_age"] + 1,
                elder=p["elder_min_age"],
            )
        case "head_age_in":
            return ctx._("head of family aged {age} ({min}–{max})", **p)
        case "head_age_out":
            return ctx._("head of family aged {age}, outside {min}–{max}", **p)
        case "no_head":
            return ctx._("no head of family recorded")
        case "member_age_in":
            return ctx._("a member aged {min}–{max}", **p)
        case "member_age_out":
            return ctx._("no member aged {min}–{max}", **p)
        case "not_joinable":
            return ctx._("apply through its own channel, not here")
        case _:
            return None


FAILING = ("desil_out", "no_component", "head_age_out", "no_head", "member_age_out")


def desil_label(ctx: Ctx, desil: int) -> str:
    cfg = ctx.deps.programs
    labels = cfg.desil_labels_en if ctx.t.locale == "en" else None
    return (labels or cfg.desil_labels).get(desil, "")


async def _evaluated(ctx: Ctx, household_id: int):
    cfg = ctx.deps.programs
    h, members, held = await queries.household_snapshot(ctx.conn, household_id)
    facts = HouseholdFacts(
        desil=h.desil,
        members=tuple(
            MemberFacts(m.tanggal_lahir, m.hubungan, bool(m.disabilitas)) for m in members
        ),
        programs_held=frozenset(held),
    )
    return h, evaluate(facts, cfg, ctx.now.astimezone(JAKARTA).date())


# The status answer comes in parts, so that the first fits a phone screen (at most ~450
# characters): the desil, what it means and the aid received; then, behind buttons, the
# programmes the family may join and the official places to confirm.
PROGRAMS_CHOICE, OFFICIAL_CHOICE = "k:programs", "k:official"


async def status_text(ctx: Ctx, household_id: int) -> str:
    """The first message: where the family is, its desil and meaning, the aid received."""
    cfg = ctx.deps.programs
    h, results = await _evaluated(ctx, household_id)
    kel = ctx.deps.region.kelurahan_by_code(h.kelurahan_code)
    lo, hi = cfg.extreme_poverty
    lines = [
        ctx._(
            "Your family: Kelurahan {kel}, RW {rw} RT {rt}.",
            kel=kel.name if kel else h.kelurahan_code,
            rw=h.rw,
            rt=h.rt,
        ),
        ctx._("Desil {desil} of 10: {label}.", desil=h.desil, label=desil_label(ctx, h.desil)),
        ctx._("Desil 1 is the 10% of families with the lowest welfare; desil 10 the highest."),
    ]
    if is_extreme_poverty(h.desil, cfg):
        lines.append(
            ctx._("Your family is counted as extreme poverty (desil {lo}–{hi}).", lo=lo, hi=hi)
        )
    receiving = [cfg.programs[r.code].short for r in results if r.receiving]
    lines.append("")
    if receiving:
        lines.append(ctx._("Aid you receive now: {programs}.", programs=", ".join(receiving)))
    else:
        lines.append(ctx._("No aid is recorded for your family now."))
    lines += [
        "",
        ctx._(
            "Data as of {date}. This is not a final decision: Kemensos and BPS decide.",
            date=ctx.t.date(h.data_date),
        ),
    ]
    return "\n".join(lines)


async def programs_text(ctx: Ctx, household_id: int) -> str:
    """Behind "Programs to join": the programmes the family may join, and those it may not
    join now, with the reasons."""
    cfg = ctx.deps.programs
    _h, results = await _evaluated(ctx, household_id)
    may = [r for r in results if not r.receiving and r.eligible]
    not_yet = [r for r in results if not r.receiving and r.eligible is False]
    lines: list[str] = []
    if may:
        lines.append(ctx._("Programs you may join:"))
        for r in may:
            why = [t for t in (reason_text(ctx, x) for x in r.reasons) if t]
            lines.append(f"• {cfg.programs[r.code].short}: " + "; ".join(why))
    else:
        lines.append(ctx._("By the data, there is no other programme your family may join now."))
    if not_yet:
        # Programs that fail for the same reasons share one line (short replies for small screens).
        grouped: dict[str, list[str]] = {}
        for r in not_yet:
            why = "; ".join(
                t for t in (reason_text(ctx, x) for x in r.reasons if x.code in FAILING) if t
            )
            grouped.setdefault(why, []).append(cfg.programs[r.code].short)
        lines += ["", ctx._("Not eligible now:")]
        lines += [f"• {', '.join(names)}: {why}" for why, names in grouped.items()]
    if may:
        lines += [
            "",
            ctx._(
                "Meeting these rules does not yet mean receiving aid: Dinsos and Kemensos check more."
            ),
        ]
    return "\n".join(lines)


def official_checks(ctx: Ctx) -> tuple[str, ...]:
    cfg = ctx.deps.programs
    english = cfg.official_checks_en if ctx.t.locale == "en" else None
    return english or cfg.official_checks


def official_text(ctx: Ctx) -> str:
    """Behind "Official check": where to confirm or correct the data."""
    return "\n".join(
        [
            ctx._("Jaring's answer is not final. Confirm your data officially at:"),
            *[f"• {c}" for c in official_checks(ctx)],
            "",
            ctx._("If your family's data is wrong, you can tell Dinsos: choose Report data."),
        ]
    )


async def show_status(ctx: Ctx, household_id: int) -> None:
    ctx.say(
        await status_text(ctx, household_id),
        [
            ctx.choice(PROGRAMS_CHOICE, L_("Programs to join")),
            ctx.choice(OFFICIAL_CHOICE, L_("Official check")),
            ctx.choice("g:menu", L_("Main menu")),
        ],
    )
    ctx.rest_at(*STATUS)


# After the status answer the conversation rests in the menu flow, at a step of its own that
# also answers the two buttons: "menu" is where a finished errand rests (no idle reset, a
# typed NIK or code works as at the menu), and the buttons still work an hour later.
STATUS = ("menu", "status")


@menu_flow.ask("status")
async def ask_status(ctx: Ctx) -> None:
    await ctx.goto(*MENU)


@menu_flow.on("status")
async def on_status(ctx: Ctx, inp: Input) -> None:
    hid = identity.household_id(ctx)
    if inp.choice == PROGRAMS_CHOICE and hid is not None:
        ctx.say(
            await programs_text(ctx, hid),
            [
                ctx.choice(OFFICIAL_CHOICE, L_("Official check")),
                ctx.choice("g:contact", L_("Contact an officer")),
                ctx.choice("g:menu", L_("Main menu")),
            ],
        )
        ctx.rest_at(*STATUS)
    elif inp.choice == OFFICIAL_CHOICE and hid is not None:
        ctx.say(
            official_text(ctx),
            [
                ctx.choice("m:report", L_("Report data")),
                ctx.choice(PROGRAMS_CHOICE, L_("Programs to join")),
                ctx.choice("g:menu", L_("Main menu")),
            ],
        )
        ctx.rest_at(*STATUS)
    else:  # anything else is handled as at the menu
        await ctx.forward(*MENU, inp)
