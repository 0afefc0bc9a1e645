"""Ketua RT: active heads and open invitations, a new invitation, revoking.

The same operations as `bot.py rt invite|revoke` (`services.rt.invite` / `revoke`): the
one-time activation code is shown ONCE, on the page answering the invitation (it is stored only
as a hash; a reload does not show it again), and works for `INVITE_DAYS` days. Admin and
verifikator act city-wide; an operator kelurahan sees and acts only in their kelurahan (another
kelurahan's row answers 404).
"""

from __future__ import annotations

from datetime import timedelta

import aiohttp_jinja2
from aiohttp import web

from db import rt_queries
from domain.reports import normalize_rt_rw
from services import rt as rtops
from web.auth import AUTH, STAFF
from web.keys import DEPS
from web.params import form_text, path_id
from web.proposals import kel_name, scope, wib

STATUS_NAMES = {"AKTIF": "Aktif", "DIUNDANG": "Diundang", "DICABUT": "Dicabut"}


def setup(app: web.Application) -> None:
    app.router.add_get("/rt", rt_list)
    app.router.add_post("/rt/invite", rt_invite)
    app.router.add_post("/rt/{id:\\d+}/revoke", rt_revoke)


async def rt_list(
    request: web.Request,
    *,
    error: str | None = None,
    kept: dict | None = None,
    created: dict | None = None,
    status: int = 200,
) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    now = auth.clock()
    show_all = request.query.get("all") == "1"
    async with auth.db.tx(write=False) as c:
        rows = await rt_queries.heads(
            c, kelurahan=scope(staff), include_revoked=show_all, limit=1000
        )
    region = request.app[DEPS].region
    items = [
        {
            "id": r.id,
            "status": r.status,
            "status_name": STATUS_NAMES.get(r.status, r.status),
            "expired": r.status == "DIUNDANG" and r.expires_at <= now,
            "kelurahan": kel_name(region, r.kelurahan_code),
            "rw": int(r.rw),
            "rt": int(r.rt),
            "since": wib(r.activated_at or r.created_at),
            "expires": wib(r.expires_at),
            "revoked": wib(r.revoked_at),
            "by": r.created_by,
        }
        for r in rows
    ]
    kelurahan = sorted(region.kelurahan, key=lambda k: k.name)
    if staff.role == "operator":
        kelurahan = [k for k in kelurahan if k.code == staff.kelurahan_code]
    return aiohttp_jinja2.render_template(
        "rt.html",
        request,
        {
            "nav": "rt",
            "items": items,
            "all": show_all,
            "error": error,
            "kept": kept or {},
            "created": created,
            "kelurahan": kelurahan,
            "days": rtops.INVITE_DAYS,
            "ok": request.query.get("ok", ""),
        },
        status=status,
    )


async def rt_invite(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    form = await request.post()
    kept = {k: form_text(form, k, 40).strip() for k in ("kelurahan", "rw", "rt")}
    region = request.app[DEPS].region
    kel = region.kelurahan_by_code(kept["kelurahan"]) if kept["kelurahan"] else None
    rw, rt_no = normalize_rt_rw(kept["rw"]), normalize_rt_rw(kept["rt"])
    errors = []
    if kel is None:
        errors.append("Pilih kelurahan.")
    elif not staff.can_see_kelurahan(kel.code):
        errors.append("Anda hanya bisa mengundang ketua RT di kelurahan Anda.")
    if rw is None:
        errors.append("RW harus angka 1–999.")
    if rt_no is None:
        errors.append("RT harus angka 1–999.")
    if errors:
        return await rt_list(request, error=" ".join(errors), kept=kept, status=400)
    now = auth.clock()
    async with auth.db.tx() as c:
        rid, code = await rtops.invite(
            c, kelurahan_code=kel.code, rw=rw, rt_no=rt_no, actor=staff.actor, now=now
        )
    # No redirect: the code is shown on this answer only, never stored in clear.
    resp = await rt_list(
        request,
        created={
            "id": rid,
            "code": code,
            "kelurahan": kel.name,
            "rw": int(rw),
            "rt": int(rt_no),
            "expires": wib(now + timedelta(days=rtops.INVITE_DAYS)),
        },
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def rt_revoke(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    hid = path_id(request)
    async with auth.db.tx() as c:
        row = await rt_queries.head(c, hid)
        if row is None or not staff.can_see_kelurahan(row.kelurahan_code):
            raise web.HTTPNotFound()
        done = await rtops.revoke(c, hid, actor=staff.actor, now=auth.clock())
    if not done:
        return await rt_list(request, error=f"#{hid} sudah dicabut sebelumnya.", status=409)
    raise web.HTTPFound("/rt?ok=revoked")
