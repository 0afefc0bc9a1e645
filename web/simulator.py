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
- Simulated conversations are left out of the statistics (web/stats.py); on the overview and in
  the inbox their channel reads "Simulator".
"""

from __future__ import annotations

import asyncio
import secrets

import aiohttp_jinja2
from aiohttp import web

from core.i18n import LANGUAGE_NAMES
from core.model import Event
from db import conversation_store
from web.auth import AUTH, STAFF, audit
from web.keys import OUTBOX, SERVICE

CHANNEL = "web"
SETTLE = 2.0
LANGS = LANGUAGE_NAMES  # each language named in itself: id, su, jv, en


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
                    "text": p.get("text") or "",
                    "choices": [{"id": i, "label": lbl} for i, lbl in p.get("choices") or []],
                    "request": p.get("request"),
                }
            )
    last_choices = next((line["choices"] for line in reversed(log) if line["who"] == "bot"), [])
    return aiohttp_jinja2.render_template(
        "simulator.html",
        request,
        {
            "nav": "simulator",
            "user_key": user_key,
            "log": log,
            "choices": last_choices,
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


def _back(hint: str, done: bool = True) -> str:
    """Back to the page, scrolled to the text box under the newest message."""
    return f"/simulator?lang={hint}" + ("" if done else "&wait=1") + "#pesan"


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
    if choice:
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
