"""The main menu (Wis Kerso style: a short numbered list of services)."""

from __future__ import annotations

from conversations import myreports, reports
from core.engine import Ctx, Flow, Input
from core.i18n import L_
from domain.nik import IdProblem, check_nik
from services.rt import normalize_invite_code

menu = Flow("menu")


@menu.ask("main")
async def ask_menu(ctx: Ctx) -> None:
    ctx.say(
        ctx._(
            "Main menu. What would you like to do?\n"
            "Tap a button or type its number. Type menu at any time to come back here."
        ),
        [
            ctx.choice("m:check", L_("Check aid status")),
            ctx.choice("m:report", L_("Report data")),
            ctx.choice("m:myreports", L_("My reports")),
            ctx.choice("m:training", L_("Skills training")),
            ctx.choice("m:kube", L_("KUBE group")),
            ctx.choice("m:uep", L_("UEP business aid")),
            ctx.choice(
                "m:rt", L_("Ketua RT menu") if ctx.state.role == "rt" else L_("I am a ketua RT")
            ),
            ctx.choice("g:contact", L_("Contact an officer")),
            ctx.choice("g:privacy", L_("Privacy")),
            ctx.choice("g:language", L_("Change language")),
        ],
    )


@menu.on("main")
async def on_menu(ctx: Ctx, inp: Input) -> None:
    if code := myreports.typed_code(ctx):
        # A report's code typed, also in a sentence that reads like a button ("laporan saya
        # LPR-..." is not the "My reports" button): that report, to its reporter only.
        await myreports.show_code(ctx, code)
    elif inp.choice == "m:check":
        await ctx.goto("check", "nik")
    elif inp.choice in ("m:training", "m:kube", "m:uep"):
        await ctx.goto(inp.choice[2:], "start")
    elif inp.choice == "m:report":
        reports.drop_draft(ctx)
        await ctx.goto("report", "start")
    elif inp.choice == "m:myreports":
        await ctx.goto("myreports", "list")
    elif (inp.choice or "").startswith(myreports.BUTTONS):  # a report, a page of the list
        await ctx.forward("myreports", "open", inp)
    elif inp.choice == "m:rt":
        await ctx.goto("rt", "menu" if ctx.state.role == "rt" else "code")
    elif inp.kind == "text" and normalize_invite_code(inp.text):
        # A ketua RT who simply types the activation code from the main menu.
        await ctx.forward("rt", "code", inp)
    elif inp.kind == "text" and not isinstance(check_nik(inp.text, ctx.now.date()), IdProblem):
        # Forgiving: a resident who types a NIK straight away starts the check with it.
        await ctx.forward("check", "nik", inp)
    else:
        await ctx.not_understood()
