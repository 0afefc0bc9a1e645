"""Handoff inbox: tickets from residents who asked for a person (conversations/handoff.py).

Tabs: Baru (open, nobody assigned), Saya (open, assigned to me), Semua (open), Terlambat (no
first answer and past due), Selesai (closed by staff, or withdrawn by the resident: marked
"ditarik warga"). Escalation flags of the SLA job (kepala bidang, kepala dinas) show on the list
and the ticket. An operator kelurahan sees only tickets of their
kelurahan. On a ticket: the conversation before it, the messages, assign, reply (relayed to the
resident's channel through the outbox), internal note, close (the resident is asked for a 1–5
rating). A failed action keeps what the officer typed.

Privacy (docs/privacy.md): the resident's words are shown with long numbers masked (a NIK or
No. KK as "3271 05•• •••• 0003", a phone as "0812****890"), in the list's preview too.
"Tampilkan angka lengkap (dicatat)" (POST, verifikator and admin) shows the ticket's messages
as written, on that one page view, not cached, audited as `tickets.reveal`. The inbox's own copy
of what the resident typed before the ticket is masked once processed, so it has no full number
to show.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from core.i18n import LANGUAGE_NAMES
from db import staff_store
from db import ticket_queries as queries
from db.audit import audit
from domain.cleaning import db_id
from domain.clock import wib
from domain.masking import mask_numbers
from services import tickets as handoff
from web.auth import AUTH, STAFF, Staff, requires
from web.keys import CHANNEL_LABELS, DEPS, OUTBOX
from web.params import form_text, path_id

# The longest reply or note an officer can send (a chat message's own limit is 4096).
TEXT_MAX = 4000
TABS = {
    "new": "Baru",
    "mine": "Saya",
    "all": "Semua terbuka",
    "overdue": "Terlambat",
    "closed": "Selesai",
}
KIND_NAMES = {
    "resident": "Warga",
    "staff": "Petugas",
    "note": "Catatan internal",
    "system": "Sistem",
}


def setup(app: web.Application) -> None:
    app.router.add_get("/inbox", inbox)
    app.router.add_get("/inbox/{id:\\d+}", ticket_page)
    app.router.add_post("/inbox/{id:\\d+}/{action:assign|reply|note|close}", ticket_action)
    app.router.add_post("/inbox/{id:\\d+}/reveal", reveal)


def _scope(staff: Staff) -> str | None:
    return staff.kelurahan_code if staff.role == "operator" else None


async def counts(conn, staff: Staff, now) -> dict[str, int]:
    return await queries.tab_counts(conn, kelurahan=_scope(staff), staff_id=staff.id, now=now)


async def inbox(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    now = auth.clock()
    tab = request.query.get("tab", "new")
    if tab not in TABS:
        tab = "new"
    async with auth.db.tx(write=False) as c:
        rows = await queries.tab(c, tab, kelurahan=_scope(staff), staff_id=staff.id, now=now)
        n = await counts(c, staff, now)
        first = await queries.first_resident_messages(c, [r.id for r in rows])
    region = request.app[DEPS].region
    items = [
        {
            "id": r.id,
            "reason": "Bot tidak paham" if r.reason == "stuck" else "Bertanya",
            "kelurahan": _kel_name(region, r.kelurahan_code),
            "opened": wib(r.opened_at),
            "due": wib(r.due_at),
            "late": r.status == "open" and r.first_response_at is None and r.due_at < now,
            "answered": r.first_response_at is not None,
            "flag": "kepala dinas"
            if r.head_flag_at
            else ("kepala bidang" if r.supervisor_flag_at else ""),
            "assignee": r.assignee or "",
            "channel": request.app[CHANNEL_LABELS].get(r.channel, r.channel),
            "preview": mask_numbers(first.get(r.id) or "")[:140],
            "rating": r.rating,
            "closed": wib(r.closed_at),
            "withdrawn": r.status == "closed" and r.closed_by == "resident",
        }
        for r in rows
    ]
    return aiohttp_jinja2.render_template(
        "inbox.html",
        request,
        {"nav": "inbox", "tab": tab, "tabs": TABS, "items": items, "counts": n},
    )


def _kel_name(region, code):
    if not code:
        return "—"
    kel = region.kelurahan_by_code(code)
    return kel.name if kel else code


async def _load(conn, tid: int, staff: Staff):
    row = await queries.ticket(conn, tid)
    if row is None or not staff.can_see_kelurahan(row.kelurahan_code):
        # The same answer for "does not exist" and "not yours": ids reveal nothing.
        raise web.HTTPNotFound()
    return row


async def ticket_page(
    request: web.Request,
    *,
    error: str | None = None,
    kept: dict | None = None,
    status: int = 200,
    reveal: bool = False,
) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    tid = path_id(request)
    show = (lambda v: v) if reveal else mask_numbers
    async with auth.db.tx(write=False) as c:
        row = await _load(c, tid, staff)
        msgs = await queries.messages(c, tid)
        before = await queries.inbound_before(c, row.user_key, row.opened_at)
        hh = await queries.household_place(c, row.household_id) if row.household_id else None
        people = await staff_store.active_users(c)
    region = request.app[DEPS].region
    return aiohttp_jinja2.render_template(
        "ticket.html",
        request,
        {
            "nav": "inbox",
            "t": row,
            "id": tid,
            "error": error,
            "kept": kept or {},
            "ok": request.query.get("ok", ""),
            "opened": wib(row.opened_at),
            "due": wib(row.due_at),
            "closed": wib(row.closed_at),
            "withdrawn": row.status == "closed" and row.closed_by == "resident",
            "supervisor_flag": wib(row.supervisor_flag_at),
            "head_flag": wib(row.head_flag_at),
            "late": row.status == "open"
            and row.first_response_at is None
            and row.due_at < auth.clock(),
            "channel": request.app[CHANNEL_LABELS].get(row.channel, row.channel),
            "language": LANGUAGE_NAMES.get(row.locale or "id", LANGUAGE_NAMES["id"]),
            "household": (
                f"Kelurahan {_kel_name(region, hh.kelurahan_code)}, RW {hh.rw} RT {hh.rt}"
                if hh
                else "belum dicocokkan (NIK + No. KK)"
            ),
            "before": [
                {"at": wib(b.received_at), "text": show(_describe(b.kind, b.payload))}
                for b in reversed(before)
            ],
            "messages": [
                {
                    "kind": m.kind,
                    "who": KIND_NAMES.get(m.kind, m.kind),
                    "body": show(m.body or ""),
                    "at": wib(m.created_at),
                    "staff": m.name or "",
                }
                for m in msgs
            ],
            "people": people,
            "reveal": reveal,
            "can_reveal": staff.role in REVEAL_ROLES and not reveal,
        },
        status=status,
    )


REVEAL_ROLES = ("admin", "verifikator")  # as for a report's NIK (web/reports.py)


@requires(*REVEAL_ROLES)
async def reveal(request: web.Request) -> web.Response:
    """The ticket's messages as the resident wrote them, on this one page view; audited."""
    auth, staff = request.app[AUTH], request[STAFF]
    tid = path_id(request)
    async with auth.db.tx() as c:
        await _load(c, tid, staff)
        await audit(c, staff.actor, "tickets.reveal", f"T-{tid}", None, now=auth.clock())
    resp = await ticket_page(request, reveal=True)
    resp.headers["Cache-Control"] = "no-store"
    return resp


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
    default_locale = request.app[DEPS].default_locale
    tid = path_id(request)
    action = request.match_info["action"]
    form = await request.post()
    text = form_text(form, "text", TEXT_MAX)
    now = auth.clock()
    ids: list[int] = []
    try:
        async with auth.db.tx() as c:
            await _load(c, tid, staff)
            if action == "assign":
                who = form_text(form, "staff_id", 32)
                target = staff.id if who == "me" else db_id(who)
                await handoff.assign(c, tid, target, actor=staff.actor, now=now)
            elif action == "reply":
                ids = await handoff.reply(
                    c,
                    tid,
                    text,
                    staff_id=staff.id,
                    actor=staff.actor,
                    now=now,
                    default_locale=default_locale,
                )
            elif action == "note":
                await handoff.note(c, tid, text, staff_id=staff.id, actor=staff.actor, now=now)
            elif action == "close":
                ids = await handoff.close(
                    c,
                    tid,
                    staff_id=staff.id,
                    actor=staff.actor,
                    now=now,
                    default_locale=default_locale,
                )
    except handoff.TicketError as e:
        return await ticket_page(request, error=str(e), kept={action: text}, status=409)
    if ids:
        request.app[OUTBOX].notify(ids)
    raise web.HTTPFound(f"/inbox/{tid}?ok={action}")
