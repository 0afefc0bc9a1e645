"""KUBE groups and UEP applications: lists by status, detail, approve / reject with a reason.

The decisions go through the same operations as the CLI (`conversations.kube.decide`,
`conversations.uep.decide`): the status change, the kube_events row, the audit row and the
messages to every member (or the applicant) are written in ONE transaction; after the commit the
outbox is woken up (`app[OUTBOX].notify`). Decisions: admin and verifikator. An operator
kelurahan sees only the KUBE groups and UEP applications of their kelurahan (read-only); another
kelurahan's item answers 404, the same as one that does not exist. Names are shortened and NIKs
masked: the page shows what staff need to decide, not a copy of the DTSEN. The phone number the
ketua or the applicant gave so an officer can call them is masked too; "Tampilkan nomor
telepon" (POST) shows it in full once, audited as `kube.contact` / `uep.contact`.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from db import contact_store
from db import kube_store as store
from db import proposal_queries as queries
from db.audit import audit
from domain import kube as K
from domain.clock import JAKARTA
from domain.nik import mask
from services.kube import decide as kube_decision
from services.uep import decide as uep_decision
from web.auth import AUTH, STAFF, Staff, requires
from web.keys import CHANNEL_LABELS, DEPS, OUTBOX
from web.params import form_text, path_id
from web.reports import contact_items

KUBE_TABS = {
    K.SUBMITTED: "Diajukan",
    K.DRAFT: "Sedang dibentuk",
    K.APPROVED: "Disetujui",
    K.REJECTED: "Ditolak",
}
UEP_TABS = {"DIAJUKAN": "Diajukan", "DISETUJUI": "Disetujui", "DITOLAK": "Ditolak"}
ROLE_NAMES = {
    K.KETUA: "Ketua",
    K.SEKRETARIS: "Sekretaris",
    K.BENDAHARA: "Bendahara",
    K.ANGGOTA: "Anggota",
}
ACTION_NAMES = {
    "created": "dibentuk",
    "joined": "bergabung",
    "left": "keluar",
    "removed": "dikeluarkan",
    "role": "ditunjuk",
    "submitted": "diajukan",
    "approved": "disetujui",
    "rejected": "ditolak",
}
DURATION = {"lt1": "kurang dari 1 tahun", "1to3": "1–3 tahun", "gt3": "lebih dari 3 tahun"}
DECIDERS = ("admin", "verifikator")
REASON_MAX = 255
LIST_LIMIT = 300


def setup(app: web.Application) -> None:
    app.router.add_get("/program", program_index)
    app.router.add_get("/kube", kube_list)
    app.router.add_get("/kube/{id:\\d+}", kube_page)
    app.router.add_post("/kube/{id:\\d+}/{action:approve|reject}", kube_decide)
    app.router.add_post("/kube/{id:\\d+}/contact", kube_contact)
    app.router.add_get("/uep", uep_list)
    app.router.add_get("/uep/{id:\\d+}", uep_page)
    app.router.add_post("/uep/{id:\\d+}/{action:approve|reject}", uep_decide)
    app.router.add_post("/uep/{id:\\d+}/contact", uep_contact)


# ----------------------------------------------------------------------------- helpers


def wib(dt) -> str:
    return dt.astimezone(JAKARTA).strftime("%d-%m-%Y %H.%M") if dt else ""


def short_name(nama: str | None) -> str:
    """ "Siti Rahmawati Putri" -> "Siti R. P.": enough to recognise, not a full identity."""
    parts = (nama or "").split()
    if not parts:
        return "—"
    return " ".join([parts[0]] + [f"{p[0].upper()}." for p in parts[1:]])


def kel_name(region, code: str | None) -> str:
    if not code:
        return "—"
    kel = region.kelurahan_by_code(code)
    return kel.name if kel else code


def scope(staff: Staff) -> str | None:
    """The kelurahan an operator is limited to; None for the city-wide roles."""
    return staff.kelurahan_code if staff.role == "operator" else None


def can_decide(staff: Staff) -> bool:
    return staff.role in DECIDERS


def _tab(request: web.Request, tabs: dict) -> str:
    tab = request.query.get("status", "").upper()
    return tab if tab in tabs else next(iter(tabs))


def _reason(form) -> tuple[str | None, str | None]:
    """(reason, error) from a decision form."""
    reason = form_text(form, "reason", 10_000).strip()
    if len(reason) > REASON_MAX:
        return reason, f"Alasan paling panjang {REASON_MAX} karakter."
    return reason or None, None


# ----------------------------------------------------------------------------- index


async def program_index(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    async with auth.db.tx(write=False) as c:
        n = await queries.open_counts(c, scope(staff), auth.clock())
    return aiohttp_jinja2.render_template("program.html", request, {"nav": "program", "n": n})


# ----------------------------------------------------------------------------- KUBE


async def kube_list(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    tab = _tab(request, KUBE_TABS)
    async with auth.db.tx(write=False) as c:
        rows = await queries.kube_groups_with_status(c, tab, scope(staff), LIST_LIMIT)
        counts = await queries.kube_status_counts(c, scope(staff))
    rt = request.app[DEPS]
    btypes = {o.code: o.label for o in rt.programs.business_types}
    items = [
        {
            "id": g.id,
            "name": g.name,
            "business": btypes.get(g.business_type, g.business_type),
            "kelurahan": kel_name(rt.region, g.kelurahan_code),
            "members": g.member_count,
            "submitted": wib(g.submitted_at),
            "created": wib(g.created_at),
            "decided": wib(g.decided_at),
            "reason": g.reason or "",
        }
        for g in rows
    ]
    return aiohttp_jinja2.render_template(
        "kube_list.html",
        request,
        {
            "nav": "program",
            "tab": tab,
            "tabs": KUBE_TABS,
            "counts": counts,
            "items": items,
            "limit": LIST_LIMIT,
        },
    )


async def _kube_row(conn, gid: int, staff: Staff):
    g = await store.group(conn, gid)
    if g is None or not staff.can_see_kelurahan(g.kelurahan_code):
        raise web.HTTPNotFound()  # "not yours" and "does not exist" look the same
    return g


async def kube_page(
    request: web.Request,
    *,
    error: str | None = None,
    kept: dict | None = None,
    status: int = 200,
    contact_full: bool = False,
) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    gid = path_id(request)
    async with auth.db.tx(write=False) as c:
        g = await _kube_row(c, gid, staff)
        members = await store.members(c, gid)
        events = await store.events(c, gid)
        phones = await contact_store.of_matter(c, "kube", str(gid))
    rt = request.app[DEPS]
    btypes = {o.code: o.label for o in rt.programs.business_types}
    return aiohttp_jinja2.render_template(
        "kube.html",
        request,
        {
            "nav": "program",
            "g": g,
            "error": error,
            "kept": kept or {},
            "ok": request.query.get("ok", ""),
            "can_decide": can_decide(staff) and g.status == K.SUBMITTED,
            "business": btypes.get(g.business_type, g.business_type),
            "kelurahan": kel_name(rt.region, g.kelurahan_code),
            "status_name": KUBE_TABS.get(g.status, g.status),
            "size": (rt.programs.kube_min_members, rt.programs.kube_max_members),
            "created": wib(g.created_at),
            "submitted": wib(g.submitted_at),
            "decided": wib(g.decided_at),
            "members": [
                {
                    "name": short_name(m.nama),
                    "nik": mask(m.nik),
                    "role": ROLE_NAMES.get(m.role, m.role),
                    "joined": wib(m.joined_at),
                    "chat": m.conversation_id is not None,
                }
                for m in members
            ],
            **_contact_context(
                request, phones, contact_full, "untuk usulan KUBE ini", f"/kube/{gid}/contact"
            ),
            "events": [
                {
                    "at": wib(e.at),
                    "action": ACTION_NAMES.get(e.action, e.action),
                    "who": short_name(e.nama) if e.nama else "",
                    "detail": e.detail or "",
                    "actor": e.actor,
                }
                for e in events
            ],
        },
        status=status,
    )


async def _decide(
    request: web.Request, *, load, page, decide, key: str, reader: str, conflict: str, url: str
) -> web.Response:
    """Approve or reject (with a reason the resident reads) a KUBE group or a UEP application:
    bad input and a decision taken meanwhile by someone else re-show the page with the reason
    kept; the residents' messages are queued with the decision and sent after the commit."""
    auth, staff = request.app[AUTH], request[STAFF]
    deps = request.app[DEPS]
    item_id = path_id(request)
    approve = request.match_info["action"] == "approve"
    reason, error = _reason(await request.post())
    if not approve and not reason and not error:
        error = f"Alasan penolakan wajib diisi: {reader} akan membacanya."
    kept = {"reason": reason or ""}
    if error:
        async with auth.db.tx(write=False) as c:
            await load(c, item_id, staff)
        return await page(request, error=error, kept=kept, status=400)
    async with auth.db.tx() as c:
        await load(c, item_id, staff)
        problem, ids = await decide(
            c,
            deps,
            approve=approve,
            reason=reason,
            now=auth.clock(),
            actor=staff.actor,
            **{key: item_id},
        )
    if problem:
        return await page(request, status=409, kept=kept, error=conflict)
    if ids:
        request.app[OUTBOX].notify(ids)
    raise web.HTTPFound(f"{url}/{item_id}?ok={'approve' if approve else 'reject'}")


@requires(*DECIDERS)
async def kube_decide(request: web.Request) -> web.Response:
    return await _decide(
        request,
        load=_kube_row,
        page=kube_page,
        decide=kube_decision,
        key="group_id",
        reader="anggota",
        url="/kube",
        conflict=(
            "KUBE ini tidak berstatus Diajukan lagi (mungkin sudah diputuskan "
            "petugas lain); tidak ada yang diubah."
        ),
    )


# ----------------------------------------------------------------------------- UEP


async def uep_list(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    tab = _tab(request, UEP_TABS)
    async with auth.db.tx(write=False) as c:
        rows = await queries.uep_with_status(c, tab, scope(staff), LIST_LIMIT)
        counts = await queries.uep_status_counts(c, scope(staff))
    region = request.app[DEPS].region
    items = [
        {
            "id": a.id,
            "name": short_name(a.nama),
            "business": a.business,
            "kelurahan": kel_name(region, a.kelurahan_code),
            "created": wib(a.created_at),
            "decided": wib(a.decided_at),
            "reason": a.reason or "",
        }
        for a in rows
    ]
    return aiohttp_jinja2.render_template(
        "uep_list.html",
        request,
        {
            "nav": "program",
            "tab": tab,
            "tabs": UEP_TABS,
            "counts": counts,
            "items": items,
            "limit": LIST_LIMIT,
        },
    )


async def _uep_row(conn, aid: int, staff: Staff):
    a = await queries.uep_application(conn, aid, scope(staff))
    if a is None:
        raise web.HTTPNotFound()
    return a


async def uep_page(
    request: web.Request,
    *,
    error: str | None = None,
    kept: dict | None = None,
    status: int = 200,
    contact_full: bool = False,
) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    aid = path_id(request)
    async with auth.db.tx(write=False) as c:
        a = await _uep_row(c, aid, staff)
        phones = await contact_store.of_matter(c, "uep", str(aid))
    region = request.app[DEPS].region
    return aiohttp_jinja2.render_template(
        "uep.html",
        request,
        {
            "nav": "program",
            "a": a,
            "error": error,
            "kept": kept or {},
            "ok": request.query.get("ok", ""),
            "can_decide": can_decide(staff) and a.status == "DIAJUKAN",
            "name": short_name(a.nama),
            "nik": mask(a.nik),
            "kelurahan": kel_name(region, a.kelurahan_code),
            "duration": DURATION.get(a.duration, a.duration),
            "status_name": UEP_TABS.get(a.status, a.status),
            "created": wib(a.created_at),
            "decided": wib(a.decided_at),
            **_contact_context(
                request, phones, contact_full, "untuk pengajuan UEP ini", f"/uep/{aid}/contact"
            ),
        },
        status=status,
    )


@requires(*DECIDERS)
async def uep_decide(request: web.Request) -> web.Response:
    return await _decide(
        request,
        load=_uep_row,
        page=uep_page,
        decide=uep_decision,
        key="app_id",
        reader="pemohon",
        url="/uep",
        conflict="Pengajuan ini sudah diputuskan sebelumnya; tidak ada yang diubah.",
    )


# ----------------------------------------------------------------------------- phone numbers


def _contact_context(request, phones, full: bool, purpose: str, url: str) -> dict:
    return {
        "contacts": contact_items(phones, request.app[CHANNEL_LABELS], full=full),
        "contact_purpose": purpose,
        "contact_url": url,
        "contact_full": full,
    }


async def _reveal(request: web.Request, *, load, page, purpose: str) -> web.Response:
    """The phone numbers given for this proposal in full on this one page view; audited (which
    proposal and how many numbers, never a number). Every staff member who may see the page."""
    auth, staff = request.app[AUTH], request[STAFF]
    item_id = path_id(request)
    async with auth.db.tx() as c:
        await load(c, item_id, staff)
        n = len(await contact_store.of_matter(c, purpose, str(item_id)))
        await audit(
            c, staff.actor, f"{purpose}.contact", str(item_id), {"numbers": n}, now=auth.clock()
        )
    resp = await page(request, contact_full=True)
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def kube_contact(request: web.Request) -> web.Response:
    return await _reveal(request, load=_kube_row, page=kube_page, purpose="kube")


async def uep_contact(request: web.Request) -> web.Response:
    return await _reveal(request, load=_uep_row, page=uep_page, purpose="uep")
