"""The aiohttp app: /healthz, /readyz and /metrics (web/observe.py), the staff dashboard
(web/dashboard.py, behind web/auth.py's login), and the channels' webhook routes (bot.py adds
each channel's `routes()` and marks their paths public in `app[PUBLIC]`: they check their own
signatures)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

import aiohttp_jinja2
from aiohttp import web

from config import Settings
from core.deps import Deps
from core.inbox import Service
from core.outbox import Outbox
from core.understanding import LiveLexicon
from db.database import Database
from domain.clock import JAKARTA
from services.import_jobs import ImportJobs
from web import dashboard, observe
from web.auth import AUTH, PUBLIC, Auth, guard, mark_public
from web.keys import (
    CHANNEL_LABELS,
    CLOCK,
    DB,
    DEPS,
    IMPORT_JOBS,
    LEXICON,
    MEDIA_DIR,
    OUTBOX,
    SERVICE,
)
from web.proxies import TrustedProxies

log = logging.getLogger("jaring.web")
# The channels' webhook paths (add_public_route): their errors are plain, not dashboard pages.
WEBHOOKS = web.AppKey("webhooks", set[str])
# Conversations the test suite makes (channel "test") read "Uji".
TEST_LABELS = {"test": "Uji"}


# Every response (pages, errors, static files, redirects, the webhooks' answers) carries these.
# The dashboard has no inline script or style and loads nothing from elsewhere, so 'self' is
# all it needs; it may not be framed (clickjacking) nor post a form anywhere else.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
        "object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


@web.middleware
async def no_traces(request: web.Request, handler):
    """Unexpected errors become a plain 500; the trace goes to the log, never to the client.
    Dashboard errors (403, 404, 500) are a page in Bahasa Indonesia."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status >= 400 and _wants_page(request):
            return _error_page(request, e.status, e.text if e.status == 403 else None)
        raise
    except Exception as exc:
        log.error("request to %s failed: %s", request.path, type(exc).__name__, exc_info=exc)
        if _wants_page(request):
            return _error_page(request, 500, None)
        return web.json_response({"error": "internal error"}, status=500)


_TITLES = {
    403: "Tidak diizinkan",
    404: "Halaman tidak ditemukan",
    405: "Tidak diizinkan",
    413: "Berkas terlalu besar",
    500: "Terjadi kesalahan",
}
_MESSAGES = {
    404: "Alamat ini tidak ada. Periksa tautannya.",
    413: "Berkas melebihi batas unggah dasbor (2 MB). Impor berkas sebesar ini dengan "
    "perintah: python bot.py import-dtsen.",
    500: "Maaf, ada kesalahan di sistem kami. Coba lagi sebentar lagi.",
}


def _wants_page(request: web.Request) -> bool:
    return (
        request.method in ("GET", "POST")
        and request.path not in request.app.get(WEBHOOKS, ())
        and request.path not in observe.PATHS
    )


def _error_page(request: web.Request, status: int, text: str | None) -> web.Response:
    return aiohttp_jinja2.render_template(
        "error.html",
        request,
        {
            "title": _TITLES.get(status, "Kesalahan"),
            "message": text or _MESSAGES.get(status, "Permintaan ini tidak dapat diproses."),
        },
        status=status,
    )


def build_app(
    *,
    settings: Settings,
    db: Database,
    deps: Deps,
    clock: Callable[[], datetime],
    service: Service,
    outbox: Outbox,
    channel_labels: Mapping[str, str],
    lexicon: LiveLexicon | None = None,
) -> web.Application:
    """The web app on the running service's parts (bot.py hands them over; pages read them
    through the typed keys of web/keys.py)."""
    app = web.Application(middlewares=[no_traces, guard], client_max_size=2 * 1024 * 1024)
    app[DB] = db
    app[DEPS] = deps
    app[CLOCK] = clock
    app[SERVICE] = service
    app[OUTBOX] = outbox
    app[MEDIA_DIR] = Path(settings.jaring_media_dir)
    app[IMPORT_JOBS] = ImportJobs(
        db,
        region=deps.region,
        programs=deps.programs,
        directory=Path(settings.jaring_import_dir),
        clock=clock,
        today=lambda: clock().astimezone(JAKARTA).date(),
    )
    app[CHANNEL_LABELS] = {**channel_labels, **TEST_LABELS}
    if lexicon is not None:
        app[LEXICON] = lexicon
    app[PUBLIC] = set()
    app[WEBHOOKS] = set()
    app[AUTH] = Auth(
        db,
        settings.jaring_hash_key.get_secret_value().encode(),
        clock=clock,
        secure_cookie=settings.cookie_secure,
        proxies=TrustedProxies(settings.trusted_proxies),
    )
    app.on_response_prepare.append(security_headers)

    token = settings.jaring_metrics_token
    observe.setup(
        app,
        db=db,
        outbox=outbox,
        clock=clock,
        metrics_token=token.get_secret_value() if token else None,
    )
    dashboard.setup(app)
    return app


def add_public_route(app: web.Application, method: str, path: str, handler) -> None:
    """A route past the staff login: a channel's webhook, which authenticates itself."""
    app.router.add_route(method, path, handler)
    mark_public(app, path)
    app[WEBHOOKS].add(path)


async def serve(
    app: web.Application, host: str, port: int, *, reuse_port: bool = False
) -> web.AppRunner:
    """Start serving the app; `await runner.cleanup()` stops it. `reuse_port`: several worker
    processes listen on the same port (SO_REUSEPORT; the kernel spreads connections)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
    return runner
