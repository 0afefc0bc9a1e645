"""Ketua RT: activation with a one-time code from Dinsos, the RT menu, reports on behalf of a
neighbour, "Waiting for me", and the answer to a report of the RT (the Forum RT step).

A report filed in the RT reaches its head at once (services.reports.tell_head), with a reminder
the day before the answer is due. The answer buttons (Right / Not right / I don't know, choice
ids "rt:<answer>:<report id>") work from any step, whenever tapped: the engine hands them to
`answer_tapped` (conversations/hooks.py), which records the answer, asks for an optional note,
then takes the head back to where they were (docs/rt.md).

What a head sees of a report (services.reports.head_view): its category, the family's name and
address, the reason and the reporter's words. Never a desil, a program, a NIK or No. KK, and never
who reported. A head acts only inside their own kelurahan + RW + RT: the list shows only those
reports, and services.reports.rt_answer refuses a button of another RT's report.
Invitation codes, their activation and revocation are services/rt.py.
"""

from __future__ import annotations

from conversations.guesses import Guesses
from conversations.reports import new_draft
from core.engine import IDLE_AFTER, Ctx, Flow, Input
from core.i18n import L_
from db import report_store
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


# Wrong codes are limited per conversation (conversations/guesses.py), on top of a code space of
# 25^8.
GUESSES = Guesses("__rt_fail")


@rt.on("code")
async def on_code(ctx: Ctx, inp: Input) -> None:
    if refusal := GUESSES.locked(ctx):
        ctx.say(refusal, [ctx.choice("g:menu", L_("Main menu"))])
        ctx.rest_in_menu()
        return
    code = normalize_invite_code(inp.text) if inp.kind == "text" else None
    head = await activate(ctx.conn, code, ctx.state.id, ctx.now) if code else None
    if head is None:
        if code:
            GUESSES.failed(ctx)
        await ctx.not_understood(
            ctx._(
                "This code is not valid: it may be mistyped, already used or expired. Please check "
                "it, or ask Dinsos for a new code."
            )
        )
        return
    GUESSES.worked(ctx)
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
        v = await ops.head_view(ctx.conn, r)
        lines.append(f"{i}. {r.code} · {ctx._(ops.CATEGORY_LABELS[r.category])} · {v.target}")
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
    text = ops.head_view_text(ctx.t, await ops.head_view(ctx.conn, r))
    ctx.say(
        text + "\n" + ctx._("Is this report right, as far as you know?"),
        ops.answer_choices(ctx.t, r.id) + [ctx.choice("t:wait", L_("Back"))],
    )


@rt.on("item")
async def on_item(ctx: Ctx, inp: Input) -> None:
    # The answer buttons (rt:...) never get here: answer_tapped takes them from any step.
    if inp.choice == "t:wait":
        await ctx.goto("rt", "wait")
    else:
        await ctx.not_understood()


# --- an answer, from any step ----------------------------------------------------------------

# Data of the answer just given (not carried: gone once the head moves on): [report id, answer]
# and the step the head was at when they tapped, to go back to after the note.
ANSWERED, BACK = "rt_answered", "rt_back"
# Where an answer does not take the head back to: after the note the RT list is shown instead.
NO_WAY_BACK = {"rt", "menu", "start", "language"}


def is_answer(choice: str | None) -> bool:
    return (choice or "").startswith(ops.ANSWER_PREFIX)


async def _refuse(ctx: Ctx, text: str) -> None:
    ctx.say(text)
    if ctx.state.owner != "staff":
        await ctx.reask()


async def answer_tapped(ctx: Ctx, inp: Input) -> None:
    """A ketua RT tapped Right / Not right / I don't know on a report of their RT, in the message
    sent to them or in "Waiting for me", from wherever they are in the chat. The answer is
    recorded at once (services.reports.rt_answer checks the RT again); a short note may follow,
    then the head is back where they were."""
    st = ctx.state
    parsed = ops.parse_answer(inp.choice)
    if parsed is None:
        await _refuse(ctx, ctx._("That button is no longer active."))
        return
    key, report_id = parsed
    head = await ops.head_of_conversation(ctx.conn, st.id)
    if head is None:
        if st.role != "rt":  # never a head here: as for any stale button
            await _refuse(ctx, ctx._("That button is no longer active."))
            return
        st.role = "warga"
        await _refuse(ctx, ctx._("You are no longer registered as a ketua RT."))
        return
    try:
        ids = await ops.rt_answer(
            ctx.conn, head, report_id, key, now=ctx.now, default_locale=ctx.deps.default_locale
        )
    except ops.ReportError as e:
        if e.code == "changed":
            text = ctx._(
                "This report is no longer waiting for you: it was already answered or has gone "
                "on to Dinsos."
            )
        else:  # another RT's report, or a made-up button: as for any stale button
            text = ctx._("That button is no longer active.")
        await _refuse(ctx, text)
        return
    ctx.notified += ids  # queued in this transaction; the service sends them after the commit
    r = await report_store.by_id(ctx.conn, report_id)
    thanks = ctx._(
        'Thank you. Your answer "{answer}" on report {code} was sent to Dinsos.',
        answer=ctx._(ops.ANSWER_LABELS[key]),
        code=r.code,
    )
    if st.owner == "staff":  # talking with an officer: no note step in between
        ctx.say(thanks)
        return
    if (st.flow, st.step) == ("rt", "answered"):
        back = ctx.data.get(BACK)
    elif st.flow in NO_WAY_BACK or ctx.now - st.last_activity_at > IDLE_AFTER:
        back = None
    else:
        back = [st.flow, st.step]
    ctx.data[ANSWERED], ctx.data[BACK] = [report_id, key], back
    ctx.note(thanks)
    await ctx.goto("rt", "answered", keep=True)


@rt.ask("answered")
async def ask_answered(ctx: Ctx) -> None:
    key = (ctx.data.get(ANSWERED) or [0, ""])[1]
    if key == "no":
        text = ctx._("Why is it not right? Write a short note for Dinsos, or tap Skip.")
    else:
        text = ctx._("Add a short note for Dinsos if you like, or tap Skip.")
    ctx.say(text, [ctx.choice("t:skip", L_("Skip"))])


@rt.on("answered")
async def on_answered(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "t:skip" or inp.word in ("lewati", "skip", "-"):
        note = ""
    elif inp.kind == "text" and len(inp.text.strip()) >= 3:
        note = " ".join(inp.text.split())[:900]
    else:
        await ctx.not_understood(ctx._("Please write a short note, or tap Skip."))
        return
    report_id = int((ctx.data.pop(ANSWERED, None) or [0])[0])
    back = ctx.data.pop(BACK, None)
    if note:
        head = await _head_or_leave(ctx)
        if head is None:
            return
        try:
            await ops.rt_note(ctx.conn, head, report_id, note, now=ctx.now)
            ctx.note(ctx._("Your note was added to the report."))
        except ops.ReportError:
            pass
    if back:  # the step asks again (an unknown step leads to the menu)
        await ctx.goto(back[0], back[1], keep=True)
    else:
        await ctx.goto("rt", "wait")
