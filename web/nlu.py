"""Pesan tak dikenali: the messages the understanding layer could not place (admin and
verifikator), grouped by their normalised text and counted, so that Dinsos can add phrases to
data/intents.toml. The texts were masked before they were stored (db/nlu_store.py). An admin
can reload the lexicon now ("Muat ulang kamus"); the service also reloads it by itself a few
seconds after the file changes (core/understanding.py `LiveLexicon`)."""

from __future__ import annotations

from datetime import timedelta

import aiohttp_jinja2
from aiohttp import web

from db import nlu_store
from db.audit import audit
from web.auth import AUTH, STAFF, requires
from web.keys import CHANNEL_LABELS, LEXICON
from web.proposals import wib

DAYS = (7, 30, 90)
DEFAULT_DAYS = 30
LIMIT = 200


def setup(app: web.Application) -> None:
    app.router.add_get("/nlu", nlu_page)
    app.router.add_post("/nlu/reload", nlu_reload)


def _days(value: str | None) -> int:
    try:
        days = int(value or DEFAULT_DAYS)
    except ValueError:
        return DEFAULT_DAYS
    return days if days in DAYS else DEFAULT_DAYS


@requires("admin", "verifikator")
async def nlu_page(request: web.Request) -> web.Response:
    auth = request.app[AUTH]
    days = _days(request.query.get("hari"))
    since = auth.clock() - timedelta(days=days)
    async with auth.db.tx(write=False) as c:
        groups = await nlu_store.groups(c, since=since, limit=LIMIT)
        total = await nlu_store.count_since(c, since)
    lexicon = request.app.get(LEXICON)
    items = [
        {
            "count": g.count,
            "text": g.text,
            "normalized": g.normalized,
            "at": wib(g.at),
            "channel": g.channel,
            "locale": g.locale or "",
            "places": ", ".join(f"{p} ({n})" if n > 1 else p for p, n in g.places),
        }
        for g in groups
    ]
    return aiohttp_jinja2.render_template(
        "nlu.html",
        request,
        {
            "nav": "nlu",
            "items": items,
            "total": total,
            "days": days,
            "choices": DAYS,
            "limit": LIMIT,
            "path": str(lexicon.path) if lexicon else "data/intents.toml",
            "can_reload": lexicon is not None,
            "problem": lexicon.problem if lexicon else None,
            "ok": request.query.get("ok", ""),
            "channel_names": request.app[CHANNEL_LABELS],
        },
    )


@requires("admin")
async def nlu_reload(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    lexicon = request.app.get(LEXICON)
    if lexicon is None:
        raise web.HTTPNotFound(text="Kamus tidak tersedia di proses ini.")
    problem = lexicon.reload()
    async with auth.db.tx() as c:
        await audit(
            c,
            staff.actor,
            "nlu.reload",
            lexicon.path.name,
            {"ok": problem is None},
            now=auth.clock(),
        )
    raise web.HTTPFound("/nlu?ok=" + ("reloaded" if problem is None else "failed"))
