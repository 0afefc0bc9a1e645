"""The engine hooks (core.engine.EngineHooks): consent, the menu, global words, the text for a
stuck resident, and input while staff own the conversation."""

from __future__ import annotations

from conversations import handoff, identity
from conversations.texts import help_text, notice_text
from core.engine import Ctx, EngineHooks


class Hooks(EngineHooks):
    def has_consent(self, ctx: Ctx) -> bool:
        return ctx.state.consent_version == ctx.deps.programs.notice_version

    async def staff_owned(self, ctx: Ctx, inp, action: str | None) -> None:
        await handoff.staff_owned(ctx, inp, action)

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
                ctx.say(ctx._("Cancelled. Nothing from this step was saved."))
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
