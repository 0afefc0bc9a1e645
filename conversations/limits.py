"""Daily limits per conversation: reports and questions to an officer (`[limits]` in
data/programs.toml, docs/privacy.md).

A day is a calendar day in WIB. A resident who reaches a limit is told politely, with the
office's phone, and rests in the menu; the first refusal of the day writes an audit row
(`limit.reports` / `limit.tickets`, subject `conversation:<id>`) so staff see who hit it.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from core.engine import Ctx
from core.i18n import L_
from db import report_store, ticket_store
from db.audit import audit
from domain.clock import JAKARTA

REPORTS, TICKETS = "reports", "tickets"


def day_start(now: datetime) -> datetime:
    """Midnight WIB of `now`'s day, in UTC."""
    return datetime.combine(now.astimezone(JAKARTA).date(), time(), JAKARTA).astimezone(UTC)


async def reached(ctx: Ctx, kind: str) -> bool:
    """True (and the resident told, the menu offered) when this conversation has used up
    today's `kind` ("reports" or "tickets"); the caller then returns at once."""
    cfg = ctx.deps.programs
    since = day_start(ctx.now)
    if kind == REPORTS:
        limit = cfg.limits.reports_per_day
        used = await report_store.made_since(ctx.conn, ctx.state.id, since)
    else:
        limit = cfg.limits.tickets_per_day
        used = await ticket_store.opened_since(ctx.conn, ctx.state.id, since)
    if used < limit:
        return False
    key, today = f"__limit_{kind}", since.date().isoformat()
    if ctx.state.data.get(key) != today:  # one audit row per conversation, kind and day
        ctx.state.data[key] = today
        await audit(
            ctx.conn,
            "system:limits",
            f"limit.{kind}",
            f"conversation:{ctx.state.id}",
            {"limit": limit, "used": used, "channel": ctx.state.channel},
            now=ctx.now,
        )
    if kind == REPORTS:
        text = ctx._(
            "You have sent {n} reports today, the most one chat can send in a day. Please send "
            "the next one tomorrow, or call {phone} (WhatsApp {whatsapp}).",
            n=used,
            phone=cfg.office_phone,
            whatsapp=cfg.office_whatsapp,
        )
    else:
        text = ctx._(
            "You have asked {n} questions today, the most one chat can ask in a day. Please ask "
            "again tomorrow, or call {phone} (WhatsApp {whatsapp}).",
            n=used,
            phone=cfg.office_phone,
            whatsapp=cfg.office_whatsapp,
        )
    ctx.say(text, [ctx.choice("g:menu", L_("Main menu"))])
    ctx.rest_in_menu()
    return True
