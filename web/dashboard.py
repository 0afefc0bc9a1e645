"""Dashboard pages: login and logout, the service overview, and the audit log (admins).

Server-rendered with Jinja2 (aiohttp-jinja2); every text is Bahasa Indonesia; the only asset is
/static/jaring.css, served from this package (no CDN: it works on an office network without
internet). Times are shown in WIB (Asia/Jakarta).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from db import dashboard_store
from db.audit import recent as recent_audit
from domain.clock import JAKARTA, wib
from web import account, imports, inbox, nlu, proposals, reports, rt, simulator, stats, trainings
from web.auth import (
    AUTH,
    LOGIN_CSRF_COOKIE,
    PUBLIC,
    ROLE_NAMES,
    STAFF,
    client_of,
    requires,
    safe_next,
)
from web.keys import CHANNEL_LABELS, DEPS
from web.params import form_text, text

HERE = Path(__file__).resolve().parent
LOGIN_NEXT = web.RequestKey("login_next", str)
STATUS_NAMES = {
    "queued": "Antre",
    "sending": "Sedang dikirim",
    "sent": "Terkirim",
    "failed": "Gagal",
    "stopped": "Dihentikan (diblokir)",
    "held": "Ditahan (24 jam WA)",
}


def setup(app: web.Application) -> None:
    office = app[DEPS].programs.office
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        context_processors=[_globals(office)],
    )
    env.globals["office"] = office
    app[PUBLIC].update({"/login", "/favicon.ico"})
    app.router.add_static("/static/", HERE / "static", name="static")
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", home)
    app.router.add_get("/audit", audit_page)
    inbox.setup(app)
    reports.setup(app)  # /reports (verification queue)
    proposals.setup(app)  # /program, /kube, /uep
    trainings.setup(app)  # /trainings
    rt.setup(app)  # /rt
    imports.setup(app)  # /imports (admin)
    nlu.setup(app)  # /nlu (admin, verifikator)
    stats.setup(app)  # /stats
    simulator.setup(app)  # /simulator
    account.setup(app)  # /account, /account/password (every role)


def _globals(office):
    async def ctx(request: web.Request) -> dict:
        staff = request.get(STAFF)
        return {
            "staff": staff,
            "role_name": ROLE_NAMES.get(staff.role, "") if staff else "",
            "office": office,
        }

    return ctx


# ------------------------------------------------------------------------ login / logout


async def favicon(request: web.Request) -> web.Response:
    """Browsers ask for it on every site; without this it would be a redirect to the login."""
    return web.FileResponse(
        HERE / "static" / "favicon.svg", headers={"Content-Type": "image/svg+xml"}
    )


def _login_form(
    request: web.Request, *, error: str | None = None, username: str = "", status: int = 200
) -> web.Response:
    # Keep the token a browser already holds: two login pages open (or a browser's background
    # request) must not invalidate each other's form.
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not (20 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()):
        token = secrets.token_urlsafe(24)
    resp = aiohttp_jinja2.render_template(
        "login.html",
        request,
        {
            "csrf": token,
            "error": error,
            "username": username,
            "next": safe_next(
                request.query.get("next") if request.method == "GET" else request.get(LOGIN_NEXT)
            ),
        },
        status=status,
    )
    resp.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        path="/login",
        secure=request.app[AUTH].secure,
        max_age=3600,
    )
    return resp


async def login_page(request: web.Request) -> web.Response:
    return _login_form(request)


async def login_submit(request: web.Request) -> web.Response:
    auth = request.app[AUTH]
    form = await request.post()
    username = form_text(form, "username", 64)  # no NUL: PostgreSQL would refuse it
    password = str(form.get("password", ""))[:256]
    request[LOGIN_NEXT] = str(form.get("next", "/"))
    sent, kept = str(form.get("_csrf", "")), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not sent or not kept or not secrets.compare_digest(sent, kept):
        return _login_form(
            request,
            username=username,
            status=403,
            error=("Formulir masuk sudah kedaluwarsa. Silakan coba lagi."),
        )
    until = await auth.throttled_until(username, client_of(request))
    if until is not None:
        return _login_form(
            request,
            username=username,
            status=429,
            error=(
                f"Terlalu banyak percobaan masuk yang gagal. Coba lagi setelah pukul {wib(until)[-5:]} WIB."
            ),
        )
    token = await auth.login(username, password, client_of(request))
    if token is None:
        return _login_form(
            request, username=username, status=401, error="Nama pengguna atau kata sandi salah."
        )
    resp = web.HTTPFound(safe_next(request[LOGIN_NEXT]))
    auth.set_cookie(resp, token)
    resp.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise resp


async def logout(request: web.Request) -> web.Response:
    await request.app[AUTH].logout(request[STAFF])
    resp = web.HTTPFound("/login")
    resp.del_cookie("jaring_staff", path="/")
    raise resp


# ------------------------------------------------------------------------ pages


async def home(request: web.Request) -> web.Response:
    auth = request.app[AUTH]
    now = auth.clock()
    day_start = now.astimezone(JAKARTA).replace(hour=0, minute=0, second=0, microsecond=0)
    async with auth.db.tx(write=False) as c:
        numbers = await dashboard_store.summary(c, now=now, day_start=day_start)
    staff = request[STAFF]
    kel = (
        request.app[DEPS].region.kelurahan_by_code(staff.kelurahan_code)
        if staff.kelurahan_code
        else None
    )
    return aiohttp_jinja2.render_template(
        "home.html",
        request,
        {
            "nav": "home",
            "stats": numbers,
            "now": wib(now),
            "status_names": STATUS_NAMES,
            "channel_names": request.app[CHANNEL_LABELS],
            "kelurahan": kel.name if kel else staff.kelurahan_code,
        },
    )


AUDIT_LIMIT = 200


@requires("admin")
async def audit_page(request: web.Request) -> web.Response:
    auth = request.app[AUTH]
    actor = text(request.query.get("actor"), 128).strip()
    action = text(request.query.get("action"), 64).strip()
    async with auth.db.tx(write=False) as c:
        rows = [
            dict(r._mapping, at=wib(r.at))
            for r in await recent_audit(c, actor=actor, action=action, limit=AUDIT_LIMIT)
        ]
    return aiohttp_jinja2.render_template(
        "audit.html",
        request,
        {"nav": "audit", "rows": rows, "actor": actor, "action": action, "limit": AUDIT_LIMIT},
    )
