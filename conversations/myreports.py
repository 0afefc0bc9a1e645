""" "My reports": the reports this conversation filed."""

from __future__ import annotations

from core.engine import Ctx, Flow
from core.i18n import L_, N_
from domain import reports as R
from domain.clock import JAKARTA as _JKT
from services import reports as ops

myreports = Flow("myreports")


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
