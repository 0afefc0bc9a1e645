"""KUBE (Kelompok Usaha Bersama): form a group (the creator is ketua), join one with its code,
name the sekretaris and bendahara, remove members or leave, submit it to Dinsos, and see
"KUBE saya". Staff decide (cli/kube.py, web/proposals.py, via services/kube.py's `decide`).
Rules: domain/kube.py and docs/kube-training.md.
"""

from __future__ import annotations

import re

from conversations import contact, identity
from conversations.intents import not_an_answer
from core.engine import Ctx, Flow, Input
from core.i18n import L_, N_, Texts
from core.model import Choice
from core.notify import notify, notify_many
from db import kube_store as store
from domain import kube as K
from domain.clock import JAKARTA
from domain.nik import mask

kube = Flow("kube")
NAME_MIN, NAME_MAX = 3, 60

REFUSALS = {
    "not_open": N_("This group is no longer taking members (it has been submitted or decided)."),
    "other_kelurahan": N_(
        "This group is for residents of Kelurahan {kel}; your data is in another kelurahan."
    ),
    "already_member": N_(
        "You are already a member of a KUBE. A person can be in one KUBE at a time."
    ),
    "household_member": N_("Someone from your family is already in a KUBE. One member per family."),
    "age": N_("KUBE members must be {min}–{max} years old; by your data you are {age}."),
    "not_eligible": N_(
        "By the data, your family does not meet the KUBE rule now (desil {desil}; KUBE is for desil {dmin}–{dmax}, head of family aged {hmin}–{hmax})."
    ),
    "full": N_("This group is full ({max_members} members)."),
}
DATA_REASONS = ("other_kelurahan", "household_member", "age", "not_eligible")
SUBMIT_PROBLEMS = {
    "not_draft": N_("This group has already been submitted."),
    "too_few": N_("A KUBE needs at least {min} members; the group has {n}."),
    "too_many": N_("A KUBE may have at most {max} members; the group has {n}."),
    "no_sekretaris": N_("Please name a secretary first."),
    "no_bendahara": N_("Please name a treasurer first."),
}
STATUS = {
    K.DRAFT: N_("forming"),
    K.SUBMITTED: N_("submitted, waiting for the Dinsos decision"),
    K.APPROVED: N_("approved"),
    K.REJECTED: N_("rejected"),
}
ROLE = {
    K.KETUA: N_("chair (ketua)"),
    K.SEKRETARIS: N_("secretary (sekretaris)"),
    K.BENDAHARA: N_("treasurer (bendahara)"),
    K.ANGGOTA: N_("member"),
}
EVENTS = {
    "created": N_("{date}: group formed by {who}"),
    "joined": N_("{date}: {who} joined"),
    "left": N_("{date}: {who} left"),
    "removed": N_("{date}: {who} was removed"),
    "role": N_("{date}: {who} named {role}"),
    "submitted": N_("{date}: submitted to Dinsos"),
    "approved": N_("{date}: approved by Dinsos"),
    "rejected": N_("{date}: rejected by Dinsos: {reason}"),
}


def _today(ctx: Ctx):
    return ctx.now.astimezone(JAKARTA).date()


async def _me(ctx: Ctx):
    return await store.person(ctx.conn, identity.person_id(ctx), ctx.deps.programs, _today(ctx))


def _btype(cfg, code: str) -> str:
    return next((o.label for o in cfg.business_types if o.code == code), code)


def _kel(ctx: Ctx, code: str) -> str:
    k = ctx.deps.region.kelurahan_by_code(code)
    return k.name if k else code


def _refuse(ctx: Ctx, problem: str, me=None) -> None:
    cfg = ctx.deps.programs
    rule = cfg.programs.get("KUBE")
    lo, hi = cfg.kube_member_age
    ctx.say(
        ctx._(
            REFUSALS[problem],
            kel=ctx.data.get("group_kel", ""),
            min=lo,
            max=hi,
            age=me.age if me else "",
            desil=me.desil if me else "",
            dmin=rule.desil[0] if rule and rule.desil else "",
            dmax=rule.desil[1] if rule and rule.desil else "",
            hmin=rule.head_age[0] if rule and rule.head_age else lo,
            hmax=rule.head_age[1] if rule and rule.head_age else hi,
            max_members=cfg.kube_max_members,
        )
        + (
            "\n" + ctx._("If you think the data is wrong, an officer can help.")
            if problem in DATA_REASONS
            else ""
        ),
        [
            ctx.choice("g:contact", L_("Contact an officer")),
            ctx.choice("g:menu", L_("Main menu")),
        ],
    )
    ctx.rest_in_menu()


async def _member_problem(ctx: Ctx, me) -> str | None:
    return K.member_problem(
        me.age,
        bool(me.eligible.get("KUBE")),
        await store.active_group_of(ctx.conn, me.id) is not None,
        await store.household_in_active(ctx.conn, me.household_id, me.id),
        ctx.deps.programs.kube_member_age,
    )


# --- start --------------------------------------------------------------------------------------


@kube.ask("start")
async def ask_start(ctx: Ctx) -> None:
    if not await identity.require_match(ctx, "kube", "start"):
        return
    if await store.active_group_of(ctx.conn, identity.person_id(ctx)):
        await ctx.goto("kube", "mine", keep=True)
        return
    last = await store.last_group_of(ctx.conn, identity.person_id(ctx))
    if last is not None and last.status == K.REJECTED:
        ctx.note(
            ctx._(
                "Your previous group, KUBE {name}, was not approved. Reason: {reason}",
                name=last.name,
                reason=last.reason or "-",
            )
        )
    cfg = ctx.deps.programs
    ctx.say(
        ctx._(
            "KUBE (Kelompok Usaha Bersama) is a business group of {min}–{max} families "
            "from one kelurahan, aged {amin}–{amax}, with a chair, a secretary and a "
            "treasurer. Dinsos decides on the proposal.\n"
            "Start a new group, or join one with the code your chair shared.",
            min=cfg.kube_min_members,
            max=cfg.kube_max_members,
            amin=cfg.kube_member_age[0],
            amax=cfg.kube_member_age[1],
        ),
        [
            ctx.choice("q:create", L_("Start a new KUBE")),
            ctx.choice("q:join", L_("Join with a code")),
            ctx.choice("g:menu", L_("Main menu")),
        ],
    )


@kube.on("start")
async def on_start(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "q:create":
        me = await _me(ctx)
        problem = await _member_problem(ctx, me)
        if problem:
            _refuse(ctx, problem, me)
            return
        await ctx.goto("kube", "name", keep=True)
    elif inp.choice == "q:join":
        await ctx.goto("kube", "code", keep=True)
    elif inp.kind == "text" and K.clean_code(inp.text):
        await on_code(ctx, inp)  # someone who types the code straight away
    else:
        await ctx.not_understood(ctx._("Tap Start a new KUBE or Join with a code."))


def _cancel(ctx: Ctx) -> list[Choice]:
    return [ctx.choice("g:cancel", L_("Cancel"))]


# --- create -------------------------------------------------------------------------------------


@kube.ask("name")
async def ask_name(ctx: Ctx) -> None:
    ctx.say(
        ctx._(
            "Type the name of your group ({min}–{max} characters), e.g. Mawar Sejahtera.",
            min=NAME_MIN,
            max=NAME_MAX,
        ),
        _cancel(ctx),
    )


@kube.on("name")
async def on_name(ctx: Ctx, inp: Input) -> None:
    if await not_an_answer(ctx, inp):
        return
    name = " ".join(inp.text.split())
    # Messages say "KUBE {name}": a name typed as "KUBE Mawar" is stored as "Mawar".
    name = re.sub(r"(?i)^kube\b[\s.:-]*", "", name)
    if inp.kind != "text" or not NAME_MIN <= len(name) <= NAME_MAX:
        await ctx.not_understood(
            ctx._(
                "The group name must be {min}–{max} characters; you sent {n}. "
                "Please type it again.",
                min=NAME_MIN,
                max=NAME_MAX,
                n=len(name),
            )
        )
        return
    ctx.data["name"] = name
    await ctx.goto("kube", "btype", keep=True)


@kube.ask("btype")
async def ask_btype(ctx: Ctx) -> None:
    ctx.say(
        ctx._("What business will KUBE {name} run?", name=ctx.data.get("name", "")),
        [
            *[Choice(f"b:{o.code}", o.label) for o in ctx.deps.programs.business_types],
            ctx.choice("g:cancel", L_("Cancel")),
        ],
    )


@kube.on("btype")
async def on_btype(ctx: Ctx, inp: Input) -> None:
    codes = {o.code for o in ctx.deps.programs.business_types}
    c = inp.choice or ""
    if not (c.startswith("b:") and c[2:] in codes):
        await ctx.not_understood(ctx._("Please tap one of the business types."))
        return
    ctx.data["btype"] = c[2:]
    await ctx.goto("kube", "create_ok", keep=True)


@kube.ask("create_ok")
async def ask_create_ok(ctx: Ctx) -> None:
    ctx.say(
        ctx._(
            "Start KUBE {name} ({btype})? You will be its chair (ketua).",
            name=ctx.data["name"],
            btype=_btype(ctx.deps.programs, ctx.data["btype"]),
        ),
        [
            ctx.choice("q:ok", L_("Yes, start it")),
            ctx.choice("q:rename", L_("Change the name")),
            ctx.choice("g:cancel", L_("Cancel")),
        ],
    )


@kube.on("create_ok")
async def on_create_ok(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "q:rename":
        await ctx.goto("kube", "name", keep=True)
        return
    if inp.choice != "q:ok":
        await ctx.not_understood(ctx._("Tap Yes, start it, or Change the name."))
        return
    me = await _me(ctx)
    problem = await _member_problem(ctx, me)
    if problem:
        _refuse(ctx, problem, me)
        return
    code = await store.unused_code(ctx.conn, K.new_code)
    await store.create(
        ctx.conn,
        p=me,
        name=ctx.data["name"],
        business_type=ctx.data["btype"],
        code=code,
        now=ctx.now,
        conversation_id=ctx.state.id,
    )
    cfg = ctx.deps.programs
    ctx.note(
        ctx._(
            "KUBE {name} is formed. Its join code is {code}.\n"
            "Share the code with {min}–{max} families in your kelurahan; each one chooses "
            "KUBE group, then Join with a code.",
            name=ctx.data["name"],
            code=code,
            min=cfg.kube_min_members - 1,
            max=cfg.kube_max_members - 1,
        )
    )
    await ctx.goto("kube", "mine", keep=True)


# --- join ---------------------------------------------------------------------------------------


@kube.ask("code")
async def ask_code(ctx: Ctx) -> None:
    ctx.say(
        ctx._("Type the group's join code: 6 letters and digits, from your chair."), _cancel(ctx)
    )


@kube.on("code")
async def on_code(ctx: Ctx, inp: Input) -> None:
    code = K.clean_code(inp.text) if inp.kind == "text" else None
    if code is None:
        await ctx.not_understood(
            ctx._(
                "A join code has 6 letters and digits (no 0, O, 1 or I), "
                "e.g. K7M3QX. Please type it again."
            )
        )
        return
    g = await store.group_by_code(ctx.conn, code)
    if g is None:
        await ctx.not_understood(
            ctx._(
                "No group has the code {code}. Please check it with your chair and type it again.",
                code=code,
            )
        )
        return
    ctx.data["gid"] = g.id
    await ctx.goto("kube", "join_ok", keep=True)


@kube.ask("join_ok")
async def ask_join_ok(ctx: Ctx) -> None:
    g = await store.group(ctx.conn, ctx.data["gid"])
    ketua = next(m for m in await store.members(ctx.conn, g.id) if m.role == K.KETUA)
    ctx.say(
        ctx._(
            "Join KUBE {name} ({btype}), Kelurahan {kel}, chair {ketua}?",
            name=g.name,
            btype=_btype(ctx.deps.programs, g.business_type),
            kel=_kel(ctx, g.kelurahan_code),
            ketua=K.short_name(ketua.nama),
        ),
        [
            ctx.choice("q:ok", L_("Yes, join")),
            ctx.choice("g:cancel", L_("Cancel")),
        ],
    )


@kube.on("join_ok")
async def on_join_ok(ctx: Ctx, inp: Input) -> None:
    if inp.choice != "q:ok":
        await ctx.not_understood(ctx._("Tap Yes, join, or Cancel."))
        return
    cfg = ctx.deps.programs
    g = await store.group(ctx.conn, ctx.data["gid"], lock=True)
    me = await _me(ctx)
    ctx.data["group_kel"] = _kel(ctx, g.kelurahan_code)
    problem = K.join_problem(
        K.JoinFacts(
            age=me.age,
            person_kelurahan=me.kelurahan_code,
            household_eligible=bool(me.eligible.get("KUBE")),
            in_active_group=await store.active_group_of(ctx.conn, me.id) is not None,
            household_in_active_group=await store.household_in_active(
                ctx.conn, me.household_id, me.id
            ),
            group_kelurahan=g.kelurahan_code,
            group_status=g.status,
            member_count=g.member_count,
        ),
        cfg.kube_member_age,
        cfg.kube_max_members,
    )
    # The count above can be stale by now; the conditional UPDATE is what decides the last place.
    if problem is None and not await store.take_place(ctx.conn, g.id, cfg.kube_max_members):
        problem = "full" if g.status == K.DRAFT else "not_open"
    if problem:
        _refuse(ctx, problem, me)
        return
    await store.add_member(ctx.conn, group_id=g.id, p=me, now=ctx.now, conversation_id=ctx.state.id)
    ketua = next(m for m in await store.members(ctx.conn, g.id) if m.role == K.KETUA)
    if ketua.conversation_id:
        who = K.short_name(me.nama)
        ctx.notified += await notify(
            ctx.conn,
            ketua.conversation_id,
            lambda t: t._(
                "{who} joined KUBE {name}. It now has {n} members.",
                who=who,
                name=g.name,
                n=g.member_count + 1,
            ),
            now=ctx.now,
            default_locale=ctx.deps.default_locale,
        )
    ctx.note(ctx._("You joined KUBE {name}.", name=g.name))
    await ctx.goto("kube", "mine", keep=True)


# --- KUBE saya -----------------------------------------------------------------------------------


def group_text(t: Texts, cfg, region, g, members, events, *, show_code: bool) -> str:
    kel = region.kelurahan_by_code(g.kelurahan_code)
    lines = [
        t._("KUBE {name}", name=g.name),
        t._(
            "Business: {btype} · Kelurahan {kel}",
            btype=_btype(cfg, g.business_type),
            kel=kel.name if kel else g.kelurahan_code,
        ),
        t._("Status: {status}", status=t._(STATUS[g.status])),
    ]
    if g.status == K.REJECTED and g.reason:
        lines.append(t._("Reason: {reason}", reason=g.reason))
    if show_code and g.status == K.DRAFT:
        lines.append(t._("Join code: {code}", code=g.code))
    lines += [
        "",
        t._(
            "Members ({n}, needed {min}–{max}):",
            n=len(members),
            min=cfg.kube_min_members,
            max=cfg.kube_max_members,
        ),
    ]
    for i, m in enumerate(members, 1):
        lines.append(f"{i}. {K.short_name(m.nama)} · NIK {mask(m.nik)} · {t._(ROLE[m.role])}")
    if events:
        lines += ["", t._("History:")]
        for e in events[-8:]:
            lines.append(
                "• "
                + t._(
                    EVENTS.get(e.action, "{date}: " + e.action),
                    date=t.date(e.at.astimezone(JAKARTA).date()),
                    who=K.short_name(e.nama or ""),
                    reason=e.detail or "",
                    role=t._(ROLE.get(e.detail or "", "member")),
                )
            )
    return "\n".join(lines)


async def _mine(ctx: Ctx):
    return await store.active_group_of(ctx.conn, identity.person_id(ctx))


@kube.ask("mine")
async def ask_mine(ctx: Ctx) -> None:
    if not await identity.require_match(ctx, "kube", "mine"):
        return
    row = await _mine(ctx)
    if row is None:
        await ctx.goto("kube", "start", keep=True)
        return
    g = await store.group(ctx.conn, row.id)
    members = await store.members(ctx.conn, g.id)
    events = await store.events(ctx.conn, g.id)
    text = group_text(ctx.t, ctx.deps.programs, ctx.deps.region, g, members, events, show_code=True)
    choices: list[Choice] = []
    if g.status == K.DRAFT and row.role == K.KETUA:
        choices = [
            ctx.choice("q:sek", L_("Name secretary")),
            ctx.choice("q:ben", L_("Name treasurer")),
            ctx.choice("q:rm", L_("Remove a member")),
            ctx.choice("q:submit", L_("Submit to Dinsos")),
        ]
    elif g.status == K.DRAFT:
        choices = [ctx.choice("q:leave", L_("Leave this KUBE"))]
    ctx.say(text, [*choices, ctx.choice("g:menu", L_("Main menu"))])


@kube.on("mine")
async def on_mine(ctx: Ctx, inp: Input) -> None:
    row = await _mine(ctx)
    c = inp.choice or ""
    if row is None:
        await ctx.goto("kube", "start", keep=True)
    elif c in ("q:sek", "q:ben", "q:rm") and row.role == K.KETUA:
        ctx.data["act"] = c[2:]
        await ctx.goto("kube", "pick", keep=True)
    elif c == "q:submit" and row.role == K.KETUA:
        await _submit(ctx, row)
    elif c == "q:leave" and row.role != K.KETUA:
        await ctx.goto("kube", "leave", keep=True)
    else:
        await ctx.not_understood(ctx._("Please tap one of the buttons below."))


PICK_PROMPTS = {
    "sek": N_("Who will be the secretary?"),
    "ben": N_("Who will be the treasurer?"),
    "rm": N_("Who should be removed from the group?"),
}
# What was done, said after the chair picked a member.
DONE = {
    "sek": N_("{who} is now the secretary of KUBE {name}."),
    "ben": N_("{who} is now the treasurer of KUBE {name}."),
    "rm": N_("{who} is no longer a member of KUBE {name}."),
}


@kube.ask("pick")
async def ask_pick(ctx: Ctx) -> None:
    row = await _mine(ctx)
    others = [m for m in await store.members(ctx.conn, row.id) if m.role != K.KETUA] if row else []
    if not others:
        ctx.note(ctx._("There are no other members yet. Share the join code first."))
        await ctx.goto("kube", "mine", keep=True)
        return
    ctx.say(
        ctx._(PICK_PROMPTS[ctx.data.get("act", "sek")]),
        [
            *[Choice(f"p:{m.id}", K.short_name(m.nama)[:20]) for m in others],
            ctx.choice("q:back", L_("Back")),
        ],
    )


@kube.on("pick")
async def on_pick(ctx: Ctx, inp: Input) -> None:
    c = inp.choice or ""
    if c == "q:back":
        await ctx.goto("kube", "mine", keep=True)
        return
    row = await _mine(ctx)
    if not (c.startswith("p:") and c[2:].isdigit()) or row is None or row.role != K.KETUA:
        await ctx.not_understood(ctx._("Please tap a member's name, or Back."))
        return
    mid, act = int(c[2:]), ctx.data.get("act")
    target = next((m for m in await store.members(ctx.conn, row.id) if m.id == mid), None)
    if act == "rm":
        ok = await store.remove_member(
            ctx.conn, group_id=row.id, member_id=mid, now=ctx.now, action="removed"
        )
        if ok and target and target.conversation_id:
            ctx.notified += await notify(
                ctx.conn,
                target.conversation_id,
                lambda t: t._(
                    "The chair removed you from KUBE {name}. You may join or start another group.",
                    name=row.name,
                ),
                now=ctx.now,
                default_locale=ctx.deps.default_locale,
            )
    else:
        ok = await store.set_role(
            ctx.conn,
            group_id=row.id,
            member_id=mid,
            role=K.SEKRETARIS if act == "sek" else K.BENDAHARA,
            now=ctx.now,
        )
    if ok:  # say what was done, not a bare "Done."
        who = K.short_name(target.nama) if target else ""
        done = DONE.get(act or "", DONE["sek"])
        ctx.note(ctx._(done, who=who, name=row.name))
    else:
        ctx.note(ctx._("That was not possible: the group may have been submitted already."))
    await ctx.goto("kube", "mine", keep=True)


async def _submit(ctx: Ctx, row) -> None:
    cfg = ctx.deps.programs
    problem = await store.submit(
        ctx.conn, group_id=row.id, now=ctx.now, size=(cfg.kube_min_members, cfg.kube_max_members)
    )
    if problem:
        n = len(await store.members(ctx.conn, row.id))
        await ctx.not_understood(
            ctx._(SUBMIT_PROBLEMS[problem], min=cfg.kube_min_members, max=cfg.kube_max_members, n=n)
        )
        return
    others = [
        m.conversation_id
        for m in await store.members(ctx.conn, row.id)
        if m.conversation_id and m.conversation_id != ctx.state.id
    ]
    ctx.notified += await notify_many(
        ctx.conn,
        others,
        lambda t: t._(
            "KUBE {name} has been submitted to Dinsos. We will tell you the decision here.",
            name=row.name,
        ),
        now=ctx.now,
        default_locale=ctx.deps.default_locale,
    )
    ctx.note(
        ctx._(
            "KUBE {name} is submitted to Dinsos. Every member will be told the decision.",
            name=row.name,
        )
    )
    await contact.offer(ctx, "kube", str(row.id), label=row.name, then=("kube", "mine"))


@kube.ask("leave")
async def ask_leave(ctx: Ctx) -> None:
    ctx.say(
        ctx._("Leave this KUBE?"),
        [ctx.choice("q:yes", L_("Yes, leave")), ctx.choice("q:back", L_("Back"))],
    )


@kube.on("leave")
async def on_leave(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "q:back":
        await ctx.goto("kube", "mine", keep=True)
        return
    if inp.choice != "q:yes":
        await ctx.not_understood(ctx._("Tap Yes, leave, or Back."))
        return
    row = await _mine(ctx)
    ok = row is not None and await store.remove_member(
        ctx.conn, group_id=row.id, member_id=row.member_id, now=ctx.now, action="left"
    )
    if not ok:
        ctx.note(ctx._("That was not possible: the group may have been submitted already."))
        await ctx.goto("kube", "mine", keep=True)
        return
    ctx.say(ctx._("You left KUBE {name}.", name=row.name), [ctx.choice("g:menu", L_("Main menu"))])
    ctx.rest_in_menu()
