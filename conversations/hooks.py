"""The engine hooks (core.engine.EngineHooks): consent, the menu, global words, the text for a
stuck resident, and input while staff own the conversation."""

from __future__ import annotations

from conversations import handoff, identity, reports, rt
from conversations.intents import (
    FLOW_OF,
    INTENT_LABELS,
    REPORT_INTENT,
    SERVICES,
    did_you_mean,
    offer_report,
)
from conversations.myreports import show_code
from conversations.texts import help_text, notice_text
from core.engine import MENU, Ctx, EngineHooks, Input
from core.i18n import L_
from core.understanding import Understanding

# Steps that ask for a NIK or a No. KK: a 16-digit number inside a sentence is the answer.
ID_STEPS = {("check", "nik"), ("check", "kk"), ("report", "nik"), ("report", "kk")}
REPORT_KINDS = {"usul": "r:usul", "sanggah": "r:sanggah", "koreksi": "r:koreksi"}


class Hooks(EngineHooks):
    def has_consent(self, ctx: Ctx) -> bool:
        return ctx.state.consent_version == ctx.deps.programs.notice_version

    async def staff_owned(self, ctx: Ctx, inp, action: str | None) -> None:
        await handoff.staff_owned(ctx, inp, action)

    async def anywhere_choice(self, ctx: Ctx, inp: Input) -> bool:
        if rt.is_answer(inp.choice):  # a ketua RT's answer to a report of their RT
            await rt.answer_tapped(ctx, inp)
            return True
        return False

    async def to_menu(self, ctx: Ctx) -> None:
        identity.give_up_return(ctx)  # a flow waiting for a match is given up
        ctx.pop_stuck()
        await ctx.goto("menu", "main")

    def stuck_text(self, ctx: Ctx) -> str:
        p = ctx.deps.programs
        return ctx._(
            "It seems I cannot help with this here. Choose Main menu to start again, "
            "or contact an officer: {phone} (WhatsApp {whatsapp}).",
            phone=p.office_phone,
            whatsapp=p.office_whatsapp,
        )

    async def global_action(self, ctx: Ctx, action: str) -> None:
        st = ctx.state
        if action in ("menu", "start"):
            await self.to_menu(ctx)
        elif action == "cancel":
            if st.flow != "menu":
                ctx.say(ctx._("Cancelled. Nothing you filled in was saved or sent."))
            await self.to_menu(ctx)
        elif action == "help":
            ctx.say(help_text(ctx))
            await ctx.reask()
        elif action == "privacy":
            ctx.say(notice_text(ctx))
            await ctx.reask()
        elif action == "language":
            await ctx.goto("language", "choose")
        elif action == "check":
            await ctx.goto("check", "nik")
        elif action == "contact":
            await ctx.goto("handoff", "ask")  # ask a person here; the office's numbers too
        else:
            await self.to_menu(ctx)

    # --- the understanding layer ------------------------------------------------------------
    async def understood(self, ctx: Ctx, u: Understanding) -> bool:
        here = (ctx.state.flow, ctx.state.step)
        at_menu = here == MENU
        number = u.entities.get("nik") or u.entities.get("number16")
        if here in ID_STEPS and number and number != (ctx.event.payload.get("text") or "").strip():
            await ctx.forward(*here, Input("text", text=number))
            return True
        if at_menu:
            e = u.entities
            if "nik" in e:  # a NIK inside a sentence starts the check with it
                await ctx.forward("check", "nik", Input("text", text=e["nik"]))
                return True
            if "rt_code" in e:
                await ctx.forward("rt", "code", Input("text", text=e["rt_code"]))
                return True
            if "ticket" in e:  # a report's code: that report, to its reporter only
                await show_code(ctx, e["ticket"])
                return True
            if "kube_code" in e and u.intent in (None, "kube"):
                await ctx.goto("kube", "start")
                return True
            if u.intent == "greeting":
                ctx.note(ctx._("Hello! Welcome to Jaring, the chat service of Dinas Sosial."))
                await ctx.goto("menu", "main")
                return True
            if u.intent == "thanks":
                ctx.say(
                    ctx._("You are welcome. Type menu whenever you need us again."),
                    [ctx.choice("g:menu", L_("Main menu"))],
                )
                return True
            if u.intent is not None:
                await self.intent_chosen(ctx, u.intent)
                return True
        elif "ticket" in u.entities:  # a report's code mid-flow: "Show report …?"
            offer_report(ctx, u.entities["ticket"])
            return True
        elif u.intent in SERVICES and FLOW_OF[u.intent] != ctx.state.flow:
            # mid-flow, the step could not use the message and it plainly asks for another
            # service: ask before leaving ("Neither" asks the step again)
            did_you_mean(ctx, [u.intent or ""])
            return True
        offer = [i for i, _ in u.candidates if i in INTENT_LABELS][:3]
        if at_menu and offer:
            did_you_mean(ctx, offer)
            return True
        return False

    async def intent_chosen(self, ctx: Ctx, intent: str) -> None:
        if intent in ("menu", "cancel", "help", "privacy", "language", "contact", "check"):
            await self.global_action(ctx, intent)
        elif intent in REPORT_KINDS or intent == "graduasi":
            reports.drop_draft(ctx)
            await ctx.goto("report", "start")
            ctx.replies.clear()  # the draft is made; straight to the kind asked for
            choice = REPORT_KINDS.get(intent, "r:graduasi")
            await ctx.forward("report", "start", Input("choice", choice=choice))
        elif intent == "myreports":
            await ctx.goto("myreports", "list")
        elif intent.startswith(REPORT_INTENT):
            await show_code(ctx, intent[len(REPORT_INTENT) :])
        elif intent in ("kube", "uep", "training"):
            await ctx.goto(intent, "start")
        elif intent == "rt":
            await ctx.goto("rt", "menu" if ctx.state.role == "rt" else "code")
        elif intent == "none" and (ctx.state.flow, ctx.state.step) != MENU:
            await ctx.reask()
        else:
            await self.to_menu(ctx)
