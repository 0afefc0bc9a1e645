"""Who the resident is: a conversation is *matched* once its NIK + No. KK check succeeded.

The check flow stores the household (`conversations.household_id`) and the person
(`data["__person_id"]`; keys starting with `__` survive moves between flows). Flows that need a
matched resident (KUBE, UEP, training, reports) call `require_match`: when the conversation is
not matched yet it runs the NIK + No. KK check and comes back to the asking flow's step after a
match, with a one-line note instead of the full status answer.
"""

from __future__ import annotations

from core.engine import Ctx
from db import queries

# Carried data keys (they start with "__", so they survive moves between flows).
PERSON = "__person_id"
AFTER_MATCH = "__after_match"  # [flow, step] to come back to after a match


def person_id(ctx: Ctx) -> int | None:
    return ctx.state.data.get(PERSON) if ctx.state.household_id else None


def household_id(ctx: Ctx) -> int | None:
    return ctx.state.household_id if ctx.state.data.get(PERSON) else None


def set_match(ctx: Ctx, household_id: int, person_id: int) -> None:
    """The NIK + No. KK check matched this person of this household."""
    ctx.state.household_id = household_id
    ctx.state.data[PERSON] = person_id


def awaited(ctx: Ctx) -> bool:
    """True when another flow waits for this match (require_match)."""
    return bool(ctx.state.data.get(AFTER_MATCH))


def take_return(ctx: Ctx) -> tuple[str, str] | None:
    """The flow and step waiting for this match, if any; forgets them."""
    after = ctx.state.data.pop(AFTER_MATCH, None)
    return (after[0], after[1]) if after else None


def give_up_return(ctx: Ctx) -> None:
    """A flow waiting for a match is given up (the menu, a locked check)."""
    ctx.state.data.pop(AFTER_MATCH, None)


async def require_match(ctx: Ctx, flow: str, step: str = "start") -> bool:
    """True when the resident is matched. Otherwise start the check, remember where to come
    back to, and return False (the caller returns at once)."""
    if person_id(ctx) is not None:
        return True
    ctx.note(ctx._("First we need to match your data: your NIK and family card number (No. KK)."))
    ctx.state.data[AFTER_MATCH] = [flow, step]
    await ctx.goto("check", "nik")
    return False


async def matched_note(ctx: Ctx, household_id: int) -> None:
    h, _members, _held = await queries.household_snapshot(ctx.conn, household_id)
    kel = ctx.deps.region.kelurahan_by_code(h.kelurahan_code)
    ctx.note(
        ctx._(
            "Your data matched: Kelurahan {kel}, RW {rw} RT {rt}.",
            kel=kel.name if kel else h.kelurahan_code,
            rw=h.rw,
            rt=h.rt,
        )
    )
