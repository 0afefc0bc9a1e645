"""Typed keys for what the dashboard's pages need from the running service.

`web.app.build_app` sets them once; a page reads `request.app[DEPS].region`, not an untyped
runtime object. The keys name only what pages use, so a page's needs are visible here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from aiohttp import web

from core.deps import Deps
from core.inbox import Service
from core.outbox import Outbox
from core.understanding import LiveLexicon
from db.database import Database
from services.import_jobs import ImportJobs

DB = web.AppKey("db", Database)
DEPS = web.AppKey("deps", Deps)  # programs, region, default locale
CLOCK = web.AppKey("clock", Callable[[], datetime])
SERVICE = web.AppKey("service", Service)  # the inbox: web/simulator.py delivers through it
OUTBOX = web.AppKey("outbox", Outbox)  # woken after a commit that queued messages
IMPORT_JOBS = web.AppKey("import_jobs", ImportJobs)  # dashboard DTSEN imports (web/imports.py)
MEDIA_DIR = web.AppKey("media_dir", Path)  # JARING_MEDIA_DIR: report photos are streamed from it
# How the pages name each channel ("tg" -> "Telegram"): the channels' own labels (bot.py).
CHANNEL_LABELS = web.AppKey("channel_labels", dict[str, str])
# The running service's lexicon (data/intents.toml): web/nlu.py reloads it ("Muat ulang kamus").
LEXICON = web.AppKey("lexicon", LiveLexicon)
