"""Staff authentication for the dashboard: accounts, sessions, CSRF, login throttling, roles.

- Passwords: argon2id through argon2-cffi (`PasswordHasher` defaults, rehashed on login when
  the parameters change). Unknown usernames cost the same verify, so timing tells nothing.
- Sessions: the cookie holds a random token (HttpOnly, SameSite=Lax, Secure when
  WEB_COOKIE_SECURE is on); the table keeps only its sha256. A session ends after
  `IDLE` without a request or `LIFETIME` after login, and on logout.
- CSRF: every state-changing request (POST, PUT, PATCH, DELETE) must carry the session's token
  in the `_csrf` form field or the `X-CSRF-Token` header. The login form, before any session,
  uses a double-submit cookie.
- Throttling: after `MAX_FAILS_USER` failed logins for one username, or `MAX_FAILS_CLIENT` from
  one client address, within `FAIL_WINDOW`, logins are refused until the oldest one ages out.
  Usernames and addresses are stored as keyed hashes, never in clear.
- Default deny: the middleware guards every route; a route is open only when its path is in
  `app[PUBLIC]` (health check, login, the channels' webhooks, which check their own
  signatures) or under /static/. A role check is declared on the handler with `@requires`.
- Every login, failed login, logout and staff action is written to the audit log.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import sqlalchemy as sa
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from db.audit import audit
from domain.clock import utcnow
from db.schema import login_failures, staff_sessions, staff_users

log = logging.getLogger("jaring.web.auth")

ROLES = ("admin", "verifikator", "operator")
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

PUBLIC = web.AppKey("public_paths", set)
STAFF = web.RequestKey("staff", object)  # request[STAFF]: the signed-in Staff
HASHER = PasswordHasher()
_DUMMY_HASH = HASHER.hash("jaring-no-such-user")



@dataclass(frozen=True, slots=True)
class Staff:
    id: int
    username: str
    name: str
    role: str
    kelurahan_code: str | None
    csrf: str
    token_hash: str

    @property
    def actor(self) -> str:
        return f"staff:{self.username}"

    def can_see_kelurahan(self, code: str | None) -> bool:
        return self.role != "operator" or (code is not None and code == self.kelurahan_code)


class AuthError(ValueError):
    """A staff account problem for the CLI (unknown user, bad role, weak password)."""


# --------------------------------------------------------------------------- passwords

MIN_PASSWORD = 10


def check_password_strength(password: str, username: str) -> str | None:
    """A reason in Bahasa Indonesia when the password is too weak, else None."""
    if len(password) < MIN_PASSWORD:
        return f"Kata sandi minimal {MIN_PASSWORD} karakter."
    if username.lower() in password.lower():
        return "Kata sandi tidak boleh memuat nama pengguna."
    if len(set(password)) < 5:
        return "Kata sandi terlalu mudah ditebak."
    return None


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def keyed(key: bytes, kind: str, value: str) -> str:
    return f"{kind}:" + hmac.new(key, value.lower().encode(), hashlib.sha256).hexdigest()[:64]


# --------------------------------------------------------------------------- accounts (CLI)

async def add_staff(conn, *, username: str, name: str, role: str, password: str,
                    kelurahan_code: str | None, now: datetime, actor: str) -> int:
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise AuthError("Nama pengguna hanya huruf, angka, titik, garis bawah atau tanda hubung.")
    if role not in ROLES:
        raise AuthError(f"Peran harus salah satu dari: {', '.join(ROLES)}.")
    if role == "operator" and not kelurahan_code:
        raise AuthError("Operator kelurahan perlu --kelurahan.")
    if role != "operator" and kelurahan_code:
        raise AuthError("Hanya operator yang dibatasi satu kelurahan; hapus --kelurahan.")
    weak = check_password_strength(password, username)
    if weak:
        raise AuthError(weak)
    exists = (await conn.execute(sa.select(staff_users.c.id).where(
        staff_users.c.username == username))).first()
    if exists:
        raise AuthError(f"Nama pengguna {username} sudah ada.")
    uid = (await conn.execute(sa.insert(staff_users).values(
        username=username, name=name.strip() or username, role=role,
        kelurahan_code=kelurahan_code, password_hash=hash_password(password), active=True,
        created_at=now).returning(staff_users.c.id))).scalar_one()
    await audit(conn, actor, "staff.add", username, {"role": role, "kelurahan": kelurahan_code},
                now=now)
    return uid


async def set_active(conn, username: str, active: bool, *, now: datetime, actor: str) -> None:
    username = username.strip().lower()
    row = (await conn.execute(sa.select(staff_users.c.id).where(
        staff_users.c.username == username))).first()
    if row is None:
        raise AuthError(f"Tidak ada petugas dengan nama pengguna {username}.")
    await conn.execute(sa.update(staff_users).where(staff_users.c.id == row.id).values(active=active))
    if not active:  # signed out everywhere at once
        await conn.execute(sa.delete(staff_sessions).where(staff_sessions.c.user_id == row.id))
    await audit(conn, actor, "staff.enable" if active else "staff.disable", username, None, now=now)


# --------------------------------------------------------------------------- sessions

U, S = staff_users.c, staff_sessions.c
_sel_session = (sa.select(S.token_hash, S.csrf, S.last_seen_at, S.expires_at, U.id, U.username,
                          U.name, U.role, U.kelurahan_code)
                .join(staff_users, U.id == S.user_id)
                .where(S.token_hash == sa.bindparam("h"), U.active.is_(True)))


class Auth:
    """Sessions and logins against the database; `clock` is injectable for tests."""

    def __init__(self, db, hash_key: bytes, *, clock: Callable[[], datetime] = utcnow,
                 secure_cookie: bool = False):
        self.db, self.key, self.clock, self.secure = db, hash_key, clock, secure_cookie

    async def session(self, token: str | None) -> Staff | None:
        if not token or len(token) > 100:
            return None
        now = self.clock()
        h = _token_hash(token)
        async with self.db.tx(write=False) as c:
            row = (await c.execute(_sel_session, {"h": h})).first()
        if row is None or row.expires_at <= now or row.last_seen_at + IDLE <= now:
            return None
        if now - row.last_seen_at >= SEEN_EVERY:
            async with self.db.tx() as c:
                await c.execute(sa.update(staff_sessions).where(S.token_hash == h)
                                .values(last_seen_at=now))
        return Staff(row.id, row.username, row.name, row.role, row.kelurahan_code, row.csrf, h)

    async def throttled_until(self, username: str, client: str) -> datetime | None:
        now = self.clock()
        since = now - FAIL_WINDOW
        keys = [(keyed(self.key, "u", username), MAX_FAILS_USER),
                (keyed(self.key, "ip", client), MAX_FAILS_CLIENT)]
        async with self.db.tx(write=False) as c:
            for key, limit in keys:
                times = [r[0] for r in await c.execute(
                    sa.select(login_failures.c.at).where(
                        login_failures.c.key == key, login_failures.c.at > since)
                    .order_by(login_failures.c.at.desc()).limit(limit))]
                if len(times) >= limit:
                    return times[-1] + FAIL_WINDOW
        return None

    async def login(self, username: str, password: str, client: str) -> str | None:
        """A new session token, or None (wrong name or password, or a disabled account)."""
        username = username.strip().lower()[:64]
        now = self.clock()
        async with self.db.tx(write=False) as c:
            row = (await c.execute(sa.select(staff_users).where(U.username == username))).first()
        ok = verify_password(row.password_hash if row is not None else None, password)
        ok = ok and row is not None and row.active
        async with self.db.tx() as c:
            if not ok:
                for key in (keyed(self.key, "u", username), keyed(self.key, "ip", client)):
                    await c.execute(sa.insert(login_failures).values(key=key, at=now))
                await audit(c, f"staff:{username}" if row is not None else "web",
                            "login.failed", username if row is not None else None, None, now=now)
                return None
            token = secrets.token_urlsafe(32)
            values: dict[str, Any] = {"last_login_at": now}
            if HASHER.check_needs_rehash(row.password_hash):
                values["password_hash"] = hash_password(password)
            await c.execute(sa.update(staff_users).where(U.id == row.id).values(**values))
            await c.execute(sa.delete(staff_sessions).where(S.expires_at <= now))
            await c.execute(sa.insert(staff_sessions).values(
                token_hash=_token_hash(token), user_id=row.id, csrf=secrets.token_urlsafe(24),
                created_at=now, last_seen_at=now, expires_at=now + LIFETIME))
            await audit(c, f"staff:{username}", "login", username, None, now=now)
        return token

    async def logout(self, staff: Staff) -> None:
        now = self.clock()
        async with self.db.tx() as c:
            await c.execute(sa.delete(staff_sessions).where(S.token_hash == staff.token_hash))
            await audit(c, staff.actor, "logout", staff.username, None, now=now)

    def set_cookie(self, resp: web.StreamResponse, token: str) -> None:
        resp.set_cookie(COOKIE, token, httponly=True, samesite="Lax", secure=self.secure,
                        path="/", max_age=int(LIFETIME.total_seconds()))


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
    return request.remote or "unknown"


def safe_next(target: str | None) -> str:
    """Only same-site paths after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
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
            raise web.HTTPFound(f"/login?next={_quote(request.path_qs)}")
        raise web.HTTPForbidden(text="Sesi Anda berakhir. Silakan masuk lagi.")
    request[STAFF] = staff
    if request.method in UNSAFE:
        token = request.headers.get("X-CSRF-Token")
        if token is None and request.content_type in ("application/x-www-form-urlencoded",
                                                       "multipart/form-data"):
            token = (await request.post()).get("_csrf")
        if not isinstance(token, str) or not hmac.compare_digest(token, staff.csrf):
            log.warning("csrf token missing or wrong on %s", request.path)
            raise web.HTTPForbidden(text="Formulir ini sudah kedaluwarsa atau tidak sah. "
                                         "Muat ulang halaman lalu coba lagi.")
    route = request.match_info.route
    roles = getattr(getattr(route, "handler", None), "jaring_roles", None)
    if roles is not None and staff.role not in roles:
        raise web.HTTPForbidden(text="Halaman ini tidak untuk peran Anda.")
    return await handler(request)


def _quote(s: str) -> str:
    from urllib.parse import quote

    return quote(s, safe="/")
