"""Report wrong data: usul (propose a household), sanggah (object to a recipient), koreksi (own
data wrong), graduasi mandiri (no longer needs aid); and "My reports".

The draft lives in `data["__report"]` (kept while the NIK + No. KK check runs in between). A
ketua RT reporting for a neighbour enters here from conversations/rt.py with `as_rt` set: the
target is then always in the head's own RT. The ticket code is shown in the reply that is queued
in the same transaction as the report, so it reaches the resident only after the commit.
Nothing about another household's data is ever shown: a sanggah never looks the target up.
"""

from __future__ import annotations

from conversations import contact, identity
from conversations.intents import not_an_answer
from core.engine import Ctx, Flow, Input
from core.i18n import L_, N_
from core.model import Reply
from core.notify import notify
from db import queries
from domain import reports as R
from domain.clock import JAKARTA as _JKT
from domain.nik import IdProblem, check_kk, check_nik
from services import reports as ops

report = Flow("report")
myreports = Flow("myreports")

USUL_REASON_LABELS = {
    "income": L_("Lost income"),
    "illness": L_("Illness, disability"),
    "elder": L_("Elder living alone"),
    "house": L_("Poor house"),
    "other": L_("Other reason"),
}
SANGGAH_REASON_LABELS = {
    "wealthy": L_("Well-off family"),
    "civil_servant": L_("Civil servant/army"),
    "moved": L_("Moved away"),
    "died": L_("Passed away"),
    "other": L_("Other reason"),
}
KOREKSI_PART_LABELS = {
    "born": L_("A member was born"),
    "died": L_("A member died"),
    "moved_in": L_("A member moved in"),
    "moved_out": L_("A member moved out"),
    "address": L_("Address"),
    "disability": L_("Disability"),
    "work": L_("Work or income"),
}
REASON_WORDS = {**USUL_REASON_LABELS, **SANGGAH_REASON_LABELS, **KOREKSI_PART_LABELS}


# The draft is carried data (the key starts with "__"): it survives the move to the check.
DRAFT = "__report"


def draft(ctx: Ctx) -> dict:
    return ctx.data.setdefault(DRAFT, {})


def new_draft(ctx: Ctx, *, as_rt: bool = False) -> None:
    """Start an empty draft; `as_rt` when a ketua RT reports for a neighbour."""
    ctx.data[DRAFT] = {"as_rt": True} if as_rt else {}


def drop_draft(ctx: Ctx) -> None:
    ctx.data.pop(DRAFT, None)


def _cancel(ctx: Ctx):
    return [ctx.choice("g:cancel", L_("Cancel"))]


def _skip_cancel(ctx: Ctx):
    return [ctx.choice("r:skip", L_("Skip")), ctx.choice("g:cancel", L_("Cancel"))]


def _skipped(inp: Input) -> bool:
    return inp.choice == "r:skip" or inp.word in ("lewati", "skip", "tidak ada", "-")


async def _head(ctx: Ctx):
    """The active RT head row when this draft is made as the RT, else None."""
    if not draft(ctx).get("as_rt"):
        return None
    return await ops.head_of_conversation(ctx.conn, ctx.state.id)


# --- choose ----------------------------------------------------------------------------------


@report.ask("start")
async def ask_start(ctx: Ctx) -> None:
    as_rt = bool(ctx.data.get(DRAFT, {}).get("as_rt"))
    new_draft(ctx, as_rt=as_rt)
    choices = [
        ctx.choice("r:usul", L_("Propose a family")),
        ctx.choice("r:sanggah", L_("Object to recipient")),
        ctx.choice("r:koreksi", L_("Correct data")),
    ]
    if not as_rt:
        choices.append(ctx.choice("r:graduasi", L_("No longer need aid")))
    choices += _cancel(ctx)
    ctx.say(
        ctx._(
            "What would you like to report?\n"
            "• Propose: a family that should be in the aid data, or whose desil is wrong.\n"
            "• Object: a family that should not receive aid.\n"
            "• Correct: data that is wrong (members, address, disability, work).\n"
            "Reports are checked by Dinsos. False reports harm your neighbours."
        ),
        choices,
    )


@report.on("start")
async def on_start(ctx: Ctx, inp: Input) -> None:
    d = draft(ctx)
    cat = {
        "r:usul": R.USUL,
        "r:sanggah": R.SANGGAH,
        "r:koreksi": R.KOREKSI,
        "r:graduasi": R.GRADUASI,
    }.get(inp.choice or "")
    if cat is None or (cat == R.GRADUASI and d.get("as_rt")):
        await ctx.not_understood()
        return
    d["category"] = cat
    if d.get("as_rt"):
        if await _head(ctx) is None:
            await _not_head(ctx)
            return
        await ctx.goto("report", "name")
    elif cat == R.USUL:
        await ctx.goto("report", "usul_whom")
    elif cat == R.SANGGAH:
        await ctx.goto("report", "sanggah_start")
    elif cat == R.KOREKSI:
        await ctx.goto("report", "koreksi_start")
    else:
        await ctx.goto("report", "graduasi_start")


async def _not_head(ctx: Ctx) -> None:
    drop_draft(ctx)
    ctx.say(
        ctx._("You are no longer registered as a ketua RT."),
        [ctx.choice("g:menu", L_("Main menu"))],
    )
    ctx.rest_in_menu()


# --- usul ------------------------------------------------------------------------------------


@report.ask("usul_whom")
async def ask_usul_whom(ctx: Ctx) -> None:
    ctx.say(
        ctx._("Which family is it about?"),
        [
            ctx.choice("r:own", L_("My family")),
            ctx.choice("r:new", L_("Not in the data yet")),
            ctx.choice("r:other", L_("Another family")),
            *_cancel(ctx),
        ],
    )


@report.on("usul_whom")
async def on_usul_whom(ctx: Ctx, inp: Input) -> None:
    d = draft(ctx)
    if inp.choice == "r:own":
        d["whom"] = "own"
        await ctx.goto("report", "usul_own")
    elif inp.choice in ("r:new", "r:other"):
        d["whom"] = inp.choice[2:]
        await ctx.goto("report", "name")
    else:
        await ctx.not_understood()


@report.ask("usul_own")
async def ask_usul_own(ctx: Ctx) -> None:
    if not await identity.require_match(ctx, "report", "usul_own"):
        return
    await ctx.goto("report", "reason")


# --- sanggah, koreksi, graduasi: a matched resident ------------------------------------------


@report.ask("sanggah_start")
async def ask_sanggah_start(ctx: Ctx) -> None:
    if not await identity.require_match(ctx, "report", "sanggah_start"):
        return
    ctx.note(
        ctx._(
            "An objection is only for a family in your own kelurahan. Your identity is "
            "seen only by Dinsos, never by the family or your neighbours."
        )
    )
    await ctx.goto("report", "name")


@report.ask("koreksi_start")
async def ask_koreksi_start(ctx: Ctx) -> None:
    if not await identity.require_match(ctx, "report", "koreksi_start"):
        return
    await ctx.goto("report", "part")


@report.ask("graduasi_start")
async def ask_graduasi_start(ctx: Ctx) -> None:
    if not await identity.require_match(ctx, "report", "graduasi_start"):
        return
    await ctx.goto("report", "graduasi_confirm")


@report.ask("graduasi_confirm")
async def ask_graduasi_confirm(ctx: Ctx) -> None:
    ctx.say(
        ctx._(
            "You are telling Dinsos that your family no longer needs social aid. After "
            "checking, your family's aid may stop. Are you sure?"
        ),
        [
            ctx.choice("r:send", L_("Yes, send")),
            *_cancel(ctx),
        ],
    )


@report.on("graduasi_confirm")
async def on_graduasi_confirm(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "r:send" or inp.word in ("ya", "yes"):
        await _commit(ctx)
    else:
        await ctx.not_understood()


# --- the target, named -----------------------------------------------------------------------


@report.ask("name")
async def ask_name(ctx: Ctx) -> None:
    d = draft(ctx)
    if d.get("whom") == "new":
        text = ctx._("Type the name of the head of your family.")
    else:
        text = ctx._("Type the name of the head of that family.")
    ctx.say(text, _cancel(ctx))


@report.on("name")
async def on_name(ctx: Ctx, inp: Input) -> None:
    if await not_an_answer(ctx, inp):
        return
    name = " ".join(inp.text.split()) if inp.kind == "text" else ""
    if not (3 <= len(name) <= 120) or any(ch.isdigit() for ch in name):
        await ctx.not_understood(ctx._("Please type a name in letters (at least 3)."))
        return
    draft(ctx)["name"] = name
    await ctx.goto("report", "address")


@report.ask("address")
async def ask_address(ctx: Ctx) -> None:
    ctx.say(ctx._("Type the address (street, house number or landmark)."), _cancel(ctx))


@report.on("address")
async def on_address(ctx: Ctx, inp: Input) -> None:
    if await not_an_answer(ctx, inp):
        return
    addr = " ".join(inp.text.split()) if inp.kind == "text" else ""
    if len(addr) < 5:
        await ctx.not_understood(ctx._("Please type the address in a few words."))
        return
    d = draft(ctx)
    d["address"] = addr[:255]
    if d.get("as_rt"):
        head = await _head(ctx)
        if head is None:
            await _not_head(ctx)
            return
        d.update(kel=head.kelurahan_code, rw=head.rw, rt=head.rt)
        await ctx.goto("report", "part" if d["category"] == R.KOREKSI else "reason")
    else:
        await ctx.goto("report", "rtrw")


@report.ask("rtrw")
async def ask_rtrw(ctx: Ctx) -> None:
    ctx.say(ctx._("Type the RT and RW, for example: RT 3 RW 7"), _cancel(ctx))


@report.on("rtrw")
async def on_rtrw(ctx: Ctx, inp: Input) -> None:
    got = R.parse_rt_rw(inp.text) if inp.kind == "text" else None
    if got is None:
        await ctx.not_understood(
            ctx._("Please type the RT and RW as numbers, for example: RT 3 RW 7")
        )
        return
    d = draft(ctx)
    d["rt"], d["rw"] = got
    if d["category"] == R.SANGGAH:  # always the reporter's own kelurahan
        d["kel"] = await _own_kelurahan(ctx)
        await ctx.goto("report", "reason")
    else:
        await ctx.goto("report", "kelurahan")


async def _own_kelurahan(ctx: Ctx) -> str | None:
    hid = identity.household_id(ctx)
    if hid is None:
        return None
    h, _m, _p = await queries.household_snapshot(ctx.conn, hid)
    return h.kelurahan_code


@report.ask("kelurahan")
async def ask_kelurahan(ctx: Ctx) -> None:
    choices = []
    own = await _own_kelurahan(ctx)
    kel = ctx.deps.region.kelurahan_by_code(own) if own else None
    if kel:
        choices.append(ctx.choice("r:samekel", L_("Same as mine")))
    ctx.say(
        ctx._("Type the name of the kelurahan.")
        + (("\n" + ctx._("Or tap Same as mine for {kel}.", kel=kel.name)) if kel else ""),
        choices + _cancel(ctx),
    )


@report.on("kelurahan")
async def on_kelurahan(ctx: Ctx, inp: Input) -> None:
    d = draft(ctx)
    if inp.choice == "r:samekel":
        d["kel"] = await _own_kelurahan(ctx)
    else:
        kel = ctx.deps.region.find_kelurahan(inp.text) if inp.kind == "text" else None
        if kel is None:
            await ctx.not_understood(
                ctx._(
                    "I do not know that kelurahan in {city}. Please check "
                    "the spelling and type it again.",
                    city=ctx.deps.programs.city,
                )
            )
            return
        d["kel"] = kel.code
    await ctx.goto("report", "nik")


@report.ask("nik")
async def ask_nik(ctx: Ctx) -> None:
    ctx.say(
        ctx._(
            "If you know it, type the NIK of the head of that family (16 digits). "
            "Otherwise tap Skip."
        ),
        _skip_cancel(ctx),
    )


@report.on("nik")
async def on_nik(ctx: Ctx, inp: Input) -> None:
    if _skipped(inp):
        await ctx.goto("report", "reason")
        return
    res = check_nik(inp.text, ctx.now.date()) if inp.kind == "text" else None
    if res is None or isinstance(res, IdProblem):
        await ctx.not_understood(
            ctx._("This does not look like a NIK (16 digits). Type it again or tap Skip.")
        )
        return
    draft(ctx)["nik"] = res.nik
    await ctx.goto("report", "kk")


@report.ask("kk")
async def ask_kk(ctx: Ctx) -> None:
    ctx.say(
        ctx._("If you know it, type the family card number (No. KK). Otherwise tap Skip."),
        _skip_cancel(ctx),
    )


@report.on("kk")
async def on_kk(ctx: Ctx, inp: Input) -> None:
    if _skipped(inp):
        await ctx.goto("report", "reason")
        return
    res = check_kk(inp.text, ctx.now.date()) if inp.kind == "text" else None
    if res is None or isinstance(res, IdProblem):
        await ctx.not_understood(
            ctx._("This does not look like a No. KK (16 digits). Type it again or tap Skip.")
        )
        return
    draft(ctx)["kk"] = res.kk
    await ctx.goto("report", "reason")


# --- why -------------------------------------------------------------------------------------


@report.ask("reason")
async def ask_reason(ctx: Ctx) -> None:
    d = draft(ctx)
    if d["category"] == R.SANGGAH:
        labels = SANGGAH_REASON_LABELS
        text = ctx._("Why should this family not receive aid?")
    else:
        labels = USUL_REASON_LABELS
        text = ctx._("Why does this family need aid?")
    ctx.say(text, [ctx.choice(f"r:why:{k}", v) for k, v in labels.items()] + _cancel(ctx))


@report.on("reason")
async def on_reason(ctx: Ctx, inp: Input) -> None:
    d = draft(ctx)
    allowed = R.SANGGAH_REASONS if d["category"] == R.SANGGAH else R.USUL_REASONS
    code = (inp.choice or "").removeprefix("r:why:")
    if code not in allowed:
        await ctx.not_understood()
        return
    d["reason"] = code
    await ctx.goto("report", "detail" if code == "other" else "photo")


@report.ask("detail")
async def ask_detail(ctx: Ctx) -> None:
    ctx.say(ctx._("Tell us the reason in a few words."), _cancel(ctx))


@report.on("detail")
async def on_detail(ctx: Ctx, inp: Input) -> None:
    if await not_an_answer(ctx, inp, story=True):
        return
    text = " ".join(inp.text.split()) if inp.kind == "text" else ""
    if len(text) < 5:
        await ctx.not_understood(ctx._("Please write the reason in a few words."))
        return
    draft(ctx)["detail"] = text[:1000]
    await ctx.goto("report", "photo")


@report.ask("part")
async def ask_part(ctx: Ctx) -> None:
    ctx.say(
        ctx._("Which part of the data is wrong?"),
        [ctx.choice(f"r:part:{k}", v) for k, v in KOREKSI_PART_LABELS.items()] + _cancel(ctx),
    )


@report.on("part")
async def on_part(ctx: Ctx, inp: Input) -> None:
    code = (inp.choice or "").removeprefix("r:part:")
    if code not in R.KOREKSI_PARTS:
        await ctx.not_understood()
        return
    draft(ctx)["reason"] = code
    await ctx.goto("report", "should")


@report.ask("should")
async def ask_should(ctx: Ctx) -> None:
    ctx.say(
        ctx._(
            'What should the data be? For example: "my son Budi was born on 2 March '
            '2025" or "new address: Jl. Melati 5".'
        ),
        _cancel(ctx),
    )


@report.on("should")
async def on_should(ctx: Ctx, inp: Input) -> None:
    if await not_an_answer(ctx, inp, story=True):
        return
    text = " ".join(inp.text.split()) if inp.kind == "text" else ""
    if len(text) < 5:
        await ctx.not_understood(ctx._("Please write what the data should be, in a few words."))
        return
    draft(ctx)["detail"] = text[:1000]
    await ctx.goto("report", "photo")


# --- evidence --------------------------------------------------------------------------------


@report.ask("photo")
async def ask_photo(ctx: Ctx) -> None:
    cat = draft(ctx)["category"]
    if cat == R.SANGGAH:
        ctx.say(
            ctx._("Send a photo of the front of that family's house (required)."),
            _cancel(ctx),
            request="photo",
        )
    elif cat == R.KOREKSI:
        ctx.say(
            ctx._(
                "You may send a photo of a supporting document, e.g. a birth or death "
                "certificate or a letter from the kelurahan. Never send a KTP or a selfie."
            ),
            _skip_cancel(ctx),
            request="photo",
        )
    else:
        ctx.say(
            ctx._("You may send a photo of the house. Never send a KTP or a selfie."),
            _skip_cancel(ctx),
            request="photo",
        )


@report.on("photo")
async def on_photo(ctx: Ctx, inp: Input) -> None:
    d = draft(ctx)
    required = d["category"] == R.SANGGAH
    if inp.kind == "photo" and inp.payload.get("ref"):
        kind = "document" if d["category"] == R.KOREKSI else "house"
        d.setdefault("photos", []).append([kind, ctx.state.channel, str(inp.payload["ref"])])
    elif required or not _skipped(inp):
        await ctx.not_understood(ctx._("Please send a photo (tap the clip or camera icon)."))
        return
    await ctx.goto("report", "location" if d["category"] in (R.USUL, R.SANGGAH) else "confirm")


@report.ask("location")
async def ask_location(ctx: Ctx) -> None:
    if draft(ctx)["category"] == R.SANGGAH:
        ctx.say(
            ctx._(
                "Now share the location of that house (required): tap the clip icon, then Location."
            ),
            _cancel(ctx),
            request="location",
        )
    else:
        ctx.say(
            ctx._("You may share the location of the house: tap the clip icon, then Location."),
            _skip_cancel(ctx),
            request="location",
        )


@report.on("location")
async def on_location(ctx: Ctx, inp: Input) -> None:
    d = draft(ctx)
    if inp.kind == "location" and "lat" in inp.payload:
        d["lat"], d["lon"] = float(inp.payload["lat"]), float(inp.payload["lon"])
    elif d["category"] == R.SANGGAH or not _skipped(inp):
        await ctx.not_understood(
            ctx._("Please share a location (tap the clip icon, then Location).")
        )
        return
    await ctx.goto("report", "confirm")


# --- confirm and commit ----------------------------------------------------------------------


@report.ask("confirm")
async def ask_confirm(ctx: Ctx) -> None:
    d = draft(ctx)
    category, reason = ops.CATEGORY_LABELS[d["category"]], REASON_WORDS.get(d.get("reason") or "")
    rt_no, rw_no = int(d.get("rt") or 0), int(d.get("rw") or 0)
    lines = [ctx._("Please check your report:"), ctx._(category)]
    if d.get("name"):
        lines.append(f"• {d['name']}, {d.get('address', '')}")
    if d.get("rt"):
        kel = ctx.deps.region.kelurahan_by_code(d.get("kel") or "")
        lines.append(
            "• " + ctx._("RT {rt} RW {rw}", rt=rt_no, rw=rw_no) + (f", {kel.name}" if kel else "")
        )
    elif d.get("whom") == "own" or d["category"] == R.KOREKSI:
        lines.append("• " + ctx._("Your own family"))
    if reason:
        lines.append("• " + ctx._(reason))
    if d.get("detail"):
        lines.append(f"• {d['detail']}")
    if d.get("photos"):
        lines.append("• " + ctx._("Photo attached"))
    if d.get("lat") is not None:
        lines.append("• " + ctx._("Location attached"))
    ctx.say("\n".join(lines), [ctx.choice("r:send", L_("Send report")), *_cancel(ctx)])


@report.on("confirm")
async def on_confirm(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "r:send" or inp.word in ("kirim", "send", "ya", "yes"):
        await _commit(ctx)
    else:
        await ctx.not_understood()


async def _commit(ctx: Ctx) -> None:
    d = draft(ctx)
    cat = d.get("category")
    head = await _head(ctx)
    if d.get("as_rt") and head is None:
        await _not_head(ctx)
        return
    own = head is None and (cat in (R.KOREKSI, R.GRADUASI) or d.get("whom") == "own")
    hid = identity.household_id(ctx)
    kel, rw, rt = d.get("kel"), d.get("rw"), d.get("rt")
    if own or (cat == R.SANGGAH and head is None):
        if hid is None:  # a match is needed and was lost (e.g. state from an older version)
            await ctx.goto("report", "start")
            return
    if own:
        h, _m, _p = await queries.household_snapshot(ctx.conn, hid)
        kel, rw, rt = h.kelurahan_code, h.rw, h.rt
    if not kel:
        await ctx.goto("report", "start")
        return
    sla = ctx.deps.programs.sla
    created = await ops.create_report(
        ctx.conn,
        ops.NewReport(
            category=cat,
            kelurahan_code=kel,
            rw=rw,
            rt=rt,
            reporter_role="rt" if head else "warga",
            reporter_conversation_id=ctx.state.id,
            reporter_person_id=identity.person_id(ctx),
            household_id=hid if own else None,
            target_name=None if own else d.get("name"),
            target_address=None if own else d.get("address"),
            target_nik=d.get("nik"),
            target_kk=d.get("kk"),
            reason=d.get("reason"),
            detail=d.get("detail"),
            lat=d.get("lat"),
            lon=d.get("lon"),
            photos=tuple(tuple(p) for p in d.get("photos", [])),
            actor=f"rt:{head.id}" if head else "warga",
            rt_head_id=head.id if head else None,
        ),
        now=ctx.now,
        verification_days=sla.verification_days,
        rt_answer_days=sla.rt_answer_days,
    )
    drop_draft(ctx)
    if created.merged:
        text = ctx._(
            "A report about the same family is already being handled. We added yours "
            "to it, so it is not counted twice.\nCode: {code}\nStatus: {state}",
            code=created.code,
            state=ops.state_label(ctx.t, created.state, None),
        )
    else:
        text = ctx._(
            "Thank you. Your report was received.\nCode: {code}\nStatus: {state}\n"
            "Dinsos checks it by {date}. We will tell you here at every step. Keep "
            "this code to ask about your report.",
            code=created.code,
            state=ops.state_label(ctx.t, created.state, None),
            date=ctx.t.date(created.due_at.astimezone(_JKT).date()),
        )
    if cat == R.GRADUASI and not created.merged:
        text = (
            ctx._("Thank you for your honesty. It helps aid reach the families who need it most.")
            + "\n\n"
            + text
        )
    # The code goes out as an outbox row queued in the report's own transaction (not a reply
    # claimed for sending at once): a crash after the commit leaves it queued, and the restarted
    # service sends it, once.
    reply = Reply(
        text, [ctx.choice("m:myreports", L_("My reports")), ctx.choice("g:menu", L_("Main menu"))]
    )
    ctx.notified += await notify(
        ctx.conn, ctx.state.id, lambda t: reply, now=ctx.now, default_locale=ctx.deps.default_locale
    )
    ctx.offer(reply.choices)
    ctx.rest_in_menu()
    await contact.offer(ctx, "report", created.code)  # a number an officer may call (optional)


# --- my reports ------------------------------------------------------------------------------


@myreports.ask("list")
async def ask_list(ctx: Ctx) -> None:
    rows = await ops.reports_of(ctx.conn, ctx.state.id)
    if not rows:
        text = ctx._("You have no reports yet.")
    else:
        lines = [ctx._("Your reports (newest first):")]
        for r in rows:
            lines.append(
                f"• {r.code} · {ctx._(SHORT_CATEGORY[r.category])} · {ops.state_label(ctx.t, r.state, r.outcome)} · {ctx.t.date(r.created_at.astimezone(_JKT).date())}"
            )
        text = "\n".join(lines)
    ctx.say(
        text, [ctx.choice("m:report", L_("Report data")), ctx.choice("g:menu", L_("Main menu"))]
    )
    ctx.rest_in_menu()


SHORT_CATEGORY = {
    R.USUL: N_("usul"),
    R.SANGGAH: N_("sanggah"),
    R.KOREKSI: N_("koreksi"),
    R.GRADUASI: N_("graduasi"),
}
