""" "My reports" and following a report by its ticket code (LPR-XXXX-XXXX).

- The list: the reports this conversation may follow, newest first, one short line each (code,
  kind, state) and a button per report, 8 a page, then "More reports".
- The detail (a report's button, or its code typed anywhere: conversations/hooks.py routes a
  code the understanding layer spotted): kind, state in plain words, the history with WIB
  dates, and the next step with its date from [sla] in programs.toml.

Who may follow a report: the conversation that filed it, a conversation whose duplicate was
merged into it, and the ketua RT who filed it for a neighbour (db/report_store.py `_visible_to`).
Anyone else gets exactly the answer of an unknown code, from the same single query. Typed codes
that lead nowhere are limited per conversation (5 an hour, as RT codes are); the list's buttons
carry codes this conversation was shown and are not counted.

What the detail never shows: a NIK or No. KK (any long number in a staff note is masked), who
else reported (other merged reporters, actors, notes of other steps), the ketua RT's opinion,
and anything about a household's desil or programs (a sanggah's target is never looked up).
"""

from __future__ import annotations

from datetime import datetime

from conversations.guesses import Guesses
from core.engine import Ctx, Flow, Input
from core.i18n import L_, N_
from core.model import Choice
from db import report_store
from domain import reports as R
from domain.cleaning import db_id
from domain.clock import JAKARTA as _JKT
from domain.masking import mask_text
from domain.reports import normalize_code
from services import reports as ops

myreports = Flow("myreports")

PAGE = 8
# Button ids: a report ("m:lpr:<code>") and a page of the list ("m:myreports:<offset>"). They
# start with "m:" so a button of an older message still works from anywhere (core/engine.py).
REPORT_CHOICE = "m:lpr:"
PAGE_CHOICE = "m:myreports:"
BUTTONS = (REPORT_CHOICE, PAGE_CHOICE)

# Typed codes that led nowhere are limited per conversation (conversations/guesses.py).
GUESSES = Guesses("__lpr_fail")

SHORT_CATEGORY = {
    R.USUL: N_("usul"),
    R.SANGGAH: N_("sanggah"),
    R.KOREKSI: N_("koreksi"),
    R.GRADUASI: N_("graduasi"),
}


# --- the list --------------------------------------------------------------------------------


@myreports.ask("list")
async def ask_list(ctx: Ctx) -> None:
    await show_list(ctx, 0)


async def show_list(ctx: Ctx, offset: int) -> None:
    rows = await report_store.followed_by(ctx.conn, ctx.state.id, offset, PAGE + 1)
    more, rows = len(rows) > PAGE, rows[:PAGE]
    if not rows and offset > 0:  # a page that is gone (an old "More" button): the first page
        await show_list(ctx, 0)
        return
    if not rows:
        ctx.say(
            ctx._("You have no reports yet."),
            [ctx.choice("m:report", L_("Report data")), ctx.choice("g:menu", L_("Main menu"))],
        )
        ctx.rest_in_menu()
        return
    lines = [ctx._("Your reports (newest first):")]
    for r in rows:
        lines.append(
            f"• {r.code} · {ctx._(SHORT_CATEGORY[r.category])} · "
            f"{ops.state_label(ctx.t, r.state, r.outcome)}"
        )
    lines.append(ctx._("Tap a report to see its history and the next step."))
    choices = [Choice(REPORT_CHOICE + r.code, r.code) for r in rows]
    if more:
        choices.append(ctx.choice(f"{PAGE_CHOICE}{offset + PAGE}", L_("More reports")))
    choices.append(ctx.choice("g:menu", L_("Main menu")))
    ctx.say("\n".join(lines), choices)
    ctx.rest_in_menu()


# --- a report's button, a page of the list, a typed code -------------------------------------


@myreports.on("open")
async def on_open(ctx: Ctx, inp: Input) -> None:
    """A button of the list or of a detail (the menu forwards them here)."""
    cid = inp.choice or ""
    if cid.startswith(PAGE_CHOICE) and (page := db_id(cid[len(PAGE_CHOICE) :])) is not None:
        await show_list(ctx, min(page, 10_000))
    elif cid.startswith(REPORT_CHOICE) and (code := normalize_code(cid[len(REPORT_CHOICE) :])):
        await show_report(ctx, code)
    else:
        await show_list(ctx, 0)


@myreports.on("code")
async def on_code(ctx: Ctx, inp: Input) -> None:
    """A ticket code typed (at the menu, or chosen after "Show report …?" mid-flow)."""
    if refusal := GUESSES.locked(ctx):
        ctx.say(refusal, [ctx.choice("g:menu", L_("Main menu"))])
        ctx.rest_in_menu()
        return
    code = normalize_code(inp.text) if inp.kind == "text" else None
    if code is None:
        await ctx.goto("myreports", "list")
        return
    if not await show_report(ctx, code):
        GUESSES.failed(ctx)
        return
    GUESSES.worked(ctx)


def typed_code(ctx: Ctx) -> str | None:
    """The ticket code in the text of this event (any case, spaces or dashes), if any."""
    u = ctx.engine.understand(ctx)
    return u.entities.get("ticket") if u is not None else None


async def show_code(ctx: Ctx, code: str) -> None:
    """Show the report of a code found in the resident's text (conversations/hooks.py)."""
    await ctx.forward("myreports", "code", Input("text", text=code))


# --- the detail ------------------------------------------------------------------------------


async def show_report(ctx: Ctx, code: str) -> bool:
    """The report's detail when this conversation may follow it; otherwise the unknown-code
    answer, the same for a code that does not exist and for someone else's. False then."""
    me = ctx.state.id
    r = await report_store.followed_by_code(ctx.conn, code, me)
    if r is None:
        ctx.say(
            ctx._(
                "We found no report {code} of yours. Please check the code. A report is shown "
                "only to the person who sent it.",
                code=code,
            ),
            [ctx.choice("m:myreports", L_("My reports")), ctx.choice("g:menu", L_("Main menu"))],
        )
        ctx.rest_in_menu()
        return False
    events = await report_store.history(ctx.conn, r.id)
    lines = [
        ctx._("Report {code}", code=r.code),
        ctx._("Kind: {kind}", kind=ctx._(ops.CATEGORY_LABELS[r.category])),
        ctx._("Status: {state}", state=ops.state_label(ctx.t, r.state, r.outcome)),
    ]
    about = _about(ctx, r, me)
    if about:
        lines.append(about)
    steps = _history(ctx, r, events, me)
    lines += ["", ctx._("History:"), *steps]
    nxt, late = _next_step(ctx, r, events)
    lines += ["", nxt]
    choices = [ctx.choice("m:myreports", L_("My reports"))]
    if late:
        choices.append(ctx.choice("g:contact", L_("Contact an officer")))
    choices.append(ctx.choice("g:menu", L_("Main menu")))
    ctx.say("\n".join(lines), choices)
    ctx.rest_in_menu()
    return True


def _about(ctx: Ctx, r, me: int) -> str:
    """What the report is about, from what the reporter typed: their own household, or the
    name they gave (masked), never looked up. Shown to the one who filed it only (a merged
    reporter sees the kind and the steps, not the other person's words)."""
    if r.reporter_conversation_id != me:
        return ""
    if r.household_id is not None:
        return ctx._("About: your own household")
    name = mask_text(r.target_name or "", 60)
    return ctx._("About: {name}", name=name) if name else ""


MAX_STEPS = 8


def _history(ctx: Ctx, r, events, me: int) -> list[str]:
    """One line per step the resident may see: received, every change of state, and their own
    report merged into this one. Not shown: other reporters' merges, who acted, staff notes."""
    out: list[str] = []
    for e in events:
        when = ctx.t.datetime(e.at)
        if e.action == "create":
            text = ctx._("received")
        elif e.action == "merge":
            if e.conversation_id != me or r.reporter_conversation_id == me:
                continue
            text = ctx._("your report was added to this one (same family)")
        elif e.to_state:
            text = ops.state_label(ctx.t, e.to_state, e.outcome)
            if e.from_state == R.VERIFIKASI_RT and e.to_state != R.SELESAI:
                text = (
                    ctx._("the ketua RT answered; {state}", state=text)
                    if (e.action or "").startswith("rt_")
                    else ctx._("no answer from the ketua RT in time; {state}", state=text)
                )
        else:
            continue
        out.append(f"• {when}: {text}")
    if len(out) > MAX_STEPS:
        skipped = len(out) - MAX_STEPS + 1
        out = [ctx._("• … {n} earlier steps", n=skipped), *out[-(MAX_STEPS - 1) :]]
    return out


def _date(ctx: Ctx, when: datetime | None) -> str:
    return ctx.t.date(when.astimezone(_JKT).date()) if when else "-"


def _next_step(ctx: Ctx, r, events) -> tuple[str, bool]:
    """What happens now and roughly when; True when Dinsos is past its own date."""
    due = _date(ctx, r.due_at)
    late = r.state in (R.DITERIMA, R.VERIFIKASI_DINSOS, R.CEK_LAPANGAN) and ctx.now > r.due_at
    told = ctx._("We will tell you here at every step.")
    if late:
        return (
            ctx._(
                "Next: Dinsos is still checking your report. It takes longer than planned "
                "({date}); we are sorry. You may ask an officer about it.",
                date=due,
            )
            + " "
            + told,
            True,
        )
    if r.state == R.DITERIMA:
        text = ctx._("Next: Dinsos checks your report by {date}.", date=due)
    elif r.state == R.VERIFIKASI_RT:
        text = ctx._(
            "Next: the ketua RT is asked to confirm it by {rt_date}; without an answer it goes "
            "on to Dinsos then. Dinsos checks it by {date}.",
            rt_date=_date(ctx, r.rt_due_at or r.due_at),
            date=due,
        )
    elif r.state == R.VERIFIKASI_DINSOS:
        text = ctx._(
            "Next: Dinsos checks your report by {date}. An officer may visit to check.", date=due
        )
    elif r.state == R.CEK_LAPANGAN:
        text = ctx._("Next: an officer visits to check, planned by {date}.", date=due)
    elif r.state == R.DITERUSKAN:
        text = ctx._(
            "Next: the musyawarah kelurahan discusses it and the data goes to SIKS-NG. BPS and "
            "Kemensos make the final decision; this may take a few months."
        )
    elif r.outcome == R.DISETUJUI:
        return (
            ctx._(
                "Done: Dinsos accepted your report and forwarded it. BPS and Kemensos make the "
                "final decision at a data update; this may take a few months. Nothing more is "
                "needed from you."
            ),
            False,
        )
    elif r.outcome == R.DITOLAK:
        return (
            ctx._(
                "Done: the report was not accepted. Reason: {reason}\nIf you have new "
                "information, you may report again or ask an officer.",
                reason=_closing_note(events) or "-",
            ),
            False,
        )
    elif r.outcome == R.DUPLIKAT:
        return (
            ctx._("Done: the same matter is handled in another report. Nothing more is needed."),
            False,
        )
    else:
        return ctx._("Done: the report was cancelled."), False
    return text + " " + told, False


def _closing_note(events) -> str:
    """The reason staff gave when closing (already sent to the reporter), masked."""
    for e in reversed(events):
        if e.to_state == R.SELESAI:
            return mask_text(e.note or "", 300)
    return ""
