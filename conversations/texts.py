"""Texts several conversations share: office hours, the privacy notice, help."""

from __future__ import annotations

from babel.dates import get_day_names

from core.engine import Ctx


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
        "• A phone number only if you give one, so an officer can call you about a report or "
        "a proposal; it is deleted after {contact_months} months.\n"
        "• You may see, correct or ask to delete your data: {phone}.\n"
        "• We never ask for a photo of your KTP or a selfie.",
        office=p.office,
        version=p.notice_version,
        months=p.retention_months,
        contact_months=p.contact_retention_months,
        phone=p.office_phone,
    )


def help_text(ctx: Ctx) -> str:
    return ctx._(
        "Help\n"
        "• Tap a button, or type its number.\n"
        "• menu: back to the main menu\n"
        "• cancel: stop what you are filling in\n"
        "• help: this help\n"
        "Need a person? {office}: {phone} (WhatsApp {whatsapp}), {hours}.",
        office=ctx.deps.programs.office,
        phone=ctx.deps.programs.office_phone,
        whatsapp=ctx.deps.programs.office_whatsapp,
        hours=office_hours_text(ctx),
    )
