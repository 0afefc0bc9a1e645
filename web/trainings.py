"""Skills training sessions: list, create, edit the safe fields, participants with the waiting
list, CSV export.

A new session is checked by `domain.training.parse_session`, the same rules as
`bot.py training add` and the CSV import. Once a session exists only the fields that do not
change who may register, how many seats there are or when things happen can be edited: title,
organiser, place, notes (`EDITABLE`). Quota, dates, deadline, desil, age and DTSEN priority are
fixed: residents registered (and were told their seat, waitlist place and reminders) under them,
and the seat count (`seats_taken`) and the priority allocation depend on them.

Trainings are city-wide: every role sees the list and the participants; creating, editing and
the CSV export (names of residents) are for admin and verifikator.
"""

from __future__ import annotations

import csv
import io

import aiohttp_jinja2
from aiohttp import web

from db import training_store as store
from db.audit import audit
from domain import training as T
from domain.nik import mask
from web.auth import AUTH, STAFF, requires
from web.keys import DEPS
from web.params import form_text, path_id
from web.proposals import wib

EDITORS = ("admin", "verifikator")
EDITABLE = {"title": 120, "organiser": 120, "place": 160, "notes": 255}
STATUS_NAMES = {
    T.CONFIRMED: "Diterima",
    T.WAITLIST: "Cadangan",
    T.PENDING: "Menunggu seleksi",
    T.CANCELLED: "Batal",
}
CSV_STATUS = {
    T.CONFIRMED: "DITERIMA",
    T.WAITLIST: "CADANGAN",
    T.PENDING: "MENUNGGU SELEKSI",
    T.CANCELLED: "BATAL",
}
LABELS = {
    "title": "Judul",
    "sector": "Bidang",
    "organiser": "Penyelenggara",
    "kecamatan": "Kecamatan",
    "place": "Tempat",
    "start": "Mulai",
    "days": "Lama (hari)",
    "quota": "Kuota",
    "deadline": "Batas daftar",
    "desil_max": "Desil maksimal",
    "age": "Usia",
    "age (min)": "Usia minimal",
    "age (max)": "Usia maksimal",
    "priority": "Prioritas DTSEN",
    "notes": "Catatan",
}


def setup(app: web.Application) -> None:
    app.router.add_get("/trainings", training_list)
    app.router.add_get("/trainings/new", new_form)
    app.router.add_post("/trainings/new", create)
    app.router.add_get("/trainings/{id:\\d+}/edit", edit_form)
    app.router.add_post("/trainings/{id:\\d+}/edit", edit)
    app.router.add_get("/trainings/{id:\\d+}/participants", participants)
    app.router.add_get("/trainings/{id:\\d+}/participants.csv", participants_csv)


def _label(error: str) -> str:
    """parse_session's "quota: harus ..." -> "Kuota: harus ..." for the form."""
    key, sep, rest = error.partition(": ")
    return f"{LABELS.get(key, key)}: {rest}" if sep else error


async def training_list(request: web.Request) -> web.Response:
    auth = request.app[AUTH]
    now = auth.clock()
    async with auth.db.tx(write=False) as c:
        rows = await store.all_sessions(c)
        counts = await store.counts(c)
    rt = request.app[DEPS]
    sectors = {o.code: o.label for o in rt.programs.training_sectors}
    past = request.query.get("past") == "1"
    items = []
    for s in rows:
        if (s.starts_at <= now) != past:
            continue
        n = counts.get(s.id, {})
        kec = rt.region.kecamatan_by_code(s.kecamatan_code)
        items.append(
            {
                "id": s.id,
                "title": s.title,
                "sector": sectors.get(s.sector, s.sector),
                "kecamatan": kec.name if kec else s.kecamatan_code,
                "place": s.place,
                "start": wib(s.starts_at),
                "deadline": s.deadline.strftime("%d-%m-%Y"),
                "quota": s.quota,
                "confirmed": n.get(T.CONFIRMED, 0),
                "waitlist": n.get(T.WAITLIST, 0),
                "pending": n.get(T.PENDING, 0),
                "priority": s.priority,
                "open": T.is_open(s.deadline, s.starts_at, now),
            }
        )
    if past:
        items.reverse()
    return aiohttp_jinja2.render_template(
        "trainings.html",
        request,
        {
            "nav": "program",
            "items": items,
            "past": past,
            "can_edit": request[STAFF].role in EDITORS,
            "ok": request.query.get("ok", ""),
        },
    )


def _choices(request: web.Request) -> dict:
    rt = request.app[DEPS]
    return {
        "sectors": rt.programs.training_sectors,
        "kecamatan": sorted(rt.region.kecamatan, key=lambda k: k.name),
    }


@requires(*EDITORS)
async def new_form(
    request: web.Request,
    *,
    errors: list[str] | None = None,
    kept: dict | None = None,
    status: int = 200,
) -> web.Response:
    return aiohttp_jinja2.render_template(
        "training_form.html",
        request,
        {
            "nav": "program",
            "errors": errors or [],
            "v": kept or {"days": "1", "desil_max": "5", "age": "18-60"},
            **_choices(request),
        },
        status=status,
    )


@requires(*EDITORS)
async def create(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    rt = request.app[DEPS]
    form = await request.post()
    row = {k: form_text(form, k, 400) for k in T.FIELDS}
    row["priority"] = "1" if form.get("priority") else "0"
    now = auth.clock()

    def find(text: str):
        k = rt.region.find_kecamatan(text)
        return k.code if k else None

    spec = T.parse_session(
        row,
        sectors=[o.code for o in rt.programs.training_sectors],
        find_kecamatan=find,
        today=now.astimezone(T.JAKARTA).date(),
    )
    if isinstance(spec, list):
        return await new_form(request, errors=[_label(e) for e in spec], kept=row, status=400)
    async with auth.db.tx() as c:
        sid = await store.add_session(c, spec, now)
        await audit(
            c, staff.actor, "training.add", f"training:{sid}", {"title": spec.title}, now=now
        )
    raise web.HTTPFound(f"/trainings/{sid}/participants?ok=created")


async def _session(conn, sid: int):
    s = await store.session(conn, sid)
    if s is None:
        raise web.HTTPNotFound()
    return s


@requires(*EDITORS)
async def edit_form(
    request: web.Request,
    *,
    errors: list[str] | None = None,
    kept: dict | None = None,
    status: int = 200,
) -> web.Response:
    auth = request.app[AUTH]
    sid = path_id(request)
    async with auth.db.tx(write=False) as c:
        s = await _session(c, sid)
    v = kept or {k: getattr(s, k) or "" for k in EDITABLE}
    return aiohttp_jinja2.render_template(
        "training_edit.html",
        request,
        {
            "nav": "program",
            "s": s,
            "v": v,
            "errors": errors or [],
            "start": wib(s.starts_at),
            "deadline": s.deadline.strftime("%d-%m-%Y"),
        },
        status=status,
    )


@requires(*EDITORS)
async def edit(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    sid = path_id(request)
    form = await request.post()
    v = {k: form_text(form, k, 10_000).strip() for k in EDITABLE}
    errors = [f"{LABELS[k]}: wajib diisi" for k in ("title", "organiser", "place") if not v[k]]
    errors += [
        f"{LABELS[k]}: paling panjang {n} karakter" for k, n in EDITABLE.items() if len(v[k]) > n
    ]
    if errors:
        async with auth.db.tx(write=False) as c:
            await _session(c, sid)
        return await edit_form(request, errors=errors, kept=v, status=400)
    now = auth.clock()
    async with auth.db.tx() as c:
        s = await _session(c, sid)
        values = {k: (v[k] or None) if k == "notes" else v[k] for k in EDITABLE}
        changed = sorted(k for k, val in values.items() if getattr(s, k) != val)
        if changed:
            await store.update_session(c, sid, **{k: values[k] for k in changed})
            await audit(
                c, staff.actor, "training.edit", f"training:{sid}", {"fields": changed}, now=now
            )
    raise web.HTTPFound(f"/trainings/{sid}/participants?ok=edited")


def _rows(s, rows) -> list[dict]:
    """Participants in the page's order, with the waiting list numbered in its real order
    (registration order; on a DTSEN-priority session desil first, as the allocation did)."""
    waiting = [r for r in rows if r.status == T.WAITLIST]
    if s.priority:
        waiting.sort(key=lambda r: (r.desil, r.registered_at, r.id))
    place = {r.id: i for i, r in enumerate(waiting, 1)}
    order = {T.CONFIRMED: 0, T.PENDING: 1, T.WAITLIST: 2}
    out = sorted(rows, key=lambda r: (order.get(r.status, 3), place.get(r.id, 0), r.id))
    return [
        {
            "code": r.code,
            "status": STATUS_NAMES.get(r.status, r.status),
            "kind": r.status,
            "csv_status": CSV_STATUS.get(r.status, r.status),
            "name": r.nama,
            "nik": mask(r.nik),
            "sex": r.jenis_kelamin,
            "birth": r.tanggal_lahir.isoformat(),
            "desil": r.desil,
            "registered": wib(r.registered_at),
            "place": place.get(r.id),
        }
        for r in out
    ]


async def participants(request: web.Request) -> web.Response:
    auth = request.app[AUTH]
    sid = path_id(request)
    async with auth.db.tx(write=False) as c:
        s = await _session(c, sid)
        rows = _rows(s, await store.participants(c, sid))
    rt = request.app[DEPS]
    kec = rt.region.kecamatan_by_code(s.kecamatan_code)
    sectors = {o.code: o.label for o in rt.programs.training_sectors}
    n = {k: sum(1 for r in rows if r["kind"] == k) for k in STATUS_NAMES}
    return aiohttp_jinja2.render_template(
        "training_participants.html",
        request,
        {
            "nav": "program",
            "s": s,
            "rows": rows,
            "n": n,
            "ok": request.query.get("ok", ""),
            "kecamatan": kec.name if kec else s.kecamatan_code,
            "start": wib(s.starts_at),
            "sector": sectors.get(s.sector, s.sector),
            "deadline": s.deadline.strftime("%d-%m-%Y"),
            "allocated": wib(s.allocated_at),
            "can_edit": request[STAFF].role in EDITORS,
        },
    )


@requires(*EDITORS)
async def participants_csv(request: web.Request) -> web.Response:
    """The CLI's `training participants ID --csv` columns (NIK masked), UTF-8 with a BOM so
    that Excel opens it as such. The export is audit-logged: it holds residents' names."""
    auth, staff = request.app[AUTH], request[STAFF]
    sid = path_id(request)
    now = auth.clock()
    async with auth.db.tx() as c:
        s = await _session(c, sid)
        rows = _rows(s, await store.participants(c, sid))
        await audit(
            c, staff.actor, "training.export", f"training:{sid}", {"rows": len(rows)}, now=now
        )
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        [
            "kode",
            "status",
            "urutan_cadangan",
            "nama",
            "nik",
            "jenis_kelamin",
            "tanggal_lahir",
            "desil",
            "waktu_daftar",
        ]
    )
    for r in rows:
        w.writerow(
            [
                r["code"],
                r["csv_status"],
                r["place"] or "",
                r["name"],
                r["nik"],
                r["sex"],
                r["birth"],
                r["desil"],
                r["registered"],
            ]
        )
    return web.Response(
        body=("\ufeff" + buf.getvalue()).encode("utf-8"),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="peserta-pelatihan-{sid}.csv"',
            "Cache-Control": "no-store",
        },
    )
