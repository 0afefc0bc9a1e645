"""What the flows make of the understanding layer's intents (core/understanding.py): the button
that offers each one, the "Did you mean" question, and the guard of free-text steps."""

from __future__ import annotations

from core.engine import INTENT_CHOICE, Ctx, Input
from core.i18n import L_
from core.model import Choice
from domain.reports import normalize_code

# The button that offers each intent in "Did you mean".
INTENT_LABELS = {
    "check": L_("Check aid status"),
    "usul": L_("Propose a family"),
    "sanggah": L_("Object to recipient"),
    "koreksi": L_("Correct data"),
    "graduasi": L_("No longer need aid"),
    "myreports": L_("My reports"),
    "kube": L_("KUBE group"),
    "uep": L_("UEP business aid"),
    "training": L_("Skills training"),
    "contact": L_("Contact an officer"),
    "rt": L_("I am a ketua RT"),
    "privacy": L_("Privacy"),
    "language": L_("Change language"),
    "menu": L_("Main menu"),
    "cancel": L_("Cancel"),
}
# Intents that start a service (conversations/hooks.py `intent_chosen` says where).
SERVICES = (
    "check",
    "usul",
    "sanggah",
    "koreksi",
    "graduasi",
    "myreports",
    "kube",
    "uep",
    "training",
    "contact",
    "rt",
)

# The flow that serves each service, so a step does not guard against its own service ("KUBE
# Mawar" is a fine name for a KUBE group).
FLOW_OF = {
    "check": "check",
    "usul": "report",
    "sanggah": "report",
    "koreksi": "report",
    "graduasi": "report",
    "myreports": "myreports",
    "kube": "kube",
    "uep": "uep",
    "training": "training",
    "contact": "handoff",
    "rt": "rt",
}


def did_you_mean(ctx: Ctx, intents: list[str]) -> None:
    """ "Did you mean:" with a button per intent and "Neither" (which asks the step again)."""
    choices = [Choice(INTENT_CHOICE + i, ctx._(INTENT_LABELS[i])) for i in intents]
    choices.append(ctx.choice(INTENT_CHOICE + "none", L_("Neither")))
    ctx.say(ctx._("Did you mean:"), choices)


async def not_an_answer(ctx: Ctx, inp: Input, *, story: bool = False) -> bool:
    """The guard of a free-text step (a name, an address, a story): a message that is plainly
    a greeting, thanks or a request for another service is not stored as the answer. A
    greeting or thanks asks the step again; a service asks "Go to ...?" with the service and
    "Continue here" (what was entered so far stays). `story`: only a message that is the
    whole phrase counts (a reason may well say "tetangga kaya dapat bansos"). True when the
    message was handled here and the step must not store it."""
    if inp.kind != "text":
        return False
    u = ctx.engine.understand(ctx)
    code = u.entities.get("ticket") if u is not None else None
    if code and (not story or normalize_code(inp.text)):  # a code inside a story is the story
        offer_report(ctx, code)
        return True
    if u is None or u.intent is None or not (u.whole or not story):
        return False
    if u.intent in ("greeting", "thanks") and u.whole:
        await ctx.reask()
        return True
    if u.intent in SERVICES and FLOW_OF[u.intent] != ctx.state.flow:
        ctx.say(
            ctx._(
                "Go to {service}? What you typed was not saved as the answer; choose Continue "
                "here to go on with this step.",
                service=ctx._(INTENT_LABELS[u.intent]),
            ),
            [
                Choice(INTENT_CHOICE + u.intent, ctx._(INTENT_LABELS[u.intent])),
                ctx.choice(INTENT_CHOICE + "none", L_("Continue here")),
            ],
        )
        return True
    return False


# The "Show report …?" button: "n:lpr:<code>" (conversations/hooks.py `intent_chosen`).
REPORT_INTENT = "lpr:"


def offer_report(ctx: Ctx, code: str) -> None:
    """A ticket code typed mid-flow is never stored as the answer: "Show report …?" with the
    report and "Continue here" (what was entered so far stays)."""
    ctx.say(
        ctx._(
            "Show report {code}? What you typed was not saved as the answer; choose Continue "
            "here to go on with this step.",
            code=code,
        ),
        [
            ctx.choice(INTENT_CHOICE + REPORT_INTENT + code, L_("Show report")),
            ctx.choice(INTENT_CHOICE + "none", L_("Continue here")),
        ],
    )
