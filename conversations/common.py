"""Shared replies and the engine hooks: menu, help, privacy notice, contact, global words."""
from __future__ import annotations

from babel.dates import get_day_names

from core.engine import Ctx, EngineHooks


def office_hours_text(ctx: Ctx) -> str:
    oh = ctx.deps.programs.office_hours
    names = get_day_names("wide", locale=ctx.t._babel)
    days = sorted(oh.days)
    if days and days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        d = f"{names[days[0]]}–{names[days[-1]]}"
    else:
        d = ", ".join(names[i] for i in days)
    fmt = "%H.%M" if ctx.t.locale == "id" else "%H:%M"
    return f"{d}, {oh.open.strftime(fmt)}–{oh.close.strftime(fmt)} WIB"



def notice_text(ctx: Ctx) -> str:
    p = ctx.deps.programs
    return ctx._(
        "Welcome to Jaring, the official chat service of {office}.\n\n"
        "This service is FREE. Officers never ask for money, OTP codes or PINs. "
        "Never give them to anyone.\n\n"
        "Privacy notice (version {version}):\n"
        "• {office} uses your NIK, family card number (No. KK) and messages only to serve you: "
        "aid information, KUBE, training and data reports.\n"
        "• Your data is kept for at most {months} months after your matter is closed.\n"
        "• You may see, correct or ask to delete your data: {phone}.\n"
        "• We never ask for a photo of your KTP or a selfie.",
        office=p.office, version=p.notice_version, months=p.retention_months, phone=p.office_phone)


class Hooks(EngineHooks):
    def has_consent(self, ctx: Ctx) -> bool:
        return ctx.state.consent_version == ctx.deps.programs.notice_version

    async def staff_owned(self, ctx: Ctx, inp, action: str | None) -> None:
        from conversations.handoff import staff_owned

        await staff_owned(ctx, inp, action)

    async def to_menu(self, ctx: Ctx) -> None:
        ctx.state.data.pop("__after_match", None)  # a flow waiting for a match is given up
        ctx.state.data.pop("__stuck", None)
        await ctx.goto("menu", "main")

    def stuck_text(self, ctx: Ctx) -> str:
        p = ctx.deps.programs
        return ctx._("It seems I cannot help with this here. Choose Main menu to start again, "
                     "or contact an officer: {phone} (WhatsApp {whatsapp}).",
                     phone=p.office_phone, whatsapp=p.office_whatsapp)

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


def help_text(ctx: Ctx) -> str:
    return ctx._(
        "Help\n"
        "• Tap a button, or type its number.\n"
        "• menu: back to the main menu\n"
        "• batal: cancel this step\n"
        "• bantuan: this help\n"
        "Need a person? {office}: {phone} (WhatsApp {whatsapp}), {hours}.",
        office=ctx.deps.programs.office, phone=ctx.deps.programs.office_phone,
        whatsapp=ctx.deps.programs.office_whatsapp, hours=office_hours_text(ctx))

