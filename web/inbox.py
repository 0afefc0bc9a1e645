"""Handoff inbox: tickets from residents who asked for a person (conversations/handoff.py).

Tabs: Baru (open, nobody assigned), Saya (open, assigned to me), Semua (open), Terlambat (no
first answer and past due), Selesai (closed). An operator kelurahan sees only tickets of their
kelurahan. On a ticket: the conversation before it, the messages, assign, reply (relayed to the
resident's channel through the outbox), internal note, close (the resident is asked for a 1–5
rating). A failed action keeps what the officer typed.
"""
from __future__ import annotations

import aiohttp_jinja2
import sqlalchemy as sa
from aiohttp import web

from conversations import handoff
from domain.clock import JAKARTA, wib
from db.schema import (conversations, households, inbound_events, staff_users, ticket_messages,
                       tickets)
from web.app import CHANNEL_LABELS
from web.auth import AUTH, STAFF, Staff

T, M = tickets.c, ticket_messages.c
TABS = {"new": "Baru", "mine": "Saya", "all": "Semua terbuka", "overdue": "Terlambat",
        "closed": "Selesai"}
KIND_NAMES = {"resident": "Warga", "staff": "Petugas", "note": "Catatan internal",
              "system": "Sistem"}


def setup(app: web.Application) -> None:
    app.router.add_get("/inbox", inbox)
    app.router.add_get("/inbox/{id:\\d+}", ticket_page)
    app.router.add_post("/inbox/{id:\\d+}/{action:assign|reply|note|close}", ticket_action)


def _runtime(request: web.Request):
    from web.app import RUNTIME

    return request.app[RUNTIME]



def _scope(q, staff: Staff):
    if staff.role == "operator":
        return q.where(T.kelurahan_code == staff.kelurahan_code)
    return q


async def counts(conn, staff: Staff, now) -> dict[str, int]:
    base = _scope(sa.select(sa.func.count()).select_from(tickets), staff)
    return {
        "new": await conn.scalar(base.where(T.status == "open", T.assigned_to.is_(None))),
        "mine": await conn.scalar(base.where(T.status == "open", T.assigned_to == staff.id)),
        "all": await conn.scalar(base.where(T.status == "open")),
        "overdue": await conn.scalar(base.where(T.status == "open", T.first_response_at.is_(None),
                                                T.due_at < now)),
    }


async def inbox(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    now = auth.clock()
    tab = request.query.get("tab", "new")
    if tab not in TABS:
        tab = "new"
    assignee = staff_users.alias("assignee")
    q = _scope(sa.select(T.id, T.reason, T.kelurahan_code, T.opened_at, T.due_at,
                         T.first_response_at, T.last_message_at, T.supervisor_flag_at,
                         T.head_flag_at, T.closed_at, T.rating, T.status,
                         assignee.c.name.label("assignee"), conversations.c.channel)
               .join(conversations, conversations.c.id == T.conversation_id)
               .outerjoin(assignee, assignee.c.id == T.assigned_to), staff)
    q = {
        "new": q.where(T.status == "open", T.assigned_to.is_(None)).order_by(T.opened_at),
        "mine": q.where(T.status == "open", T.assigned_to == staff.id).order_by(T.opened_at),
        "all": q.where(T.status == "open").order_by(T.opened_at),
        "overdue": q.where(T.status == "open", T.first_response_at.is_(None),
                           T.due_at < now).order_by(T.opened_at),
        "closed": q.where(T.status == "closed").order_by(T.closed_at.desc()),
    }[tab].limit(200)
    async with auth.db.tx(write=False) as c:
        rows = (await c.execute(q)).all()
        n = await counts(c, staff, now)
        first = {}
        if rows:
            ids = [r.id for r in rows]
            sub = (sa.select(M.ticket_id, sa.func.min(M.id).label("mid"))
                   .where(M.ticket_id.in_(ids), M.kind == "resident").group_by(M.ticket_id)
                   .subquery())
            for tid, body in await c.execute(sa.select(sub.c.ticket_id, M.body)
                                             .join(sub, sub.c.mid == M.id)):
                first[tid] = body
    region = _runtime(request).region
    items = [{
        "id": r.id, "reason": "Bot tidak paham" if r.reason == "stuck" else "Bertanya",
        "kelurahan": _kel_name(region, r.kelurahan_code), "opened": wib(r.opened_at),
        "due": wib(r.due_at), "late": r.status == "open" and r.first_response_at is None
        and r.due_at < now, "answered": r.first_response_at is not None,
        "flag": "kepala dinas" if r.head_flag_at else ("kepala bidang" if r.supervisor_flag_at else ""),
        "assignee": r.assignee or "", "channel": request.app[CHANNEL_LABELS].get(r.channel, r.channel),
        "preview": (first.get(r.id) or "")[:140], "rating": r.rating, "closed": wib(r.closed_at),
    } for r in rows]
    return aiohttp_jinja2.render_template("inbox.html", request, {
        "nav": "inbox", "tab": tab, "tabs": TABS, "items": items, "counts": n})


def _kel_name(region, code):
    if not code:
        return "—"
    kel = region.kelurahan_by_code(code)
    return kel.name if kel else code


async def _load(conn, tid: int, staff: Staff):
    row = (await conn.execute(
        sa.select(tickets, conversations.c.channel, conversations.c.locale,
                  conversations.c.household_id, conversations.c.user_key)
        .join(conversations, conversations.c.id == T.conversation_id).where(T.id == tid))).first()
    if row is None or not staff.can_see_kelurahan(row.kelurahan_code):
        # The same answer for "does not exist" and "not yours": ids reveal nothing.
        raise web.HTTPNotFound()
    return row


async def ticket_page(request: web.Request, *, error: str | None = None,
                      kept: dict | None = None, status: int = 200) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    tid = int(request.match_info["id"])
    async with auth.db.tx(write=False) as c:
        row = await _load(c, tid, staff)
        msgs = (await c.execute(
            sa.select(M.kind, M.body, M.created_at, staff_users.c.name)
            .outerjoin(staff_users, staff_users.c.id == M.staff_id)
            .where(M.ticket_id == tid).order_by(M.id))).all()
        before = (await c.execute(
            sa.select(inbound_events.c.payload, inbound_events.c.kind, inbound_events.c.received_at)
            .where(inbound_events.c.user_key == row.user_key,
                   inbound_events.c.received_at < row.opened_at)
            .order_by(inbound_events.c.id.desc()).limit(6))).all()
        hh = None
        if row.household_id:
            hh = (await c.execute(sa.select(households.c.kelurahan_code, households.c.rw,
                                            households.c.rt)
                                  .where(households.c.id == row.household_id))).first()
        people = (await c.execute(sa.select(staff_users.c.id, staff_users.c.name)
                                  .where(staff_users.c.active.is_(True))
                                  .order_by(staff_users.c.name))).all()
    region = _runtime(request).region
    return aiohttp_jinja2.render_template("ticket.html", request, {
        "nav": "inbox", "t": row, "id": tid, "error": error, "kept": kept or {},
        "ok": request.query.get("ok", ""),
        "opened": wib(row.opened_at), "due": wib(row.due_at), "closed": wib(row.closed_at),
        "late": row.status == "open" and row.first_response_at is None and row.due_at < auth.clock(),
        "channel": request.app[CHANNEL_LABELS].get(row.channel, row.channel),
        "language": "English" if row.locale == "en" else "Bahasa Indonesia",
        "household": (f"Kelurahan {_kel_name(region, hh.kelurahan_code)}, RW {hh.rw} RT {hh.rt}"
                      if hh else "belum dicocokkan (NIK + No. KK)"),
        "before": [{"at": wib(b.received_at), "text": _describe(b.kind, b.payload)}
                   for b in reversed(before)],
        "messages": [{"kind": m.kind, "who": KIND_NAMES.get(m.kind, m.kind), "body": m.body,
                      "at": wib(m.created_at), "staff": m.name or ""} for m in msgs],
        "people": people,
    }, status=status)


def _describe(kind: str, payload: dict | None) -> str:
    p = payload or {}
    if kind == "text":
        return str(p.get("text", ""))[:500]
    if kind == "choice":
        return f"[tombol {p.get('id', '')}]"
    if kind == "command":
        return f"/{p.get('command', '')}"
    return f"[{kind}]"


async def ticket_action(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    runtime = _runtime(request)
    tid = int(request.match_info["id"])
    action = request.match_info["action"]
    form = await request.post()
    text = str(form.get("text", ""))
    now = auth.clock()
    ids: list[int] = []
    try:
        async with auth.db.tx() as c:
            await _load(c, tid, staff)
            if action == "assign":
                who = str(form.get("staff_id", ""))
                target = staff.id if who == "me" else (int(who) if who.isdigit() else None)
                await handoff.assign(c, tid, target, actor=staff.actor, now=now)
            elif action == "reply":
                ids = await handoff.reply(c, tid, text, staff_id=staff.id, actor=staff.actor,
                                          now=now, default_locale=runtime.deps.default_locale)
            elif action == "note":
                await handoff.note(c, tid, text, staff_id=staff.id, actor=staff.actor, now=now)
            elif action == "close":
                ids = await handoff.close(c, tid, staff_id=staff.id, actor=staff.actor, now=now,
                                          default_locale=runtime.deps.default_locale)
    except handoff.TicketError as e:
        return await ticket_page(request, error=str(e), kept={action: text}, status=409)
    if ids:
        runtime.outbox.notify(ids)
    raise web.HTTPFound(f"/inbox/{tid}?ok={action}")
