"""Simulator: staff chat with the bot as a resident, through the same core (inbox, engine,
outbox), on a channel of its own, "web", to try flows and both languages.

- The "web" channel's transport (handlers/simulator/, registered in the Runtime's outbox always)
  sends nothing anywhere: it keeps each simulated resident's recent log in memory (bounded). These
  pages read it through the outbox (`lines`, `add_resident`). A restart empties the logs; the
  conversations stay in the database, labelled by their channel.
- A simulated resident is `web:<staff username>:<n>`; "Mulai ulang" starts `n + 1` (a fresh
  conversation: consent, language, matching all over again).
- Pages are plain HTML forms that POST (with the session's CSRF token) and redirect back. After
  a post the handler waits (at most `SETTLE` seconds) until the core has processed the message
  and the outbox has handed the replies to the transport, so the answer is on the next page.
- Staff can send a photo (a JPEG/PNG upload, kept by the channel's transport like a Telegram
  photo: checked, cleaned, stored, recorded in `media`) and a location (latitude, longitude), so
  a report with evidence can be tried here.
- Simulated conversations are left out of the statistics (web/stats.py); on the overview and in
  the inbox their channel reads "Simulator".
- Privacy (docs/privacy.md): the transcript shows long numbers masked (a NIK as
  "3271 05•• •••• 0003"), like every page where staff read a resident's words. A NIK + No. KK
  check here matches only households of an operator's own kelurahan (verifikator and admin:
  the city), and every lookup, matched or not, is an audit row `simulator.lookup` naming the
  household (conversations/identity.py `simulator_may_see`).
"""

from __future__ import annotations

import asyncio
import math
import secrets

import aiohttp_jinja2
from aiohttp import web

from core.i18n import LANGUAGE_NAMES
from core.media import PhotoProblem
from core.model import Event
from db import conversation_store
from domain.masking import mask_numbers
from web.auth import AUTH, STAFF, audit
from web.keys import OUTBOX, SERVICE

CHANNEL = "web"
SETTLE = 2.0
LANGS = LANGUAGE_NAMES  # each language named in itself: id, su, jv, en
# Why a photo or a location was not sent (?err= on the page).
PROBLEMS = {
    "photo": "Foto tidak terkirim: pilih berkas JPEG atau PNG yang bisa dibuka (paling besar "
    "sekitar 1,9 MB di simulator).",
    "location": "Lokasi tidak terkirim: isi lintang (-90 s.d. 90) dan bujur (-180 s.d. 180) "
    "sebagai angka, misalnya -6.5971 dan 106.8060.",
}


def setup(app: web.Application) -> None:
    app.router.add_get("/simulator", page)
    app.router.add_post("/simulator/start", start)
    app.router.add_post("/simulator/send", send)


def _transport(request: web.Request):
    """The simulator channel's transport (with `lines` and `add_resident`)."""
    t = request.app[OUTBOX].transports.get(CHANNEL)
    if t is None or not hasattr(t, "lines") or not hasattr(t, "add_resident"):
        raise web.HTTPNotFound()
    return t


async def _current(request: web.Request) -> tuple[str | None, str | None]:
    """The staff member's latest simulated resident (user_key) and its language, if any."""
    staff = request[STAFF]
    prefix = f"web:{staff.username}:"
    async with request.app[AUTH].db.tx(write=False) as c:
        rows = await conversation_store.with_key_prefix(c, prefix)
    best = max(rows, key=lambda r: _n(r.user_key, prefix), default=None)
    return (best.user_key, best.locale) if best else (None, None)


def _n(user_key: str, prefix: str) -> int:
    tail = user_key[len(prefix) :]
    return int(tail) if tail.isdigit() else 0


async def page(request: web.Request) -> web.Response:
    user_key, locale = await _current(request)
    transport = _transport(request)
    log = []
    if user_key:
        for who, p in transport.lines(user_key):
            log.append(
                {
                    "who": who,
                    "text": mask_numbers(p.get("text") or ""),
                    "choices": [{"id": i, "label": lbl} for i, lbl in p.get("choices") or []],
                    "request": p.get("request"),
                }
            )
    last_bot = next((line for line in reversed(log) if line["who"] == "bot"), None)
    last_choices = last_bot["choices"] if last_bot else []
    return aiohttp_jinja2.render_template(
        "simulator.html",
        request,
        {
            "nav": "simulator",
            "user_key": user_key,
            "log": log,
            "choices": last_choices,
            "wants": last_bot["request"] if last_bot else None,
            "problem": PROBLEMS.get(request.query.get("err", ""), ""),
            "locale": locale,
            "langs": LANGS,
            "hint": request.query.get("lang", "id"),
            "busy": request.query.get("wait") == "1",
        },
    )


async def _settle(request: web.Request, user_key: str) -> bool:
    """Wait until this resident's message is processed and its replies sent (True), or give up
    after SETTLE seconds (the page says so and a reload shows the rest)."""
    service, outbox = request.app[SERVICE], request.app[OUTBOX]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE
    while service.busy(user_key):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.02)
    try:
        await asyncio.wait_for(outbox.idle(), max(0.05, deadline - loop.time()))
    except TimeoutError:
        return False
    return True


async def _deliver(
    request: web.Request, user_key: str, kind: str, payload: dict, hint: str
) -> bool:
    ev = Event(CHANNEL, user_key, secrets.token_hex(8), kind, payload, user_key, hint)
    await request.app[SERVICE].receive(ev)
    return await _settle(request, user_key)


def _back(hint: str, done: bool = True, err: str = "") -> str:
    """Back to the page, scrolled to the text box under the newest message."""
    return (
        f"/simulator?lang={hint}"
        + ("" if done else "&wait=1")
        + (f"&err={err}" if err else "")
        + "#pesan"
    )


def _coordinate(raw, limit: float) -> float | None:
    """A latitude or longitude as typed ("-6,5971" too), within +-limit, else None."""
    try:
        v = float(str(raw or "").strip().replace(",", "."))
    except ValueError:
        return None
    return v if math.isfinite(v) and -limit <= v <= limit else None


def _hint(form) -> str:
    lang = str(form.get("lang", "id"))
    return lang if lang in LANGS else "id"


async def start(request: web.Request) -> web.Response:
    """A new simulated resident: `web:<username>:<n+1>`, greeted with /start."""
    staff, auth = request[STAFF], request.app[AUTH]
    form = await request.post()
    hint = _hint(form)
    prev, _ = await _current(request)
    prefix = f"web:{staff.username}:"
    user_key = f"{prefix}{_n(prev, prefix) + 1 if prev else 1}"
    async with auth.db.tx() as c:
        await audit(c, staff.actor, "simulator.start", user_key, {"lang": hint}, now=auth.clock())
    _transport(request).add_resident(user_key, "/start")
    done = await _deliver(request, user_key, "command", {"command": "start", "args": ""}, hint)
    raise web.HTTPFound(_back(hint, done))


async def send(request: web.Request) -> web.Response:
    form = await request.post()
    hint = _hint(form)
    user_key, _ = await _current(request)
    if user_key is None:
        raise web.HTTPFound(_back(hint))
    transport = _transport(request)
    choice = str(form.get("choice", ""))[:64]
    text = str(form.get("text", "")).strip()[:1000]
    photo = form.get("photo")
    kind, payload = "", {}
    if isinstance(photo, web.FileField) and photo.filename:
        try:
            ref = await transport.keep_photo(user_key, photo.file.read())
        except PhotoProblem:
            raise web.HTTPFound(_back(hint, err="photo")) from None
        transport.add_resident(user_key, "[Foto]")
        kind, payload = "photo", {"ref": ref}
    elif "lat" in form or "lon" in form:
        lat, lon = _coordinate(form.get("lat"), 90), _coordinate(form.get("lon"), 180)
        if lat is None or lon is None:
            raise web.HTTPFound(_back(hint, err="location"))
        transport.add_resident(user_key, f"[Lokasi {lat:.6f}, {lon:.6f}]")
        kind, payload = "location", {"lat": lat, "lon": lon}
    if kind:
        pass
    elif choice:
        label = next(
            (
                lbl
                for who, p in reversed(transport.lines(user_key))
                if who == "bot"
                for i, lbl in p.get("choices") or []
                if i == choice
            ),
            choice,
        )
        transport.add_resident(user_key, f"[{label}]")
        kind, payload = "choice", {"id": choice}
    elif text.startswith("/") and len(text) > 1:
        cmd, _, args = text[1:].partition(" ")
        transport.add_resident(user_key, text)
        kind, payload = "command", {"command": cmd.lower(), "args": args}
    elif text:
        transport.add_resident(user_key, text)
        kind, payload = "text", {"text": text}
    else:
        raise web.HTTPFound(_back(hint))
    done = await _deliver(request, user_key, kind, payload, hint)
    raise web.HTTPFound(_back(hint, done))
