"""Report wrong data: usul (propose a household), sanggah (object to a recipient), koreksi (own
data wrong), graduasi mandiri (no longer needs aid). "My reports": myreports.py.

The draft lives in `data["__report"]` (kept while the NIK + No. KK check runs in between). A
ketua RT reporting for a neighbour enters here from conversations/rt.py with `as_rt` set: the
target is then always in the head's own RT, and the neighbour's NIK and No. KK are asked (if
known). The ticket code is shown in the reply that is queued in the same transaction as the
report, so it reaches the resident only after the commit.
Nothing about another household's data is ever shown: a sanggah never looks the target up.

Stories: every kind asks for the reporter's own account (optional), and free text that arrives
at a step that asked for something else (a button, a photo, a location) is kept in the draft's
story, acknowledged, and the step asked again (`_kept`); a photo or a location sent early is kept
the same way. Global words and intents are handled first (the engine, `not_an_answer`). Photo and
location are optional for every kind, with a sentence on why they help.
"""

from __future__ import annotations

import re

from conversations import contact, identity, limits
from conversations.intents import not_an_answer
from core.engine import Ctx, Flow, Input
from core.i18n import L_
from core.model import Reply
from core.notify import notify
from db import queries
from domain import reports as R
from domain.clock import JAKARTA as _JKT
from domain.masking import mask_text
from domain.nik import IdProblem, check_kk, check_nik, mask
from services import reports as ops

report = Flow("report")

USUL_REASON_LABELS = {
    "income": L_("Lost income"),
    "illness": L_("Illness, disability"),
    "elder": L_("Elder living alone"),
    "house": L_("Poor house"),
    "other": L_("Other reason"),
}
SANGGAH_REASON_LABELS = {
    "wealthy": L_("Well-off family"),
    "civil_servant": L_("Civil servant/army"),
    "moved": L_("Moved away"),
    "died": L_("Passed away"),
    "other": L_("Other reason"),
}
KOREKSI_PART_LABELS = {
    "born": L_("A member was born"),
    "died": L_("A member died"),
    "moved_in": L_("A member moved in"),
    "moved_out": L_("A member moved out"),
    "address": L_("Address"),
    "disability": L_("Disability"),
    "work": L_("Work or income"),
}
REASON_WORDS = {**USUL_REASON_LABELS, **SANGGAH_REASON_LABELS, **KOREKSI_PART_LABELS}


# The draft is carried data (the key starts with "__"): it survives the move to the check.
DRAFT = "__report"
STORY_MAX = ops.STORY_MAX
# A "no" that means "skip this step" ("tidak ada", "gak punya foto", "tidak tahu"), short.
_NO = re.compile(r"^(?:tidak|tdk|tak|gak|ga|gk|nggak|ngga|enggak|engga|no|belum|lupa)\b")
# "I don't know" inside a short text ("saya tidak tahu NIK-nya", "lupa"): also a skip.
_UNKNOWN = re.compile(
    r"\b(?:tidak|tdk|gak|ga|gk|nggak|ngga|enggak|belum)\s+(?:tahu|tau|hafal|ingat)\b|\blupa\b"
)
_SKIP_WORDS = ("lewati", "skip", "tidak ada", "-", "tidak tahu", "tidak tau", "i don't know")
# At most this many words, a text that names a service is a request, not a story.
SHORT_REQUEST = 6
# Entities of the understanding layer that are never a story (a ticket code, an RT code).
_NOT_STORY = ("ticket", "rt_code")


def draft(ctx: Ctx) -> dict:
    return ctx.data.setdefault(DRAFT, {})


def new_draft(ctx: Ctx, *, as_rt: bool = False) -> None:
    """Start an empty draft; `as_rt` when a ketua RT reports for a neighbour."""
    ctx.data[DRAFT] = {"as_rt": True} if as_rt else {}


def drop_draft(ctx: Ctx) -> None:
    ctx.data.pop(DRAFT, None)


def _cancel(ctx: Ctx):
    return [ctx.choice("g:cancel", L_("Cancel"))]


def _skip_cancel(ctx: Ctx):
    return [ctx.choice("r:skip", L_("Skip")), ctx.choice("g:cancel", L_("Cancel"))]


def _unknown_cancel(ctx: Ctx):
    return [ctx.choice("r:skip", L_("I don't know")), ctx.choice("g:cancel", L_("Cancel"))]


def _skipped(inp: Input) -> bool:
    if inp.choice == "r:skip":
        return True
    if inp.kind != "text":
        return False
    word = inp.word
    n = len(word.split())
    return (
        word in _SKIP_WORDS
        or (bool(_NO.match(word)) and n <= 4)
        or (bool(_UNKNOWN.search(word)) and n <= 6)
    )


async def _head(ctx: Ctx):
    """The active RT head row when this draft is made as the RT, else None."""
    if not draft(ctx).get("as_rt"):
        return None
    return await ops.head_of_conversation(ctx.conn, ctx.state.id)


# --- stories and evidence kept at any step ---------------------------------------------------


def add_story(d: dict, text: str) -> None:
    """Append the reporter's words to the draft's story (one line each), at most STORY_MAX."""
    text = " ".join(text.split())
    if not text:
        return
    old = d.get("story") or ""
    d["story"] = (f"{old}\n{text}" if old else text)[:STORY_MAX]


def _story_like(text: str, min_words: int) -> bool:
    """Long enough to be an account: `min_words` words, or (at a step that asked for a button,
    a photo or a location) two words of 12 characters together."""
    words = text.split()
    return len(words) >= min_words or (
        min_words <= 3 and len(words) >= 2 and len(text.strip()) >= 12
    )


def _add_photo(ctx: Ctx, d: dict, inp: Input) -> None:
    kind = "document" if d.get("category") == R.KOREKSI else "house"
    d.setdefault("photos", []).append([kind, ctx.state.channel, str(inp.payload["ref"])])


async def _kept(ctx: Ctx, inp: Input, *, min_words: int = 3) -> bool:
    """Something other than what this step asked for, worth keeping: free text (the story), a
    photo, a location. Kept in the draft with a short thank-you, and the step is asked again.
    False when it is not kept (too short to be a story, a command or another service, a
    ticket code): the step handles it as before. At a step that takes a typed value (a name,
    a NIK) only a longer text counts (`min_words`)."""
    d = draft(ctx)
    if inp.kind == "photo" and inp.payload.get("ref") and d.get("category"):
        _add_photo(ctx, d, inp)
        ack = ctx._("Thank you, the photo is kept with your report.")
    elif inp.kind == "location" and "lat" in inp.payload and d.get("category"):
        d["lat"], d["lon"] = float(inp.payload["lat"]), float(inp.payload["lon"])
        ack = ctx._("Thank you, the location is kept with your report.")
    elif inp.kind == "text" and _story_like(inp.text, min_words):
        u = ctx.engine.understand(ctx)
        if u is not None and any(e in u.entities for e in _NOT_STORY):
            return False
        if min_words > 3 and u is not None and ("nik" in u.entities or "number16" in u.entities):
            return False  # a NIK in a sentence at the NIK step: the hooks take it out
        # A short text that names another service is a request ("sambungkan ke petugas"); in
        # a longer one only a whole phrase is ("tetangga kaya dapat bansos" is an account).
        short = len(inp.text.split()) <= SHORT_REQUEST
        if await not_an_answer(ctx, inp, story=not short):
            return True
        if u is not None and u.intent is not None and (u.whole or short):
            return False  # a request, not an account: "not understood" offers what fits
        add_story(d, inp.text)
        ack = ctx._("Thank you, we keep what you wrote with your report.")
    else:
        return False
    ctx.note(ack)
    await ctx.reask()
    return True


# --- choose ----------------------------------------------------------------------------------


async def _receives_aid(ctx: Ctx) -> bool | None:
    """True/False when the conversation is matched (its household receives a program or not),
    None when it is not matched yet."""
    hid = identity.household_id(ctx)
    if hid is None:
        return None
    _h, _m, programs = await queries.household_snapshot(ctx.conn, hid)
    return bool(programs)


@report.ask("start")
async def ask_start(ctx: Ctx) -> None:
    if await limits.reached(ctx, limits.REPORTS):  # [limits] reports_per_day
        drop_draft(ctx)
        return
    old = ctx.data.get(DRAFT, {})
    as_rt = bool(old.get("as_rt"))
    new_draft(ctx, as_rt=as_rt)
    if old.get("story"):  # words typed here before a kind was chosen
        draft(ctx)["story"] = old["story"]
    choices = [
        ctx.choice("r:usul", L_("Propose a family")),
        ctx.choice("r:sanggah", L_("Object to recipient")),
        ctx.choice("r:koreksi", L_("Correct data")),
    ]
    # Graduasi only for a household that receives aid (unknown until matched: asked after).
    if not as_rt and await _receives_aid(ctx) is not False:
        choices.append(ctx.choice("r:graduasi", L_("No longer need aid")))
    choices += _cancel(ctx)
    ctx.say(
        ctx._(
            "What would you like to report?\n"
            "• Propose: a family that should be in the aid data, or whose desil is wrong.\n"
            "• Object: a family that should not receive aid.\n"
            "• Correct: data that is wrong (members, address, disability, work).\n"
            "Reports are checked by Dinsos. False reports harm your neighbours."
        ),
        choices,
    )


@report.on("start")
async def on_start(ctx: Ctx, inp: Input) -> None:
    d = draft(ctx)
    cat = {
        "r:usul": R.USUL,
        "r:sanggah": R.SANGGAH,
        "r:koreksi": R.KOREKSI,
        "r:graduasi": R.GRADUASI,
    }.get(inp.choice or "")
    if cat is None or (cat == R.GRADUASI and d.get("as_rt")):
        if cat is None and await _kept(ctx, inp):
            return
        await ctx.not_understood()
        return
    d["category"] = cat
    if d.get("as_rt"):
        if await _head(ctx) is None:
            await _not_head(ctx)
            return
        await ctx.goto("report", "name")
    elif cat == R.USUL:
        await ctx.goto("report", "usul_whom")
    elif cat == R.SANGGAH:
        await ctx.goto("report", "sanggah_start")
    elif cat == R.KOREKSI:
        await ctx.goto("report", "koreksi_start")
    else:
        await ctx.goto("report", "graduasi_start")


async def _not_head(ctx: Ctx) -> None:
    drop_draft(ctx)
    ctx.say(
        ctx._("You are no longer registered as a ketua RT."),
        [ctx.choice("g:menu", L_("Main menu"))],
    )
    ctx.rest_in_menu()


# --- usul ------------------------------------------------------------------------------------


@report.ask("usul_whom")
async def ask_usul_whom(ctx: Ctx) -> None:
    ctx.say(
        ctx._("Which family is it about?"),
        [
            ctx.choice("r:own", L_("My family")),
            ctx.choice("r:new", L_("Not in the data yet")),
            ctx.choice("r:other", L_("Another family")),
            *_cancel(ctx),
        ],
    )


@report.on("usul_whom")
async def on_usul_whom(ctx: Ctx, inp: Input) -> None:
    d = draft(ctx)
    if inp.choice == "r:own":
        d["whom"] = "own"
        await ctx.goto("report", "usul_own")
    elif inp.choice in ("r:new", "r:other"):
        d["whom"] = inp.choice[2:]
        await ctx.goto("report", "name")
    elif not await _kept(ctx, inp):
        await ctx.not_understood()


@report.ask("usul_own")
async def ask_usul_own(ctx: Ctx) -> None:
    if not await identity.require_match(ctx, "report", "usul_own"):
        return
    await ctx.goto("report", "reason")


# --- sanggah, koreksi, graduasi: a matched resident ------------------------------------------


@report.ask("sanggah_start")
async def ask_sanggah_start(ctx: Ctx) -> None:
    if not await identity.require_match(ctx, "report", "sanggah_start"):
        return
    ctx.note(
        ctx._(
            "An objection is only for a family in your own kelurahan. Your identity is "
            "seen only by Dinsos, never by the family or your neighbours."
        )
    )
    await ctx.goto("report", "name")


@report.ask("koreksi_start")
async def ask_koreksi_start(ctx: Ctx) -> None:
    if not await identity.require_match(ctx, "report", "koreksi_start"):
        return
    await ctx.goto("report", "part")


@report.ask("graduasi_start")
async def ask_graduasi_start(ctx: Ctx) -> None:
    if not await identity.require_match(ctx, "report", "graduasi_start"):
        return
    if not await _receives_aid(ctx):
        drop_draft(ctx)
        ctx.note(
            ctx._(
                "Self-graduation (graduasi mandiri) is for a family that receives social aid. "
                "In our data your family receives no program now, so there is nothing to stop. "
                "Thank you for thinking of others. If something in your data is wrong, choose "
                "Report data."
            )
        )
        await ctx.goto("menu", "main")
        return
    await ctx.goto("report", "story")


@report.ask("graduasi_confirm")
async def ask_graduasi_confirm(ctx: Ctx) -> None:
    ctx.say(
        ctx._(
            "You are telling Dinsos that your family no longer needs social aid. After "
            "checking, your family's aid may stop. Are you sure?"
        ),
        [
            ctx.choice("r:send", L_("Yes, send")),
            *_cancel(ctx),
        ],
    )


@report.on("graduasi_confirm")
async def on_graduasi_confirm(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "r:send" or inp.word in ("ya", "yes"):
        await _commit(ctx)
    elif not await _kept(ctx, inp):
        await ctx.not_understood()


# --- the target, named -----------------------------------------------------------------------


@report.ask("name")
async def ask_name(ctx: Ctx) -> None:
    d = draft(ctx)
    if d.get("whom") == "new":
        text = ctx._("Type the name of the head of your family.")
    else:
        text = ctx._("Type the name of the head of that family.")
    ctx.say(text, _cancel(ctx))


@report.on("name")
async def on_name(ctx: Ctx, inp: Input) -> None:
    if await not_an_answer(ctx, inp):
        return
    name = " ".join(inp.text.split()) if inp.kind == "text" else ""
    if not (3 <= len(name) <= 120) or any(ch.isdigit() for ch in name):
        if await _kept(ctx, inp, min_words=5):
            return
        await ctx.not_understood(ctx._("Please type a name in letters (at least 3)."))
        return
    draft(ctx)["name"] = name
    await ctx.goto("report", "address")


@report.ask("address")
async def ask_address(ctx: Ctx) -> None:
    ctx.say(ctx._("Type the address (street, house number or landmark)."), _cancel(ctx))


@report.on("address")
async def on_address(ctx: Ctx, inp: Input) -> None:
    if await not_an_answer(ctx, inp):
        return
    addr = " ".join(inp.text.split()) if inp.kind == "text" else ""
    if len(addr) < 5:
        if await _kept(ctx, inp):  # a photo or a location sent here
            return
        await ctx.not_understood(ctx._("Please type the address in a few words."))
        return
    d = draft(ctx)
    d["address"] = addr[:255]
    if len(addr) > 255:  # a long text: the whole of it is kept as the story too
        add_story(d, addr)
    if d.get("as_rt"):
        head = await _head(ctx)
        if head is None:
            await _not_head(ctx)
            return
        d.update(kel=head.kelurahan_code, rw=head.rw, rt=head.rt)
        await ctx.goto("report", "nik")  # the neighbour's NIK and No. KK, if the head knows
    else:
        await ctx.goto("report", "rtrw")


@report.ask("rtrw")
async def ask_rtrw(ctx: Ctx) -> None:
    ctx.say(ctx._("Type the RT and RW, for example: RT 3 RW 7"), _cancel(ctx))


@report.on("rtrw")
async def on_rtrw(ctx: Ctx, inp: Input) -> None:
    got = R.parse_rt_rw(inp.text) if inp.kind == "text" else None
    if got is None:
        if await _kept(ctx, inp, min_words=5):
            return
        await ctx.not_understood(
            ctx._("Please type the RT and RW as numbers, for example: RT 3 RW 7")
        )
        return
    d = draft(ctx)
    d["rt"], d["rw"] = got
    if d["category"] == R.SANGGAH:  # always the reporter's own kelurahan
        d["kel"] = await _own_kelurahan(ctx)
        await ctx.goto("report", "reason")
    else:
        await ctx.goto("report", "kelurahan")


async def _own_kelurahan(ctx: Ctx) -> str | None:
    hid = identity.household_id(ctx)
    if hid is None:
        return None
    h, _m, _p = await queries.household_snapshot(ctx.conn, hid)
    return h.kelurahan_code


@report.ask("kelurahan")
async def ask_kelurahan(ctx: Ctx) -> None:
    choices = []
    own = await _own_kelurahan(ctx)
    kel = ctx.deps.region.kelurahan_by_code(own) if own else None
    if kel:
        choices.append(ctx.choice("r:samekel", L_("Same as mine")))
    ctx.say(
        ctx._("Type the name of the kelurahan.")
        + (("\n" + ctx._("Or tap Same as mine for {kel}.", kel=kel.name)) if kel else ""),
        choices + _cancel(ctx),
    )


@report.on("kelurahan")
async def on_kelurahan(ctx: Ctx, inp: Input) -> None:
    d = draft(ctx)
    if inp.choice == "r:samekel":
        d["kel"] = await _own_kelurahan(ctx)
    else:
        kel = ctx.deps.region.find_kelurahan(inp.text) if inp.kind == "text" else None
        if kel is None:
            if await _kept(ctx, inp, min_words=5):
                return
            await ctx.not_understood(
                ctx._(
                    "I do not know that kelurahan in {city}. Please check "
                    "the spelling and type it again.",
                    city=ctx.deps.programs.city,
                )
            )
            return
        d["kel"] = kel.code
    await ctx.goto("report", "nik")


def _after_ids(ctx: Ctx) -> str:
    """The step after the NIK and No. KK: which part (a koreksi by the RT), else the reason."""
    return "part" if draft(ctx).get("category") == R.KOREKSI else "reason"


@report.ask("nik")
async def ask_nik(ctx: Ctx) -> None:
    ctx.say(
        ctx._(
            "If you know it, type the NIK of the head of that family (16 digits). "
            "Otherwise tap I don't know."
        ),
        _unknown_cancel(ctx),
    )


@report.on("nik")
async def on_nik(ctx: Ctx, inp: Input) -> None:
    if _skipped(inp):
        await ctx.goto("report", "kk")  # the No. KK may be known without the NIK
        return
    res = check_nik(inp.text, ctx.now.date()) if inp.kind == "text" else None
    if res is None or isinstance(res, IdProblem):
        if await _kept(ctx, inp, min_words=5):
            return
        await ctx.not_understood(
            ctx._("This does not look like a NIK (16 digits). Type it again or tap I don't know.")
        )
        return
    draft(ctx)["nik"] = res.nik
    await ctx.goto("report", "kk")


@report.ask("kk")
async def ask_kk(ctx: Ctx) -> None:
    ctx.say(
        ctx._("If you know it, type the family card number (No. KK). Otherwise tap I don't know."),
        _unknown_cancel(ctx),
    )


@report.on("kk")
async def on_kk(ctx: Ctx, inp: Input) -> None:
    if _skipped(inp):
        await ctx.goto("report", _after_ids(ctx))
        return
    res = check_kk(inp.text, ctx.now.date()) if inp.kind == "text" else None
    if res is None or isinstance(res, IdProblem):
        if await _kept(ctx, inp, min_words=5):
            return
        await ctx.not_understood(
            ctx._(
                "This does not look like a No. KK (16 digits). Type it again or tap I don't know."
            )
        )
        return
    draft(ctx)["kk"] = res.kk
    await ctx.goto("report", _after_ids(ctx))


# --- why -------------------------------------------------------------------------------------


@report.ask("reason")
async def ask_reason(ctx: Ctx) -> None:
    d = draft(ctx)
    if d["category"] == R.SANGGAH:
        labels = SANGGAH_REASON_LABELS
        text = ctx._("Why should this family not receive aid?")
    else:
        labels = USUL_REASON_LABELS
        text = ctx._("Why does this family need aid?")
    ctx.say(text, [ctx.choice(f"r:why:{k}", v) for k, v in labels.items()] + _cancel(ctx))


@report.on("reason")
async def on_reason(ctx: Ctx, inp: Input) -> None:
    d = draft(ctx)
    allowed = R.SANGGAH_REASONS if d["category"] == R.SANGGAH else R.USUL_REASONS
    code = (inp.choice or "").removeprefix("r:why:")
    if code not in allowed:
        if not await _kept(ctx, inp):
            await ctx.not_understood()
        return
    d["reason"] = code
    await ctx.goto("report", "detail" if code == "other" else "story")


@report.ask("detail")
async def ask_detail(ctx: Ctx) -> None:
    ctx.say(ctx._("Tell us the reason in a few words."), _cancel(ctx))


@report.on("detail")
async def on_detail(ctx: Ctx, inp: Input) -> None:
    if await not_an_answer(ctx, inp, story=True):
        return
    text = " ".join(inp.text.split()) if inp.kind == "text" else ""
    if len(text) < 5:
        if await _kept(ctx, inp):  # a photo or a location sent here
            return
        await ctx.not_understood(ctx._("Please write the reason in a few words."))
        return
    d = draft(ctx)
    d["detail"] = text[:1000]
    if len(text) > 1000:
        add_story(d, text)
    await ctx.goto("report", "story")


@report.ask("part")
async def ask_part(ctx: Ctx) -> None:
    ctx.say(
        ctx._("Which part of the data is wrong?"),
        [ctx.choice(f"r:part:{k}", v) for k, v in KOREKSI_PART_LABELS.items()] + _cancel(ctx),
    )


@report.on("part")
async def on_part(ctx: Ctx, inp: Input) -> None:
    code = (inp.choice or "").removeprefix("r:part:")
    if code not in R.KOREKSI_PARTS:
        if not await _kept(ctx, inp):
            await ctx.not_understood()
        return
    draft(ctx)["reason"] = code
    await ctx.goto("report", "should")


@report.ask("should")
async def ask_should(ctx: Ctx) -> None:
    ctx.say(
        ctx._(
            'What should the data be? For example: "my son Budi was born on 2 March '
            '2025" or "new address: Jl. Melati 5".'
        ),
        _cancel(ctx),
    )


@report.on("should")
async def on_should(ctx: Ctx, inp: Input) -> None:
    if await not_an_answer(ctx, inp, story=True):
        return
    text = " ".join(inp.text.split()) if inp.kind == "text" else ""
    if len(text) < 5:
        if await _kept(ctx, inp):  # a photo or a location sent here
            return
        await ctx.not_understood(ctx._("Please write what the data should be, in a few words."))
        return
    d = draft(ctx)
    d["detail"] = text[:1000]
    if len(text) > 1000:
        add_story(d, text)
    await ctx.goto("report", "story")


# --- the reporter's own words ----------------------------------------------------------------


@report.ask("story")
async def ask_story(ctx: Ctx) -> None:
    if draft(ctx).get("story"):
        text = ctx._(
            "We have kept what you wrote. Is there anything you want to add, in your own words? "
            "Write it, or tap Skip."
        )
    else:
        text = ctx._(
            "If you like, tell us in a few sentences, in your own words, what is going on. "
            "It helps the officer understand. Or tap Skip."
        )
    ctx.say(text, _skip_cancel(ctx))


@report.on("story")
async def on_story(ctx: Ctx, inp: Input) -> None:
    d = draft(ctx)
    if not _skipped(inp):
        if inp.kind != "text":
            if not await _kept(ctx, inp):  # a photo or a location: kept, the story asked again
                await ctx.not_understood(ctx._("Please write a few words, or tap Skip."))
            return
        if await not_an_answer(ctx, inp, story=True):
            return
        if len(" ".join(inp.text.split())) < 5:
            await ctx.not_understood(ctx._("Please write a few words, or tap Skip."))
            return
        add_story(d, inp.text)
    await ctx.goto("report", "graduasi_confirm" if d["category"] == R.GRADUASI else "photo")


# --- evidence (optional for every kind) ------------------------------------------------------


def _wants_location(d: dict) -> bool:
    """A location helps find a house: usul, sanggah, and a koreksi of the address."""
    return d["category"] in (R.USUL, R.SANGGAH) or (
        d["category"] == R.KOREKSI and d.get("reason") == "address"
    )


@report.ask("photo")
async def ask_photo(ctx: Ctx) -> None:
    cat = draft(ctx)["category"]
    if cat == R.SANGGAH:
        text = ctx._(
            "If you can do it from the street without disturbing anyone, you may send a photo "
            "of the front of the house: it helps the officer find the right house. Do not "
            "photograph people or enter their yard. Or tap Skip."
        )
    elif cat == R.KOREKSI:
        text = ctx._(
            "You may send a photo of a supporting document, e.g. a birth or death certificate "
            "or a letter from the kelurahan: it helps Dinsos check the change sooner. Never "
            "send a KTP or a selfie. Or tap Skip."
        )
    else:
        text = ctx._(
            "You may send a photo of the house: it helps the officer see its condition and "
            "find it. Never send a KTP or a selfie. Or tap Skip."
        )
    ctx.say(text, _skip_cancel(ctx), request="photo")


@report.on("photo")
async def on_photo(ctx: Ctx, inp: Input) -> None:
    d = draft(ctx)
    if inp.kind == "photo" and inp.payload.get("ref"):
        _add_photo(ctx, d, inp)
    elif not _skipped(inp):
        if not await _kept(ctx, inp):
            await ctx.not_understood(
                ctx._("Please send a photo (tap the clip or camera icon), or tap Skip.")
            )
        return
    await ctx.goto("report", "location" if _wants_location(d) else "confirm")


@report.ask("location")
async def ask_location(ctx: Ctx) -> None:
    ctx.say(
        ctx._(
            "You may share the location of the house (tap the clip icon, then Location): it "
            "helps the officer find it on a visit. Or tap Skip."
        ),
        _skip_cancel(ctx),
        request="location",
    )


@report.on("location")
async def on_location(ctx: Ctx, inp: Input) -> None:
    d = draft(ctx)
    if inp.kind == "location" and "lat" in inp.payload:
        d["lat"], d["lon"] = float(inp.payload["lat"]), float(inp.payload["lon"])
    elif not _skipped(inp):
        if not await _kept(ctx, inp):
            await ctx.not_understood(
                ctx._("Please share a location (tap the clip icon, then Location), or tap Skip.")
            )
        return
    await ctx.goto("report", "confirm")


# --- confirm and commit ----------------------------------------------------------------------


def _short(text: str, n: int = 120) -> str:
    """The reporter's words as the summary shows them: masked numbers, one line, cut."""
    one = mask_text(" ".join(text.split()), limit=STORY_MAX)
    return one if len(one) <= n else one[: n - 1].rstrip() + "…"


@report.ask("confirm")
async def ask_confirm(ctx: Ctx) -> None:
    d = draft(ctx)
    category, reason = ops.CATEGORY_LABELS[d["category"]], REASON_WORDS.get(d.get("reason") or "")
    rt_no, rw_no = int(d.get("rt") or 0), int(d.get("rw") or 0)
    lines = [ctx._("Please check your report:"), ctx._(category)]
    if d.get("name"):
        lines.append(f"• {d['name']}, {d.get('address', '')}")
    if d.get("rt"):
        kel = ctx.deps.region.kelurahan_by_code(d.get("kel") or "")
        lines.append(
            "• " + ctx._("RT {rt} RW {rw}", rt=rt_no, rw=rw_no) + (f", {kel.name}" if kel else "")
        )
    elif d.get("whom") == "own" or d["category"] == R.KOREKSI:
        lines.append("• " + ctx._("Your own family"))
    if d.get("nik") or d.get("kk"):  # masked: a chat is not a safe place for the full number
        ids = [f"NIK {mask(d['nik'])}"] if d.get("nik") else []
        ids += [f"No. KK {mask(d['kk'])}"] if d.get("kk") else []
        lines.append("• " + " · ".join(ids))
    if reason:
        lines.append("• " + ctx._(reason))
    if d.get("detail"):
        lines.append(f"• {d['detail']}")
    if d.get("story"):
        lines.append("• " + ctx._("Your story: {story}", story=_short(d["story"])))
    if d.get("photos"):
        lines.append("• " + ctx._("Photo attached"))
    if d.get("lat") is not None:
        lines.append("• " + ctx._("Location attached"))
    ctx.say("\n".join(lines), [ctx.choice("r:send", L_("Send report")), *_cancel(ctx)])


@report.on("confirm")
async def on_confirm(ctx: Ctx, inp: Input) -> None:
    if inp.choice == "r:send" or inp.word in ("kirim", "send", "ya", "yes"):
        await _commit(ctx)
    elif not await _kept(ctx, inp):
        await ctx.not_understood()


async def _commit(ctx: Ctx) -> None:
    d = draft(ctx)
    cat = d.get("category")
    head = await _head(ctx)
    if d.get("as_rt") and head is None:
        await _not_head(ctx)
        return
    own = head is None and (cat in (R.KOREKSI, R.GRADUASI) or d.get("whom") == "own")
    hid = identity.household_id(ctx)
    kel, rw, rt = d.get("kel"), d.get("rw"), d.get("rt")
    if own or (cat == R.SANGGAH and head is None):
        if hid is None:  # a match is needed and was lost (e.g. state from an older version)
            await ctx.goto("report", "start")
            return
    if own:
        h, _m, _p = await queries.household_snapshot(ctx.conn, hid)
        kel, rw, rt = h.kelurahan_code, h.rw, h.rt
    if not kel:
        await ctx.goto("report", "start")
        return
    if await limits.reached(ctx, limits.REPORTS):
        drop_draft(ctx)
        return
    sla = ctx.deps.programs.sla
    created = await ops.create_report(
        ctx.conn,
        ops.NewReport(
            category=cat,
            kelurahan_code=kel,
            rw=rw,
            rt=rt,
            reporter_role="rt" if head else "warga",
            reporter_conversation_id=ctx.state.id,
            reporter_person_id=identity.person_id(ctx),
            household_id=hid if own else None,
            target_name=None if own else d.get("name"),
            target_address=None if own else d.get("address"),
            target_nik=d.get("nik"),
            target_kk=d.get("kk"),
            reason=d.get("reason"),
            detail=d.get("detail"),
            story=d.get("story"),
            lat=d.get("lat"),
            lon=d.get("lon"),
            photos=tuple(tuple(p) for p in d.get("photos", [])),
            actor=f"rt:{head.id}" if head else "warga",
            rt_head_id=head.id if head else None,
        ),
        now=ctx.now,
        verification_days=sla.verification_days,
        rt_answer_days=sla.rt_answer_days,
        default_locale=ctx.deps.default_locale,
    )
    ctx.notified += created.notified  # the ketua RT is told of it (after the commit)
    drop_draft(ctx)
    if created.merged:
        text = ctx._(
            "A report about the same family is already being handled. We added yours "
            "to it, so it is not counted twice.\nCode: {code}\nStatus: {state}",
            code=created.code,
            state=ops.state_label(ctx.t, created.state, None),
        )
    else:
        text = ctx._(
            "Thank you. Your report was received.\nCode: {code}\nStatus: {state}\n"
            "Dinsos checks it by {date}. We will tell you here at every step. Keep "
            "this code to ask about your report.",
            code=created.code,
            state=ops.state_label(ctx.t, created.state, None),
            date=ctx.t.date(created.due_at.astimezone(_JKT).date()),
        )
    if cat == R.GRADUASI and not created.merged:
        text = (
            ctx._("Thank you for your honesty. It helps aid reach the families who need it most.")
            + "\n\n"
            + text
        )
    # The code goes out as an outbox row queued in the report's own transaction (not a reply
    # claimed for sending at once): a crash after the commit leaves it queued, and the restarted
    # service sends it, once.
    reply = Reply(
        text, [ctx.choice("m:myreports", L_("My reports")), ctx.choice("g:menu", L_("Main menu"))]
    )
    ctx.notified += await notify(
        ctx.conn, ctx.state.id, lambda t: reply, now=ctx.now, default_locale=ctx.deps.default_locale
    )
    ctx.offer(reply.choices)
    ctx.rest_in_menu()
    await contact.offer(ctx, "report", created.code)  # a number an officer may call (optional)
