"""Verification queue: the data-error reports (usul, sanggah, koreksi, graduasi) in the dashboard.

- `/reports`: the queue, sorted by due date, filtered by state (open by default), category,
  kecamatan, kelurahan and due date (overdue / due within 3 days), 50 a page. An operator
  kelurahan sees only their kelurahan; another kelurahan's report answers 404.
- `/reports/{code}`: the report, its history (report_events), photos (streamed through
  `/reports/{code}/photos/{id}`, behind the login, never a public file), a map link, the RT's
  opinion, the due date; the reporter's identity only for verifikator and admin.
- Moves are `services.reports.move` (the CLI's operation): only the allowed next states
  are offered; the form carries the version it was read at, so an officer whose report was moved
  meanwhile gets "baru saja diubah petugas lain" and keeps the typed note. The reporter's message
  is queued in the move's transaction; the outbox is woken after the commit.
- NIK / No. KK are masked, and so are the long numbers in the reporter's words (story, detail,
  the RT's note, the history's notes: domain.masking.mask_numbers); "Tampilkan NIK" (POST,
  verifikator/admin) shows them once and is written to audit_log (`reports.reveal`). The SIKS-NG export (CSV/XLSX, verifikator/admin) is
  the CLI's layout (`services.exports.export_rows`), audited as `reports.export`.
- The phone numbers reporters gave so an officer can call them (conversations/contact.py):
  masked, with their purpose, for verifikator and admin; "Tampilkan nomor telepon" (POST) shows
  them in full once, audited as `reports.contact` (docs/privacy.md).
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from db import contact_store
from db import report_queries as queries
from db.audit import audit
from domain import phone as P
from domain import reports as R
from domain.clock import wib
from domain.masking import has_long_number, mask_numbers
from domain.nik import mask
from services import reports as ops
from services.exports import (
    REASON_NAMES,
    export_audit,
    export_rows,
    head_of_household,
    write_csv,
    write_xlsx,
)
from web.auth import AUTH, STAFF, Staff, requires
from web.keys import CHANNEL_LABELS, DEPS, MEDIA_DIR, OUTBOX
from web.params import form_text, path_id

PAGE_SIZE = 50
SOON_DAYS = 3

STATE_NAMES = {
    R.DITERIMA: "Diterima",
    R.VERIFIKASI_RT: "Verifikasi RT",
    R.VERIFIKASI_DINSOS: "Verifikasi Dinsos",
    R.CEK_LAPANGAN: "Cek lapangan",
    R.DITERUSKAN: "Diteruskan (musyawarah kelurahan/SIKS-NG)",
    R.SELESAI: "Selesai",
}
OUTCOME_NAMES = {
    R.DISETUJUI: "disetujui",
    R.DITOLAK: "ditolak",
    R.DUPLIKAT: "duplikat",
    R.DIBATALKAN: "dibatalkan",
}
CATEGORY_NAMES = {
    R.USUL: "Usul",
    R.SANGGAH: "Sanggah",
    R.KOREKSI: "Koreksi",
    R.GRADUASI: "Graduasi mandiri",
}
RT_OPINIONS = {
    "SETUJU": "Setuju",
    "TIDAK_SETUJU": "Tidak setuju",
    "TIDAK_TAHU": "Tidak tahu",
    "TANPA_JAWABAN": "Tidak menjawab dalam batas waktu",
}
ACTION_NAMES = {
    "create": "Laporan dibuat",
    "move": "Status diubah",
    "merge": "Laporan serupa digabung",
    "rt_confirm": "Ketua RT setuju",
    "rt_dispute": "Ketua RT tidak setuju",
    "rt_unsure": "Ketua RT tidak tahu",
    "rt_note": "Catatan ketua RT",
    "rt_notify": "Dikirim ke ketua RT",
    "rt_remind": "Pengingat ke ketua RT",
}
PHOTO_KINDS = {"house": "Foto rumah", "document": "Foto dokumen", "other": "Foto"}
MOVE_PROBLEMS = {
    "not_allowed": "Perpindahan status ini tidak diizinkan.",
    "unknown_state": "Status tujuan tidak dikenal.",
    "outcome_needed": "Pilih hasil untuk menutup laporan.",
    "unknown_outcome": "Hasil tidak dikenal.",
    "outcome_not_allowed": "Hasil ini tidak diizinkan dari status sekarang.",
    "outcome_unexpected": "Hasil hanya untuk status Selesai.",
    "reason_needed": "Laporan yang ditolak perlu alasan; alasan ini dikirim ke pelapor.",
    "changed": "Laporan {code} baru saja diubah petugas lain. Status terbaru ada di bawah; "
    "catatan Anda tidak hilang. Periksa lagi lalu kirim ulang bila masih perlu.",
    "no_head": "Belum ada ketua RT aktif untuk RT/RW laporan ini.",
}
CODE_RE = "[Ll][Pp][Rr]-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}"


def setup(app: web.Application) -> None:
    app.router.add_get("/reports", queue)
    app.router.add_post("/reports/export", export)
    app.router.add_get(f"/reports/{{code:{CODE_RE}}}", report_page)
    app.router.add_post(f"/reports/{{code:{CODE_RE}}}/move", move)
    app.router.add_post(f"/reports/{{code:{CODE_RE}}}/reveal", reveal)
    app.router.add_post(f"/reports/{{code:{CODE_RE}}}/contact", reveal_contact)
    app.router.add_get(f"/reports/{{code:{CODE_RE}}}/photos/{{pid:\\d+}}", photo)


def _kel_name(region, code) -> str:
    kel = region.kelurahan_by_code(code) if code else None
    return kel.name if kel else (code or "—")


def _status(state: str, outcome: str | None) -> str:
    name = STATE_NAMES.get(state, state)
    return f"{name}: {OUTCOME_NAMES.get(outcome, outcome)}" if outcome else name


def _scope(staff: Staff) -> str | None:
    """An operator's kelurahan (they see nothing else); None for the city-wide roles."""
    return staff.kelurahan_code if staff.role == "operator" else None


def _actor_name(actor: str) -> str:
    if actor == "warga":
        return "Warga (pelapor)"
    if actor == "sistem":
        return "Sistem"
    if actor.startswith("rt:"):
        return "Ketua RT"
    if actor.startswith("staff:"):
        return f"Petugas {actor[6:]}"
    return actor


# ------------------------------------------------------------------------ the queue


def _filters(request: web.Request, staff: Staff, region) -> dict[str, str]:
    q = request.query
    f = {
        "state": q.get("state", ""),
        "category": q.get("category", ""),
        "kecamatan": q.get("kecamatan", ""),
        "kelurahan": q.get("kelurahan", ""),
        "due": q.get("due", ""),
    }
    if f["state"] not in ("", "all", *R.STATES):
        f["state"] = ""
    if f["category"] not in ("", *R.CATEGORIES):
        f["category"] = ""
    if f["kecamatan"] and region.kecamatan_by_code(f["kecamatan"]) is None:
        f["kecamatan"] = ""
    if f["kelurahan"] and region.kelurahan_by_code(f["kelurahan"]) is None:
        f["kelurahan"] = ""
    if f["due"] not in ("", "overdue", "soon"):
        f["due"] = ""
    if staff.role == "operator":  # one kelurahan, whatever the address bar says
        f["kecamatan"], f["kelurahan"] = "", staff.kelurahan_code or ""
    return f


async def queue(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    region = request.app[DEPS].region
    now = auth.clock()
    f = _filters(request, staff, region)
    try:
        page = max(1, min(10_000, int(request.query.get("page", "1"))))
    except ValueError:
        page = 1
    where: dict = {"category": f["category"] or None, "kelurahan": f["kelurahan"] or None}
    if f["state"] == "":
        where["open_only"] = True
    elif f["state"] != "all":
        where["state"] = f["state"]
    if not f["kelurahan"] and f["kecamatan"]:
        where["kelurahan_in"] = [k.code for k in region.kelurahan_of(f["kecamatan"])]
    if f["due"] == "overdue":
        where.update(due_before=now, open_only=True)
    elif f["due"] == "soon":
        where.update(due_from=now, due_before=now + timedelta(days=SOON_DAYS), open_only=True)
    async with auth.db.tx(write=False) as c:
        # reports made in the dashboard's simulator are labelled as tests (`simulated`)
        total, rows = await queries.queue(
            c, **where, scope=_scope(staff), limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
    items = [
        {
            "code": r.code,
            "category": CATEGORY_NAMES.get(r.category, r.category),
            "status": _status(r.state, r.outcome),
            "open": r.state != R.SELESAI,
            "kelurahan": _kel_name(region, r.kelurahan_code),
            "rtrw": f"RT {int(r.rt)} / RW {int(r.rw)}" if r.rt and r.rw else "",
            "target": "Keluarga pelapor" if r.household_id else (r.target_name or "—"),
            "reason": REASON_NAMES.get(r.category, {}).get(r.reason or "", r.reason or ""),
            "detail": mask_numbers(r.detail or "")[:120],
            "created": wib(r.created_at, "%d-%m-%Y"),
            "due": wib(r.due_at, "%d-%m-%Y"),
            "late": r.state != R.SELESAI and r.due_at < now,
            "rt_opinion": RT_OPINIONS.get(r.rt_opinion or "", ""),
            "simulated": bool(r.simulated),
        }
        for r in rows
    ]
    pages = max(1, -(-total // PAGE_SIZE))
    keep = {k: v for k, v in f.items() if v and not (staff.role == "operator" and k == "kelurahan")}

    def link(p: int) -> str:
        return "/reports?" + urlencode({**keep, "page": p})

    return aiohttp_jinja2.render_template(
        "reports.html",
        request,
        {
            "nav": "reports",
            "items": items,
            "f": f,
            "total": total,
            "page": page,
            "pages": pages,
            "prev": link(page - 1) if page > 1 else "",
            "next": link(page + 1) if page < pages else "",
            "states": STATE_NAMES,
            "categories": CATEGORY_NAMES,
            "kecamatan": region.kecamatan,
            "kelurahan": [(kec, region.kelurahan_of(kec.code)) for kec in region.kecamatan],
            "own_kelurahan": _kel_name(region, staff.kelurahan_code)
            if staff.role == "operator"
            else "",
            "can_export": staff.role in ("admin", "verifikator"),
        },
    )


# ------------------------------------------------------------------------ one report


async def _load(conn, code: str, staff: Staff):
    code = R.normalize_code(code)
    row = (await ops.by_code(conn, code)) if code else None
    if row is None or not staff.can_see_kelurahan(row.kelurahan_code):
        raise web.HTTPNotFound()  # "not yours" looks exactly like "no such report"
    return row


def _targets(state: str, has_head: bool) -> list[tuple[str, str]]:
    """The moves offered from `state`: (form value, label)."""
    out = []
    for to in R.STATES:  # in pipeline order
        if to not in R.TRANSITIONS[state]:
            continue
        if to == R.SELESAI:
            for outcome in R.OUTCOMES:
                if state in R.OUTCOME_FROM[outcome]:
                    out.append((f"{to}:{outcome}", f"Selesai — {OUTCOME_NAMES[outcome]}"))
        elif to != R.VERIFIKASI_RT or has_head:
            out.append((to, STATE_NAMES[to]))
    return out


async def report_page(
    request: web.Request,
    *,
    error: str | None = None,
    kept: dict | None = None,
    status: int = 200,
    reveal: bool = False,
    contact_full: bool = False,
) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    region = request.app[DEPS].region
    labels = request.app[CHANNEL_LABELS]
    now = auth.clock()
    identity = staff.role in ("admin", "verifikator")
    async with auth.db.tx(write=False) as c:
        r = await _load(c, request.match_info["code"], staff)
        head = await head_of_household(c, r.household_id) if r.household_id else None
        reporter = await queries.reporter(c, r.id) if identity else None
        events = await queries.events(c, r.id)
        photos = await queries.report_photos(c, r.id)
        phones = await contact_store.of_matter(c, "report", r.code) if identity else []
        has_head = (
            r.state in (R.DITERIMA,)
            and await ops.active_head_for_area(c, r.kelurahan_code, r.rw, r.rt) is not None
        )
    show = (lambda v: v or "—") if reveal else (lambda v: mask(v) if v else "—")
    words = (lambda v: v or "") if reveal else (lambda v: mask_numbers(v or ""))
    kel = region.kelurahan_by_code(r.kelurahan_code)
    kec = region.kecamatan_by_code(kel.kecamatan_code) if kel else None
    if head:
        target = {
            "who": f"Keluarga pelapor sendiri — {head.nama}",
            "address": head.alamat,
            "nik": show(head.nik),
            "kk": show(head.no_kk),
        }
    else:
        target = {
            "who": r.target_name or "—",
            "address": r.target_address or "—",
            "nik": show(r.target_nik) if r.target_nik else "",
            "kk": show(r.target_kk) if r.target_kk else "",
        }
    rt_event = next(
        (
            e
            for e in reversed(events)
            if e.action in ("rt_confirm", "rt_dispute", "rt_unsure", "rt_note") and e.note
        ),
        None,
    )
    seen_photos = {}
    for p in photos:  # one row per photo even if the media tables hold it twice
        seen_photos.setdefault(p.id, p)
    has_nik = bool(
        (head and (head.nik or head.no_kk))
        or r.target_nik
        or r.target_kk
        or (reporter and reporter.nik)
        or any(has_long_number(v or "") for v in (r.story, r.detail, *(e.note for e in events)))
    )
    return aiohttp_jinja2.render_template(
        "report.html",
        request,
        {
            "nav": "reports",
            "r": r,
            "error": error,
            "kept": kept or {},
            "reveal": reveal,
            "ok": request.query.get("ok", "") if request.method == "GET" else "",
            "category": CATEGORY_NAMES.get(r.category, r.category),
            "status": _status(r.state, r.outcome),
            "open": r.state != R.SELESAI,
            "reason": REASON_NAMES.get(r.category, {}).get(r.reason or "", r.reason or "—"),
            "place": f"Kelurahan {kel.name if kel else r.kelurahan_code}"
            + (f", Kecamatan {kec.name}" if kec else "")
            + (f", RW {int(r.rw)} RT {int(r.rt)}" if r.rw and r.rt else ""),
            "target": target,
            "map": (
                f"https://www.openstreetmap.org/?mlat={r.lat:.6f}&mlon={r.lon:.6f}"
                f"#map=18/{r.lat:.6f}/{r.lon:.6f}"
            )
            if r.lat is not None and r.lon is not None
            else "",
            "created": wib(r.created_at),
            "due": wib(r.due_at),
            "rt_due": wib(r.rt_due_at) if r.state == R.VERIFIKASI_RT else "",
            "late": r.state != R.SELESAI and r.due_at < now,
            "rt_opinion": RT_OPINIONS.get(r.rt_opinion or "", ""),
            "rt_note": words(rt_event.note) if rt_event else "",
            "story": words(r.story),
            "detail": words(r.detail),
            "identity": identity,
            "reporter": {
                "role": "Ketua RT" if r.reporter_role == "rt" else "Warga",
                "name": reporter.nama if reporter and reporter.nama else "",
                "nik": show(reporter.nik) if reporter and reporter.nik else "",
                "channel": labels.get(reporter.channel, reporter.channel or "—")
                if reporter
                else "",
            }
            if identity
            else None,
            "can_reveal": identity and has_nik and not reveal,
            "events": [
                {
                    "at": wib(e.at),
                    "who": _actor_name(e.actor),
                    "actor": e.actor,
                    "what": ACTION_NAMES.get(e.action, e.action),
                    "move": (
                        f"{STATE_NAMES.get(e.from_state, e.from_state)} → " if e.from_state else ""
                    )
                    + _status(e.to_state, e.outcome)
                    if e.to_state
                    else "",
                    "note": words(e.note),
                }
                for e in events
            ],
            "photos": [
                {
                    "id": p.id,
                    "kind": PHOTO_KINDS.get(p.kind, p.kind),
                    "channel": labels.get(p.channel, p.channel),
                    "stored": bool(p.path),
                }
                for p in seen_photos.values()
            ],
            "targets": _targets(r.state, has_head),
            "contacts": contact_items(phones, labels, full=contact_full),
            "contact_purpose": "untuk laporan ini",
            "contact_url": f"/reports/{r.code}/contact",
            "contact_full": contact_full,
        },
        status=status,
    )


@requires("admin", "verifikator")
async def reveal(request: web.Request) -> web.Response:
    """Full NIK / No. KK on this one page view; every view is in the audit log."""
    auth, staff = request.app[AUTH], request[STAFF]
    async with auth.db.tx() as c:
        r = await _load(c, request.match_info["code"], staff)
        await audit(c, staff.actor, "reports.reveal", r.code, None, now=auth.clock())
    resp = await report_page(request, reveal=True)
    resp.headers["Cache-Control"] = "no-store"
    return resp


SOURCE_NAMES = {"shared": "dibagikan", "typed": "diketik", "reused": "dipakai lagi"}


def contact_items(rows, labels, *, full: bool) -> list[dict]:
    """The phone numbers given for a matter as a page shows them: masked, or full (and
    dialable) on the view that is audited."""
    return [
        {
            "masked": P.masked(x.phone),
            "full": x.phone if full else "",
            "national": P.national(x.phone) if full else "",
            "how": f"{SOURCE_NAMES.get(x.source, x.source)} lewat {labels.get(x.channel, x.channel)}",
            "given": wib(x.updated_at),
        }
        for x in rows
    ]


@requires("admin", "verifikator")
async def reveal_contact(request: web.Request) -> web.Response:
    """The reporters' phone numbers in full on this one page view; audited (no number in the
    audit row: which report, and how many numbers were shown)."""
    auth, staff = request.app[AUTH], request[STAFF]
    async with auth.db.tx() as c:
        r = await _load(c, request.match_info["code"], staff)
        n = len(await contact_store.of_matter(c, "report", r.code))
        await audit(c, staff.actor, "reports.contact", r.code, {"numbers": n}, now=auth.clock())
    resp = await report_page(request, contact_full=True)
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def move(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    deps = request.app[DEPS]
    form = await request.post()
    choice = form_text(form, "to", 64)
    note = form_text(form, "note", 1000).strip()
    version = form_text(form, "version", 20)
    to, _, outcome = choice.partition(":")
    now = auth.clock()
    code = ""
    try:
        async with auth.db.tx() as c:
            r = await _load(c, request.match_info["code"], staff)
            code = r.code
            if not (version.isascii() and version.isdigit()) or int(version) != r.version:
                raise ops.ReportError("changed", r.code)
            if (
                to == R.VERIFIKASI_RT
                and await ops.active_head_for_area(c, r.kelurahan_code, r.rw, r.rt) is None
            ):
                raise ops.ReportError("no_head")
            ids = await ops.move(
                c,
                r,
                to,
                now=now,
                actor=staff.actor,
                outcome=outcome or None,
                note=note or None,
                default_locale=deps.default_locale,
                rt_due=R.rt_due_at(now, deps.programs.sla.rt_answer_days),
            )
            await audit(
                c,
                staff.actor,
                "reports.move",
                r.code,
                {"from": r.state, "to": to, "outcome": outcome or None},
                now=now,
            )
    except ops.ReportError as e:
        msg = MOVE_PROBLEMS.get(e.code, "Perubahan tidak dapat disimpan.").format(code=code)
        return await report_page(request, error=msg, kept={"note": note, "to": choice}, status=409)
    if ids:
        request.app[OUTBOX].notify(ids)
    raise web.HTTPFound(f"/reports/{code}?ok=move")


async def photo(request: web.Request) -> web.StreamResponse:
    """A report's photo, streamed from JARING_MEDIA_DIR to signed-in staff who may see the
    report. Never a static route: the file name (a hash) alone gives nothing."""
    auth, staff = request.app[AUTH], request[STAFF]
    media = request.app[MEDIA_DIR].resolve()
    async with auth.db.tx(write=False) as c:
        r = await _load(c, request.match_info["code"], staff)
        path = await queries.photo_path(c, r.id, path_id(request, "pid"))
    if not path:
        raise web.HTTPNotFound()
    p = Path(path).resolve()
    if not p.is_relative_to(media) or not p.is_file() or p.suffix not in (".jpg", ".png"):
        raise web.HTTPNotFound()
    return web.FileResponse(
        p,
        headers={
            "Content-Type": "image/jpeg" if p.suffix == ".jpg" else "image/png",
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": "inline",
        },
    )


@requires("admin", "verifikator")
async def export(request: web.Request) -> web.Response:
    """The SIKS-NG export of the CLI (`reports export`), downloaded from the queue page."""
    auth, staff = request.app[AUTH], request[STAFF]
    region = request.app[DEPS].region
    form = await request.post()
    fmt = "xlsx" if form.get("format") == "xlsx" else "csv"
    now = auth.clock()
    async with auth.db.tx() as c:
        rows = await export_rows(c, region)
        await audit(c, staff.actor, "reports.export", fmt, export_audit(rows, "dashboard"), now=now)
    name = f"usulan-siks-ng-{wib(now, '%Y%m%d-%H%M')}.{fmt}"
    if fmt == "xlsx":
        buf = io.BytesIO()
        write_xlsx(rows, buf)
        body = buf.getvalue()
        ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        text = io.StringIO(newline="")
        write_csv(rows, text)
        body = text.getvalue().encode("utf-8")
        ctype = "text/csv; charset=utf-8"
    return web.Response(
        body=body,
        headers={
            "Content-Type": ctype,
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
