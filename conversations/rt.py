"""Ketua RT: activation with a one-time code from Dinsos, the RT menu, reports on behalf of a
neighbour, and "Waiting for me" (the Forum RT step: confirm or dispute a report from the RT).

What a head sees of a report: its category, the family's name and address, the reason and the
reporter's words. Never a desil, a program, a NIK or No. KK, and never who reported. A head acts
only inside their own kelurahan + RW + RT: the list shows only those reports, buttons of other
reports are refused by the engine, and services.reports.rt_answer checks the area again.
Invitation codes, their activation and revocation are services/rt.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from conversations.reports import REASON_WORDS, new_draft
from core.engine import Ctx, Flow, Input
from core.i18n import L_
from db import queries, report_store
from domain import reports as R
from services import reports as ops
from services.rt import activate, normalize_invite_code

rt = Flow("rt")


# --- the flow --------------------------------------------------------------------------------


async def _area_text(ctx: Ctx, head) -> str:
    kel = ctx.deps.region.kelurahan_by_code(head.kelurahan_code)
    return ctx._(
        "RT {rt} RW {rw}, Kelurahan {kel}",
        rt=int(head.rt),
        rw=int(head.rw),
        kel=kel.name if kel else head.kelurahan_code,
    )


async def _head_or_leave(ctx: Ctx):
    head = await ops.head_of_conversation(ctx.conn, ctx.state.id)
    if head is None:
        ctx.state.role = "warga"
        ctx.say(
            ctx._("You are no longer registered as a ketua RT."),
            [ctx.choice("g:menu", L_("Main menu"))],
        )
        ctx.rest_in_menu()
    return head


@rt.ask("code")
async def ask_code(ctx: Ctx) -> None:
    ctx.say(
        ctx._(
            "For ketua RT. Type the activation code you received from Dinsos "
            "(for example RT-7KQ4-M9XD)."
        ),
        [ctx.choice("g:cancel", L_("Cancel"))],
    )


CODE_LIMIT, CODE_WINDOW = 5, timedelta(hours=1)
# Carried data (survives moves): when wrong codes were typed, ISO times within the window.
FAILS = "__rt_fail"


@rt.on("code")
async def on_code(ctx: Ctx, inp: Input) -> None:
    # Wrong codes are limited per conversation (5 an hour), on top of a code space of 25^8.
    fails = [
        f for f in ctx.data.get(FAILS, []) if datetime.fromisoformat(f) > ctx.now - CODE_WINDOW
    ]
    if len(fails) >= CODE_LIMIT:
        until = datetime.fromisoformat(min(fails)) + CODE_WINDOW
        ctx.say(
            ctx._(
                "Too many codes that did not work. Please try again after {when}.",
                when=ctx.t.datetime(until),
            ),
            [ctx.choice("g:menu", L_("Main menu"))],
        )
        ctx.rest_in_menu()
        return
    code = normalize_invite_code(inp.text) if inp.kind == "text" else None
    head = await activate(ctx.conn, code, ctx.state.id, ctx.now) if code else None
    if head is None:
        if code:
            ctx.data[FAILS] = [*fails, ctx.now.isoformat()]
        await ctx.not_understood(
            ctx._(
                "This code is not valid: it may be mistyped, already used or expired. Please check "
                "it, or ask Dinsos for a new code."
            )
        )
        return
    ctx.data.pop(FAILS, None)
    ctx.state.role = "rt"
    ctx.note(
        ctx._("You are now registered as ketua RT for {area}.", area=await _area_text(ctx, head))
    )
    await ctx.goto("rt", "menu")


@rt.ask("menu")
async def ask_menu(ctx: Ctx) -> None:
    head = await _head_or_leave(ctx)
    if head is None:
        return
    n = len(await ops.waiting_for_head(ctx.conn, head, limit=100))
    ctx.say(
        ctx._(
            "Ketua RT menu, {area}.\nReports waiting for your answer: {n}.",
            area=await _area_text(ctx, head),
            n=n,
        ),
        [
            ctx.choice("t:wait", L_("Waiting for me")),
            ctx.choice("t:report", L_("Report for neighbour")),
            ctx.choice("g:menu", L_("Main menu")),
        ],
    )


@rt.on("menu")
async def on_menu(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "t:wait":
        await ctx.goto("rt", "wait")
    elif inp.choice == "t:report":
        new_draft(ctx, as_rt=True)
        await ctx.goto("report", "start")
    else:
        await ctx.not_understood()


async def _target_line(ctx: Ctx, r) -> str:
    """Name and address only: never desil, programs, NIK or No. KK, never the reporter."""
    if r.household_id is not None:
        row = await queries.household_head(ctx.conn, r.household_id)
        return f"{row.nama}, {row.alamat}" if row else ""
    return f"{r.target_name or ''}, {r.target_address or ''}"


@rt.ask("wait")
async def ask_wait(ctx: Ctx) -> None:
    head = await _head_or_leave(ctx)
    if head is None:
        return
    rows = await ops.waiting_for_head(ctx.conn, head)
    if not rows:
        ctx.say(
            ctx._("No reports are waiting for you."),
            [ctx.choice("t:menu", L_("Ketua RT menu")), ctx.choice("g:menu", L_("Main menu"))],
        )
        return
    lines = [
        ctx._("Reports from your RT waiting for your answer. Tap one to confirm or dispute it.")
    ]
    for i, r in enumerate(rows, 1):
        lines.append(
            f"{i}. {r.code} · {ctx._(ops.CATEGORY_LABELS[r.category])} · "
            f"{await _target_line(ctx, r)}"
        )
    ctx.say(
        "\n".join(lines),
        [ctx.choice(f"t:r:{r.id}", r.code) for r in rows]
        + [ctx.choice("t:menu", L_("Ketua RT menu"))],
    )


@rt.on("wait")
async def on_wait(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "t:menu":
        await ctx.goto("rt", "menu")
    elif (inp.choice or "").startswith("t:r:") and inp.choice[4:].isdigit():
        ctx.data["report_id"] = int(inp.choice[4:])
        await ctx.goto("rt", "item", keep=True)
    else:
        await ctx.not_understood()


@rt.ask("item")
async def ask_item(ctx: Ctx) -> None:
    head = await _head_or_leave(ctx)
    if head is None:
        return
    r = await report_store.by_id(ctx.conn, ctx.data.get("report_id"))
    if (
        r is None
        or r.state != R.VERIFIKASI_RT
        or (r.kelurahan_code, r.rw, r.rt) != (head.kelurahan_code, head.rw, head.rt)
    ):
        ctx.note(ctx._("This report is no longer waiting for you."))
        await ctx.goto("rt", "wait")
        return
    lines = [
        f"{r.code} · {ctx._(ops.CATEGORY_LABELS[r.category])}",
        "• " + await _target_line(ctx, r),
    ]
    if r.reason:
        lines.append("• " + ctx._(REASON_WORDS.get(r.reason, r.reason)))
    if r.detail:
        lines.append(f"• {r.detail}")
    lines.append(ctx._("Is this report right, as far as you know?"))
    ctx.say(
        "\n".join(lines),
        [
            ctx.choice("t:yes", L_("Right, confirm")),
            ctx.choice("t:no", L_("Not right")),
            ctx.choice("t:wait", L_("Back")),
        ],
    )


@rt.on("item")
async def on_item(ctx: Ctx, inp: Input) -> None:
    if inp.choice in ("t:yes", "t:no"):
        ctx.data["agree"] = inp.choice == "t:yes"
        await ctx.goto("rt", "note", keep=True)
    elif inp.choice == "t:wait":
        await ctx.goto("rt", "wait")
    else:
        await ctx.not_understood()


@rt.ask("note")
async def ask_note(ctx: Ctx) -> None:
    if ctx.data.get("agree"):
        text = ctx._("Add a short note for Dinsos, or tap Skip.")
        choices = [ctx.choice("r:skip", L_("Skip"))]
    else:
        text = ctx._("Why is it not right? Write a short note for Dinsos.")
        choices = []
    ctx.say(text, choices + [ctx.choice("g:cancel", L_("Cancel"))])


@rt.on("note")
async def on_note(ctx: Ctx, inp: Input) -> None:
    agree = bool(ctx.data.get("agree"))
    if agree and (inp.choice == "r:skip" or inp.word in ("lewati", "skip")):
        note = ""
    elif inp.kind == "text" and len(inp.text.strip()) >= 3:
        note = " ".join(inp.text.split())[:900]
    else:
        await ctx.not_understood(ctx._("Please write a short note."))
        return
    head = await _head_or_leave(ctx)
    if head is None:
        return
    try:
        ids = await ops.rt_answer(
            ctx.conn,
            head,
            int(ctx.data.get("report_id") or 0),
            agree,
            note,
            now=ctx.now,
            default_locale=ctx.deps.default_locale,
        )
    except ops.ReportError:
        ctx.note(ctx._("This report is no longer waiting for you."))
        await ctx.goto("rt", "wait")
        return
    ctx.notified += ids  # queued in this transaction; the service sends them after the commit
    ctx.note(ctx._("Thank you. Your answer was sent to Dinsos."))
    await ctx.goto("rt", "wait")
