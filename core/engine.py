"""The conversation engine: global words, consent gate, choice resolution, idle reset,
misunderstanding count, and dispatch to the current flow step.

A flow is a module with a `Flow` object whose steps have an `ask` (prompt) and an `on`
(handle input). Steps read the input, call the domain, update `ctx.data`, and either say
something, `goto` another step, or call `ctx.not_understood(...)`. A step that has said all
there is to say leaves the conversation resting at a step without asking it again
(`rest_at`, `rest_in_menu`, `hand_to_staff`): flows never set `state.flow`/`state.step`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from rapidfuzz import fuzz

from core.i18n import L_, Texts, normalize_locale, texts
from core.model import Choice, Event, Reply
from core.understanding import NONE, LiveLexicon, Understander, Understanding, default_understander
from db import nlu_store
from domain.cleaning import clean_text, decimal_number
from domain.masking import mask_text

IDLE_AFTER = timedelta(minutes=30)
MISUNDERSTOOD_LIMIT = 2

# Words that work from any step, in both languages (matched after lowercasing and trimming).
GLOBAL_WORDS = {
    "menu": "menu",
    "menu utama": "menu",
    "main menu": "menu",
    "/menu": "menu",
    "/start": "menu",
    "batal": "cancel",
    "cancel": "cancel",
    "/batal": "cancel",
    "/cancel": "cancel",
    "bantuan": "help",
    "help": "help",
    "tolong": "help",
    "/bantuan": "help",
    "/help": "help",
    "/privasi": "privacy",
    "privasi": "privacy",
    "/privacy": "privacy",
    "/bahasa": "language",
    "bahasa": "language",
    "language": "language",
    "/language": "language",
    "/cek": "check",
    "/petugas": "staff",
}
COMMANDS = {
    "start": "start",
    "menu": "menu",
    "cek": "check",
    "bahasa": "language",
    "language": "language",
    "privasi": "privacy",
    "privacy": "privacy",
    "bantuan": "help",
    "help": "help",
    "batal": "cancel",
    "cancel": "cancel",
    "petugas": "staff",  # staff alerts of this chat (conversations/staff_link.py)
}
# Choice ids that buttons anywhere may carry.
GLOBAL_CHOICES = {
    "g:menu": "menu",
    "g:help": "help",
    "g:cancel": "cancel",
    "g:contact": "contact",
    "g:privacy": "privacy",
    "g:language": "language",
}

_PUNCT = re.compile(r"[\s.!?,;:]+$")
# The data key under which the choices of the last message are kept (a typed number or label
# picks one of them); keys starting with KEEP survive a move to another flow.
CHOICES = "_choices"
KEEP = "__"
# Choice ids of the understanding layer's "Did you mean" buttons: "n:<intent>", "n:none".
INTENT_CHOICE = "n:"
# Intents a whole message may name from any step, as the global words do ("gk jd", "udahan").
GLOBAL_INTENTS = ("cancel", "menu", "help", "privacy", "language")
# A typed button label with small differences (a typo, a word dropped or added, another
# order) picks the button at this rapidfuzz score or above, when no other label is as close.
LABEL_MATCH = 85
# Set when the resident got stuck (Ctx.not_understood); a ticket opened from here says so.
STUCK = "__stuck"
# Where a conversation rests when an errand is done.
MENU = ("menu", "main")


def carried(data: dict[str, Any]) -> dict[str, Any]:
    """What of a conversation's data survives a move to another flow: the keys starting with
    "__" (the match, a report draft kept while the check runs ...)."""
    return {k: v for k, v in data.items() if k.startswith(KEEP)}


def offered(choices) -> list[list[str]]:
    """The choices of a message as the data keeps them."""
    return [[c.id, c.label] for c in choices]


def moved_data(data: dict[str, Any], choices=(), **extra: Any) -> dict[str, Any]:
    """A conversation's data after a move made outside a step (staff close a ticket and the
    message they send asks for a rating): what `Ctx.goto` keeps, plus `extra`, with `choices`
    offered as a step's `say` would offer them."""
    out = carried(data)
    out.update(extra)
    if choices:
        out[CHOICES] = offered(choices)
    return out


@dataclass(slots=True)
class State:
    id: int
    user_key: str
    channel: str
    address: str
    locale: str | None
    flow: str
    step: str
    data: dict[str, Any]
    owner: str
    role: str
    household_id: int | None
    consent_version: str | None
    misunderstood: int
    last_activity_at: datetime
    is_new: bool = False


@dataclass(slots=True)
class Input:
    kind: str  # text | choice | location | photo | command | contact | other
    text: str = ""
    choice: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def word(self) -> str:
        return _PUNCT.sub("", self.text.strip().lower())


Handler = Callable[["Ctx", Input], Awaitable[None]]
Asker = Callable[["Ctx"], Awaitable[None]]


@dataclass(slots=True)
class Step:
    ask: Asker | None = None
    on: Handler | None = None


class Flow:
    def __init__(self, name: str):
        self.name = name
        self.steps: dict[str, Step] = {}

    def _step(self, name: str) -> Step:
        return self.steps.setdefault(name, Step())

    def ask(self, name: str):
        def deco(fn: Asker) -> Asker:
            self._step(name).ask = fn
            return fn

        return deco

    def on(self, name: str):
        def deco(fn: Handler) -> Handler:
            self._step(name).on = fn
            return fn

        return deco


class Ctx:
    """What a step sees: the state, the connection, dependencies, the clock, and a reply list."""

    def __init__(self, engine: Engine, conn, state: State, deps, now: datetime, event: Event):
        self.engine = engine
        self.conn = conn
        self.state = state
        self.deps = deps
        self.now = now
        self.event = event
        self.replies: list[Reply] = []
        self.understood = True
        self._understanding_tried = False
        self._understanding: Understanding | None = None
        self._notes: list[str] = []
        # Outbox ids a step queued for other residents (core.notify); the service
        # hands them to the sender after the commit.
        self.notified: list[int] = []
        self.t: Texts = texts(
            state.locale or normalize_locale(event.locale_hint, deps.default_locale)
        )
        self._ = self.t._

    # --- state -------------------------------------------------------------------------
    @property
    def data(self) -> dict[str, Any]:
        return self.state.data

    def set_locale(self, locale: str) -> None:
        self.state.locale = locale
        self.t = texts(locale)
        self._ = self.t._

    # --- output ------------------------------------------------------------------------
    def note(self, text: str) -> None:
        """A short line put on top of the next message (saves a message on slow phones)."""
        self._notes.append(text)

    def say(
        self,
        text: str,
        choices: list[Choice] | None = None,
        request: Literal["location", "photo"] | None = None,
    ) -> None:
        if self._notes:
            text = "\n\n".join(x for x in [*self._notes, text] if x)
            self._notes.clear()
        self.replies.append(Reply(text, list(choices or []), request))
        if choices is not None:
            self.state.data[CHOICES] = offered(choices)

    def choice(self, cid: str, label: str) -> Choice:
        """A choice whose label is a msgid marked with L_ (translated here)."""
        return Choice(cid, self._(label))

    def offer(self, choices: list[Choice]) -> None:
        """Offer the choices of a message sent another way (a notification queued in the
        outbox) as `say` would offer them: a typed number or label picks one."""
        self.state.data[CHOICES] = offered(choices)

    # --- navigation --------------------------------------------------------------------
    async def goto(self, flow: str, step: str = "start", *, keep: bool = False) -> None:
        st = self.state
        if flow != st.flow and not keep:
            st.data = carried(st.data)
        st.flow, st.step = flow, step
        st.data.pop(CHOICES, None)
        await self.engine.ask(self)

    async def forward(self, flow: str, step: str, inp: Input) -> None:
        """Handle this input at another flow's step, as if it had been sent there (the menu
        hands a typed NIK to the check). The data is kept, as with a move by hand."""
        self.state.flow, self.state.step = flow, step
        await self.engine.dispatch(self, inp)

    def rest_at(self, flow: str, step: str, *, fresh: bool = False) -> None:
        """A silent move: the conversation rests at `flow`/`step` without asking its prompt
        (what was just said already did), and the next message is handled there. The data
        and the choices just offered are kept; `fresh` keeps only the carried data."""
        st = self.state
        if fresh:
            st.data = carried(st.data)
        st.flow, st.step = flow, step

    def rest_in_menu(self) -> None:
        """The errand is done: the conversation rests at the main menu without showing it
        (the last message offered its own way on, usually a Main menu button)."""
        self.rest_at(*MENU)

    def hand_to_staff(self, flow: str, step: str) -> None:
        """A person answers from now on: the bot stays out of the way (the input goes to
        `EngineHooks.staff_owned`), and the conversation rests at `flow`/`step` with only
        its carried data, for when it comes back to the bot."""
        self.state.owner = "staff"
        self.rest_at(flow, step, fresh=True)

    def hand_back(self) -> None:
        """The bot answers again (a ticket ended)."""
        self.state.owner = "bot"

    def pop_stuck(self) -> bool:
        """True when the resident got stuck (two misunderstandings in a row) since the mark
        was last cleared; clears the mark."""
        return bool(self.state.data.pop(STUCK, None))

    async def reask(self) -> None:
        await self.engine.ask(self)

    async def not_understood(self, hint: str | None = None) -> None:
        """Counts a misunderstanding. The hint (or a re-ask) keeps the step and its data; the
        second misunderstanding in a row also offers the menu and a person."""
        if not self._understanding_tried:
            self._understanding_tried = True
            if await self.engine.understand_instead(self):
                return
            await self.engine.record_miss(self)
        self.understood = False
        st = self.state
        st.misunderstood += 1
        stuck = st.misunderstood >= MISUNDERSTOOD_LIMIT
        if stuck:
            st.misunderstood = 0
            st.data[STUCK] = 1  # a ticket opened from here says the bot could not help
        shown = [Choice(i, lbl) for i, lbl in st.data.get(CHOICES) or [] if lbl]
        if hint is None:
            self.say(self._("Sorry, I did not understand that."))
            await self.engine.ask(self)
        else:
            self.say(hint, shown)
        if stuck:
            last = self.replies[-1]
            last.text = last.text + "\n\n" + self.engine.stuck_text(self)
            have = {c.id for c in last.choices}
            for cid, label in (
                ("g:menu", L_("Main menu")),
                ("g:contact", L_("Contact an officer")),
            ):
                if cid == "g:menu" and st.flow == "menu":
                    continue  # the menu is what was just shown again
                if cid not in have:
                    last.choices.append(Choice(cid, self._(label)))
            st.data[CHOICES] = offered(last.choices)


class Engine:
    def __init__(
        self, flows: dict[str, Flow], hooks: EngineHooks, understander: Understander | None = None
    ):
        self.flows = flows
        self.hooks = hooks
        self._understander = understander
        # The running service's lexicon, re-read when its file changes (core/runtime.py).
        self.lexicon: LiveLexicon | None = None

    @property
    def understander(self) -> Understander:
        """The lexicon's matcher (core/understanding.py): the service's live lexicon, else the
        one handed in, else data/intents.toml."""
        if self.lexicon is not None:
            return self.lexicon.current()
        if self._understander is None:
            self._understander = default_understander()
        return self._understander

    @understander.setter
    def understander(self, value: Understander) -> None:
        self._understander = value
        self.lexicon = None

    def understand(self, ctx: Ctx) -> Understanding | None:
        """The understanding of this event's text (once per event), None for other input."""
        ev = ctx.event
        if ev.kind != "text":
            return None
        if ctx._understanding is None:
            text = str(ev.payload.get("text", ""))[:1000]
            ctx._understanding = self.understander.understand(text)
        return ctx._understanding

    async def understand_instead(self, ctx: Ctx) -> bool:
        """A step did not understand the text: the flows may act on what the understanding
        layer makes of it (another service, a NIK in a sentence, "Did you mean"). True when
        they did."""
        u = self.understand(ctx)
        if u is None:
            return False
        return await self.hooks.understood(ctx, u)

    async def record_miss(self, ctx: Ctx) -> None:
        """The text is about to get "not understood" and the understanding layer found nothing
        close: keep it, masked, for staff (table nlu_misses, the event's transaction). The
        text is never logged."""
        u = self.understand(ctx)
        if u is None or u.kind != NONE or ctx.conn is None:
            return
        text = mask_text(str(ctx.event.payload.get("text", "")))
        if not text:
            return
        st = ctx.state
        await nlu_store.add_miss(
            ctx.conn,
            now=ctx.now,
            channel=st.channel,
            locale=st.locale or ctx.t.locale,
            flow=st.flow,
            step=st.step,
            text=text,
            normalized=mask_text(u.normalized) or text,
        )

    def step_of(self, st: State) -> Step | None:
        flow = self.flows.get(st.flow)
        return flow.steps.get(st.step) if flow else None

    async def ask(self, ctx: Ctx) -> None:
        step = self.step_of(ctx.state)
        ctx.state.data.pop(CHOICES, None)
        if step and step.ask:
            await step.ask(ctx)
        else:  # unknown state (e.g. a flow removed in an update): back to the menu
            await self.hooks.to_menu(ctx)

    def stuck_text(self, ctx: Ctx) -> str:
        return self.hooks.stuck_text(ctx)

    # --- the entry point ------------------------------------------------------------------
    async def handle(self, ctx: Ctx) -> None:
        st, ev = ctx.state, ctx.event
        inp = self._input(ev)
        idle = (
            not st.is_new
            and st.flow not in ("menu", "start")
            and ctx.now - st.last_activity_at > IDLE_AFTER
        )
        action = self._global_action(inp)
        # Before consent, only the privacy notice and the language choice are reachable.
        if not self.hooks.has_consent(ctx):
            if st.is_new or st.flow not in ("start", "language"):
                await ctx.goto("start", "notice")
                return self._finish(ctx)
            if action == "language":
                await ctx.goto("language", "choose", keep=True)
                return self._finish(ctx)
            if action is not None:
                await ctx.reask()
                return self._finish(ctx)
            idle = False
        if inp.kind == "choice" and await self.hooks.anywhere_choice(ctx, inp):
            # the buttons of a notification that work from any step, whenever they are tapped
            return self._finish(ctx)
        if st.owner == "staff":  # a person is answering: the bot stays out of the way
            await self.hooks.staff_owned(ctx, inp, action)
            return self._finish(ctx)
        if action is None and inp.kind == "text":
            action = self._intent_action(ctx, inp)
        if action is None and inp.kind == "text" and await self.hooks.before_step(ctx, inp):
            return self._finish(ctx)  # taken before any step (a staff link code)
        if idle and action is None:
            ctx.note(
                ctx._(
                    "Our previous conversation was left for more than 30 minutes, "
                    "so we are starting again from the menu."
                )
            )
            await self.hooks.to_menu(ctx)
            return self._finish(ctx)
        if action is not None:
            await self.hooks.global_action(ctx, action)
            return self._finish(ctx)
        # Resolve a typed number or label, or a tapped button, against the offered choices.
        offered = st.data.get(CHOICES) or []
        if inp.kind == "choice":
            if (
                inp.choice
                and inp.choice.startswith("m:")
                and inp.choice not in {c[0] for c in offered}
            ):
                # A menu button from an older message is still a fine way in.
                st.flow, st.step = MENU
                offered = []
            elif inp.choice not in {c[0] for c in offered}:
                ctx.say(ctx._("That button is no longer active."))
                await self.ask(ctx)
                return self._finish(ctx)
        elif inp.kind == "text" and offered:
            picked = self._match_choice(inp, offered)
            if picked:
                inp.kind, inp.choice = "choice", picked
        if inp.kind == "choice" and inp.choice in GLOBAL_CHOICES:
            await self.hooks.global_action(ctx, GLOBAL_CHOICES[inp.choice])
            return self._finish(ctx)
        if inp.kind == "choice" and (inp.choice or "").startswith(INTENT_CHOICE):
            await self.hooks.intent_chosen(ctx, (inp.choice or "")[len(INTENT_CHOICE) :])
            return self._finish(ctx)
        if inp.kind == "other":  # voice notes, stickers, videos, documents ...
            await ctx.not_understood(
                ctx._(
                    "I can read text, buttons, locations and photos. Please type your answer or "
                    "tap a button."
                )
            )
            return self._finish(ctx)
        await self.dispatch(ctx, inp)
        return self._finish(ctx)

    async def dispatch(self, ctx: Ctx, inp: Input) -> None:
        """Hand the input to the current step (the menu when the step is unknown)."""
        step = self.step_of(ctx.state)
        if step is None or step.on is None:
            await self.hooks.to_menu(ctx)
        else:
            await step.on(ctx, inp)

    def _finish(self, ctx: Ctx) -> None:
        st = ctx.state
        if ctx._notes:  # a note nobody picked up still reaches the resident
            ctx.say("")
        if ctx.understood:
            st.misunderstood = 0
        st.last_activity_at = ctx.now

    @staticmethod
    def _input(ev: Event) -> Input:
        p = ev.payload
        if ev.kind == "text":
            return Input("text", text=clean_text(str(p.get("text", "")), 1000))
        if ev.kind == "choice":
            return Input("choice", choice=clean_text(str(p.get("id", "")), 64))
        if ev.kind == "command":
            return Input("command", text=str(p.get("command", "")).lower(), payload=dict(p))
        return Input(ev.kind, payload=dict(p))

    @staticmethod
    def _global_action(inp: Input) -> str | None:
        if inp.kind == "command":
            return COMMANDS.get(inp.text, "menu")
        if inp.kind == "text":
            return GLOBAL_WORDS.get(inp.word)
        if inp.kind == "choice":
            return GLOBAL_CHOICES.get(inp.choice or "")
        return None

    def _intent_action(self, ctx: Ctx, inp: Input) -> str | None:
        """A whole message that names a global intent in other words ("gk jd", "udahan",
        "wis ora sido", "ganti bahasa") acts as the global word, unless it picks an offered
        button."""
        if len(inp.text) > 60:  # a global phrase is short; a longer text is an answer
            return None
        offered = ctx.state.data.get(CHOICES) or []
        if offered and self._match_choice(inp, offered):
            return None
        u = self.understand(ctx)
        if u is not None and u.whole and u.intent in GLOBAL_INTENTS:
            return u.intent
        return None

    @staticmethod
    def _match_choice(inp: Input, offered: list[list[str]]) -> str | None:
        word = inp.word
        n = decimal_number(word)  # "2", "²", "②", "２": isdigit() is True for more than int() takes
        if n is not None:
            # numbers only address real (labelled) choices, in the order shown
            shown = [c for c in offered if c[1]]
            if 1 <= n <= len(shown):
                return shown[n - 1][0]
            return None
        norm = " ".join(word.split())
        for cid, label in offered:
            if label and " ".join(label.lower().split()) == norm:
                return cid
        return _fuzzy_label(norm, offered)


def _fuzzy_label(norm: str, offered: list[list[str]]) -> str | None:
    """The offered button whose label the text is, give or take a typo, a word dropped or
    added, or another word order; None when no label is close enough or two are."""
    if len(norm) < 4 or not any(ch.isalpha() for ch in norm):
        return None
    text = _PUNCT_ANY.sub(" ", norm)
    n_words = len(text.split())
    scored = []
    for cid, label in offered:
        if not label:
            continue
        lab = _PUNCT_ANY.sub(" ", label.lower())
        score = fuzz.token_sort_ratio(text, lab)
        if n_words >= 2 and len(lab.split()) >= 2:
            # a word dropped or added: all of the shorter side's words are in the longer
            score = max(score, fuzz.token_set_ratio(text, lab) - 5)
        scored.append((score, cid))
    if not scored:
        return None
    scored.sort(reverse=True)
    best, cid = scored[0]
    if best < LABEL_MATCH or (len(scored) > 1 and scored[1][0] > best - 5):
        return None
    return cid


_PUNCT_ANY = re.compile(r"[^\w]+")


class EngineHooks:
    """What the engine needs from the flows package (conversations/hooks.py)."""

    def has_consent(self, ctx: Ctx) -> bool:
        raise NotImplementedError

    async def to_menu(self, ctx: Ctx) -> None:
        raise NotImplementedError

    async def global_action(self, ctx: Ctx, action: str) -> None:
        raise NotImplementedError

    def stuck_text(self, ctx: Ctx) -> str:
        raise NotImplementedError

    async def staff_owned(self, ctx: Ctx, inp: Input, action: str | None) -> None:
        raise NotImplementedError

    async def before_step(self, ctx: Ctx, inp: Input) -> bool:
        """A text about to reach the step (or the choices offered) that the flows take first,
        whatever the step (True when they did): a staff link code typed anywhere."""
        return False

    async def understood(self, ctx: Ctx, u: Understanding) -> bool:
        """A step did not understand a text; act on the understanding instead (True) or let
        the step's "not understood" stand (False)."""
        return False

    async def intent_chosen(self, ctx: Ctx, intent: str) -> None:
        """A "Did you mean" button ("n:<intent>", "n:none") was tapped."""
        await self.to_menu(ctx)

    async def anywhere_choice(self, ctx: Ctx, inp: Input) -> bool:
        """A button that works from any step, offered or not, idle or not, also while staff own
        the conversation (a ketua RT's answer buttons): handled here (True), or not (False)."""
        return False
