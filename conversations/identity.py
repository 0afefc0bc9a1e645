"""Who the resident is: a conversation is *matched* once its NIK + No. KK check succeeded.

The check flow stores the household (`conversations.household_id`) and the person
(`data["__person_id"]`; keys starting with `__` survive moves between flows). Flows that need a
matched resident (KUBE, UEP, training, reports) call `require_match`: when the conversation is
not matched yet it runs the NIK + No. KK check and comes back to the asking flow's step after a
match, with a one-line note instead of the full status answer.

Failed checks are limited per conversation (5 an hour) and per NIK (10 a day, counted by keyed
hash). A locked resident is told so at once: before the NIK is asked (a lock of this
conversation) or as soon as the NIK is typed (a lock of that NIK), never after the No. KK.
A NIK's lock never shuts out a conversation that matched that household before (it is matched
to it now, or a check of this conversation succeeded with the NIK of one of its members):
guesses from other chats cannot lock the family out, and this conversation's own failures
still count against its limit and the NIK's (docs/privacy.md).

The dashboard's simulator (channel "web", user key `web:<username>:<n>`) matches only
households of an operator's own kelurahan, and every lookup is in the audit log
(`simulator.lookup`): `simulator_may_see`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core import metrics
from core.engine import Ctx
from core.i18n import L_
from db import queries, staff_store
from db.audit import audit

# Carried data keys (they start with "__", so they survive moves between flows).
PERSON = "__person_id"
AFTER_MATCH = "__after_match"  # [flow, step] to come back to after a match

CONV_LIMIT, CONV_WINDOW = 5, timedelta(hours=1)
NIK_LIMIT, NIK_WINDOW = 10, timedelta(days=1)


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
    until = await lock_until(ctx)
    if until:  # told at once, not after the resident typed a NIK
        tell_locked(ctx, until)
        return False
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


async def lock_until(ctx: Ctx, nik: str | None = None) -> datetime | None:
    """When checks are locked (for this conversation, or for this NIK), the moment the lock
    lifts; None when not locked. A NIK's lock does not hold for a conversation that matched its
    household before."""
    n, oldest = await queries.failed_attempts(
        ctx.conn, conversation_id=ctx.state.id, since=ctx.now - CONV_WINDOW
    )
    if n >= CONV_LIMIT:
        return oldest + CONV_WINDOW
    if nik:
        nik_hash = ctx.deps.nik_hash(nik)
        n, oldest = await queries.failed_attempts(
            ctx.conn, nik_hash=nik_hash, since=ctx.now - NIK_WINDOW
        )
        if n >= NIK_LIMIT and not await matched_before(ctx, nik, nik_hash):
            return oldest + NIK_WINDOW
    return None


async def matched_before(ctx: Ctx, nik: str, nik_hash: str) -> bool:
    """This conversation is matched to the NIK's household now, or once matched with the NIK of
    one of its members (check_attempts keeps successes by keyed hash)."""
    hid, niks = await queries.household_niks(ctx.conn, nik)
    if hid is not None and hid == ctx.state.household_id:
        return True
    hashes = {nik_hash, *(ctx.deps.nik_hash(n) for n in niks)}
    return await queries.matched_with(ctx.conn, ctx.state.id, sorted(hashes))


SIMULATOR = "web"  # the dashboard simulator's channel (handlers/simulator)


async def simulator_may_see(ctx: Ctx, household_id: int | None) -> bool:
    """A check in the dashboard's simulator: whether the staff member behind it may see this
    household (an operator only their kelurahan), written to the audit log each time, matched or
    not. True outside the simulator."""
    if ctx.state.channel != SIMULATOR:
        return True
    username = ctx.state.user_key.removeprefix(f"{SIMULATOR}:").rpartition(":")[0]
    staff = await staff_store.user(ctx.conn, username) if username else None
    kel = await queries.household_kelurahan(ctx.conn, household_id) if household_id else None
    allowed = household_id is None or (  # a non-match shows nothing (and is counted)
        staff is not None
        and bool(staff.active)
        and (staff.role != "operator" or (kel is not None and kel == staff.kelurahan_code))
    )
    await audit(
        ctx.conn,
        f"staff:{username}",
        "simulator.lookup",
        f"household:{household_id}" if household_id else None,
        {
            "conversation": ctx.state.user_key,
            "matched": household_id is not None,
            "allowed": allowed,
            "kelurahan": kel,
        },
        now=ctx.now,
    )
    return allowed


def tell_locked(ctx: Ctx, until: datetime) -> None:
    """Checking is paused: say until when, forget the NIK typed and any flow waiting for the
    match, and rest in the menu."""
    metrics.CHECK_LOCK_REFUSALS.inc()
    ctx.say(
        ctx._(
            "For your safety, checking is paused because of too many attempts that did not "
            "match. Please try again after {when}.",
            when=ctx.t.datetime(until),
        ),
        [
            ctx.choice("g:contact", L_("Contact an officer")),
            ctx.choice("g:menu", L_("Main menu")),
        ],
    )
    ctx.state.data.pop("nik", None)
    give_up_return(ctx)
    ctx.rest_in_menu()
