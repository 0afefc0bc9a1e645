"""Staff authentication for the dashboard: accounts, sessions, CSRF, login throttling, roles.

- Accounts and passwords: services/staff.py (argon2id, rehashed here on login when the
  parameters change). Unknown usernames cost the same verify, so timing tells nothing.
- Sessions: the cookie holds a random token (HttpOnly, SameSite=Lax, Secure when
  JARING_PUBLIC_URL is https or WEB_COOKIE_SECURE is on); the table keeps only its sha256. A session ends after
  `IDLE` without a request or `LIFETIME` after login, and on logout.
- CSRF: every state-changing request (POST, PUT, PATCH, DELETE) must carry the session's token
  in the `_csrf` form field or the `X-CSRF-Token` header. The login form, before any session,
  uses a double-submit cookie.
- Throttling: after `MAX_FAILS_USER` failed logins for one username, or `MAX_FAILS_CLIENT` from
  one client address, within `FAIL_WINDOW`, logins are refused until the oldest one ages out.
  Usernames and addresses are stored as keyed hashes, never in clear. A username is
  normalised (services.staff.normalise_username) before the lock and the lookup, so " Op.A"
  counts against op.a. The client address is the peer's, or X-Forwarded-For's when the peer
  is a trusted proxy (web/proxies.py, JARING_TRUSTED_PROXIES).
- After login only a same-site path is followed (`safe_next`): no open redirect.
- Default deny: the middleware guards every route; a route is open only when its path is in
  `app[PUBLIC]` (health check, login, the channels' webhooks, which check their own
  signatures) or under /static/. A role check is declared on the handler with `@requires`.
- Forced change: an account reset with `bot.py staff reset` (a one-time password) reaches only
  `CHANGE_PATH` (and logout) after login until it sets a new password (web/account.py).
- Every login, failed login, logout and staff action is written to the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from aiohttp import web

from db import staff_store as store
from db.audit import audit
from domain.clock import utcnow
from services.staff import (
    ROLES,
    hash_password,
    needs_rehash,
    normalise_username,
    verify_password,
)
from services.staff import add_staff as add_staff  # bot.py's demo seed still imports it here
from web.proxies import TrustedProxies

log = logging.getLogger("jaring.web.auth")

ROLE_NAMES = {"admin": "Admin", "verifikator": "Verifikator", "operator": "Operator kelurahan"}
COOKIE = "jaring_staff"
LOGIN_CSRF_COOKIE = "jaring_login_csrf"
IDLE = timedelta(minutes=60)
LIFETIME = timedelta(hours=10)
FAIL_WINDOW = timedelta(minutes=15)
MAX_FAILS_USER = 5
MAX_FAILS_CLIENT = 20
SEEN_EVERY = timedelta(minutes=1)  # how often last_seen_at is written (saves a write per page)
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The "Ganti kata sandi" page (web/account.py), and what an account that must change its
# password may reach.
CHANGE_PATH = "/account/password"
WHILE_MUST_CHANGE = frozenset({CHANGE_PATH, "/logout"})

PUBLIC = web.AppKey("public_paths", set)
STAFF = web.RequestKey("staff", object)  # request[STAFF]: the signed-in Staff


@dataclass(frozen=True, slots=True)
class Staff:
    id: int
    username: str
    name: str
    role: str
    kelurahan_code: str | None
    csrf: str
    token_hash: str
    must_change: bool = False

    @property
    def actor(self) -> str:
        return f"staff:{self.username}"

    def can_see_kelurahan(self, code: str | None) -> bool:
        return self.role != "operator" or (code is not None and code == self.kelurahan_code)


# --------------------------------------------------------------------------- keys


def _username(username: str) -> str:
    return normalise_username(username)[:64]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def keyed(key: bytes, kind: str, value: str) -> str:
    return f"{kind}:" + hmac.new(key, value.lower().encode(), hashlib.sha256).hexdigest()[:64]


# --------------------------------------------------------------------------- sessions


class Auth:
    """Sessions and logins against the database; `clock` is injectable for tests."""

    def __init__(
        self,
        db,
        hash_key: bytes,
        *,
        clock: Callable[[], datetime] = utcnow,
        secure_cookie: bool = False,
        proxies: TrustedProxies | None = None,
    ):
        self.db, self.key, self.clock, self.secure = db, hash_key, clock, secure_cookie
        self.proxies = proxies or TrustedProxies()

    async def session(self, token: str | None) -> Staff | None:
        if not token or len(token) > 100:
            return None
        now = self.clock()
        h = _token_hash(token)
        async with self.db.tx(write=False) as c:
            row = await store.session(c, h)
        if row is None or row.expires_at <= now or row.last_seen_at + IDLE <= now:
            return None
        if now - row.last_seen_at >= SEEN_EVERY:
            async with self.db.tx() as c:
                await store.touch_session(c, h, now)
        return Staff(
            row.id,
            row.username,
            row.name,
            row.role,
            row.kelurahan_code,
            row.csrf,
            h,
            bool(row.must_change_password),
        )

    async def throttled_until(self, username: str, client: str) -> datetime | None:
        username = _username(username)
        now = self.clock()
        since = now - FAIL_WINDOW
        keys = [
            (keyed(self.key, "u", username), MAX_FAILS_USER),
            (keyed(self.key, "ip", client), MAX_FAILS_CLIENT),
        ]
        async with self.db.tx(write=False) as c:
            for key, limit in keys:
                times = await store.recent_failures(c, key, since, limit)
                if len(times) >= limit:
                    return times[-1] + FAIL_WINDOW
        return None

    async def login(self, username: str, password: str, client: str) -> str | None:
        """A new session token, or None (wrong name or password, or a disabled account)."""
        username = _username(username)
        now = self.clock()
        async with self.db.tx(write=False) as c:
            row = await store.user(c, username)
        ok = verify_password(row.password_hash if row is not None else None, password)
        ok = ok and row is not None and row.active
        async with self.db.tx() as c:
            if not ok:
                for key in (keyed(self.key, "u", username), keyed(self.key, "ip", client)):
                    await store.add_login_failure(c, key, now)
                await audit(
                    c,
                    f"staff:{username}" if row is not None else "web",
                    "login.failed",
                    username if row is not None else None,
                    {"client": client},
                    now=now,
                )
                return None
            token = secrets.token_urlsafe(32)
            values: dict[str, Any] = {"last_login_at": now}
            if needs_rehash(row.password_hash):
                values["password_hash"] = hash_password(password)
            await store.update_user(c, row.id, **values)
            await store.delete_expired_sessions(c, now)
            await store.add_session(
                c,
                token_hash=_token_hash(token),
                user_id=row.id,
                csrf=secrets.token_urlsafe(24),
                now=now,
                expires_at=now + LIFETIME,
            )
            await audit(c, f"staff:{username}", "login", username, {"client": client}, now=now)
        return token

    async def logout(self, staff: Staff) -> None:
        now = self.clock()
        async with self.db.tx() as c:
            await store.delete_session(c, staff.token_hash)
            await audit(c, staff.actor, "logout", staff.username, None, now=now)

    def set_cookie(self, resp: web.StreamResponse, token: str) -> None:
        resp.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="Lax",
            secure=self.secure,
            path="/",
            max_age=int(LIFETIME.total_seconds()),
        )


# --------------------------------------------------------------------------- middleware

AUTH = web.AppKey("auth", Auth)


def requires(*roles: str):
    """Handler decorator: only these roles may use the route (every route needs a login)."""
    for r in roles:
        assert r in ROLES, r

    def deco(fn):
        fn.jaring_roles = frozenset(roles)
        return fn

    return deco


def mark_public(app: web.Application, path: str) -> None:
    """Let requests to `path` past the login (for webhooks that authenticate themselves)."""
    if PUBLIC in app:
        app[PUBLIC].add(path)


def is_public(app: web.Application, path: str) -> bool:
    return path in app[PUBLIC] or path.startswith("/static/")


def client_of(request: web.Request) -> str:
    """The client's address for throttling and the audit (web/proxies.py)."""
    return request.app[AUTH].proxies.client(
        request.remote, request.headers.getall("X-Forwarded-For", ())
    )


NEXT_MAX = 2000


def _same_site_path(target: str) -> bool:
    # Printable ASCII only: a browser drops tab and newline from a URL ("/\t/evil" is
    # "//evil"), and spaces, controls and look-alike slashes have no place in our paths.
    if not target or len(target) > NEXT_MAX or not all("!" <= ch <= "~" for ch in target):
        return False
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def _still_same_site_decoded(target: str) -> bool:
    # Once more percent-decoded ("/%2F/evil.example", "/%09/x", "/%5C/x"): nothing that decodes
    # again (a proxy, an old browser) may find another host or a control character in it.
    decoded = unquote(target)
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in decoded):
        return False
    squeezed = "".join(ch for ch in decoded if not ch.isspace())
    return not squeezed.startswith(("//", "/\\")) and not urlsplit(squeezed).netloc


def safe_next(target: str | None) -> str:
    """Where to go after login: only a path of this site ("/reports?x=1"), in printable ASCII
    (the login link carries the request's raw, percent-encoded path); anything else is "/"."""
    if target and _same_site_path(target) and _still_same_site_decoded(target):
        return target
    return "/"


@web.middleware
async def guard(request: web.Request, handler):
    app = request.app
    if is_public(app, request.path):
        return await handler(request)
    auth = app[AUTH]
    staff = await auth.session(request.cookies.get(COOKIE))
    if staff is None:
        if request.method in ("GET", "HEAD"):
            raise web.HTTPFound(f"/login?next={_quote(request.raw_path)}")
        raise web.HTTPForbidden(text="Sesi Anda berakhir. Silakan masuk lagi.")
    request[STAFF] = staff
    if request.method in UNSAFE:
        token = request.headers.get("X-CSRF-Token")
        if token is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            token = (await request.post()).get("_csrf")
        if not isinstance(token, str) or not hmac.compare_digest(token, staff.csrf):
            log.warning("csrf token missing or wrong on %s", request.path)
            raise web.HTTPForbidden(
                text="Formulir ini sudah kedaluwarsa atau tidak sah. "
                "Muat ulang halaman lalu coba lagi."
            )
    if staff.must_change and request.path not in WHILE_MUST_CHANGE:
        if request.method in ("GET", "HEAD"):
            raise web.HTTPFound(CHANGE_PATH)
        raise web.HTTPForbidden(text="Ganti kata sandi Anda dulu.")
    route = request.match_info.route
    roles = getattr(getattr(route, "handler", None), "jaring_roles", None)
    if roles is not None and staff.role not in roles:
        raise web.HTTPForbidden(text="Halaman ini tidak untuk peran Anda.")
    return await handler(request)


def _quote(s: str) -> str:
    return quote(s, safe="/")
