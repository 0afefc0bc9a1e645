"""The signed-in staff member's own account: "Akun saya" (the chats that receive their alerts, a
one-time link code, unlinking) and "Ganti kata sandi". Every role has both pages.

- Link code: `services.alerts.create_link_code`, shown ONCE on the page answering the button
  (stored as a hash, `LINK_MINUTES` valid, single use; a new code replaces an unused one). The
  staff member types it to the bot on Telegram or WhatsApp (conversations/staff_link.py).
- Unlink: a POST with the session's CSRF token, only for the staff member's own chats (another
  chat answers 404), audited.
- Password: the old one, the new one twice, the `staff add` rules; the account's other
  sessions end. An account reset with `bot.py staff reset` is sent here after login and
  reaches nothing else until it has changed the password (web/auth.py).
docs/staff.md.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from services import alerts
from services.staff import MIN_PASSWORD, AuthError, change_password
from web.auth import AUTH, CHANGE_PATH, ROLE_NAMES, STAFF
from web.keys import CHANNEL_LABELS, DEPS
from web.params import path_id
from web.proposals import kel_name, wib


def setup(app: web.Application) -> None:
    app.router.add_get("/account", account_page)
    app.router.add_post("/account/link-code", link_code)
    app.router.add_post("/account/chats/{cid:\\d+}/unlink", unlink)
    app.router.add_get(CHANGE_PATH, password_page)
    app.router.add_post(CHANGE_PATH, password_submit)


async def account_page(
    request: web.Request,
    *,
    created: dict | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    now = auth.clock()
    async with auth.db.tx(write=False) as c:
        chats = await alerts.chats_of(c, staff.id)
        pending = await alerts.pending_code(c, staff.id, now)
    labels = request.app[CHANNEL_LABELS]
    return aiohttp_jinja2.render_template(
        "account.html",
        request,
        {
            "nav": "account",
            "role": ROLE_NAMES.get(staff.role, staff.role),
            "kelurahan": kel_name(request.app[DEPS].region, staff.kelurahan_code)
            if staff.kelurahan_code
            else "",
            "chats": [
                {
                    "id": r.conversation_id,
                    "channel": labels.get(r.channel, r.channel),
                    "since": wib(r.linked_at),
                }
                for r in chats
            ],
            "pending": wib(pending.expires_at) if pending and not created else "",
            "created": created,
            "minutes": alerts.LINK_MINUTES,
            "error": error,
            "ok": request.query.get("ok", ""),
        },
        status=status,
    )


async def link_code(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    async with auth.db.tx() as c:
        code, expires = await alerts.create_link_code(
            c, staff.id, actor=staff.actor, now=auth.clock()
        )
    # No redirect: the code is on this answer only, never stored in clear.
    resp = await account_page(request, created={"code": code, "expires": wib(expires)})
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def unlink(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    cid = path_id(request, "cid")
    async with auth.db.tx() as c:
        done = await alerts.unlink_chat(
            c, cid, actor=staff.actor, now=auth.clock(), user_id=staff.id
        )
    if not done:
        raise web.HTTPNotFound()
    raise web.HTTPFound("/account?ok=unlinked")


def _password_form(
    request: web.Request, *, error: str | None = None, status: int = 200
) -> web.Response:
    staff = request[STAFF]
    return aiohttp_jinja2.render_template(
        "password.html",
        request,
        {
            "nav": "account",
            "forced": staff.must_change,
            "error": error,
            "min": MIN_PASSWORD,
            "ok": request.query.get("ok", ""),
        },
        status=status,
    )


async def password_page(request: web.Request) -> web.Response:
    return _password_form(request)


async def password_submit(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    form = await request.post()
    old = str(form.get("old", ""))[:256]
    new = str(form.get("new", ""))[:256]
    again = str(form.get("again", ""))[:256]
    if new != again:
        return _password_form(request, error="Kedua kata sandi baru tidak sama.", status=400)
    try:
        async with auth.db.tx() as c:
            await change_password(
                c,
                staff.username,
                new,
                old=old,
                now=auth.clock(),
                actor=staff.actor,
                keep_session=staff.token_hash,
            )
    except AuthError as e:
        return _password_form(request, error=str(e), status=400)
    raise web.HTTPFound(f"{CHANGE_PATH}?ok=1")
