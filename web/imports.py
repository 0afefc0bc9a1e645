"""DTSEN import from the dashboard (admin only): upload a CSV; it is checked and imported by a
background job (services/import_jobs.py) while the page shows its progress; the history of
imports (data_imports) and of the jobs (import_jobs).

The upload goes through `db.dtsen_import.import_dtsen` WITHOUT `skip_invalid`: one bad row and
nothing is imported; every row error is shown on the job's page ("baris N: ..."; the reasons
never contain an NIK or No. KK). The request only stores the file (under JARING_IMPORT_DIR,
0600) and queues the job, then redirects to /imports/job/<id>, which refreshes itself every
few seconds (a <meta http-equiv="refresh">: the CSP allows no inline script) until the job is
done or failed. One import at a time: a second upload while one is queued or running is
refused (409) with a link to the running one. Uploads are limited by the app's request size
(`MAX_BYTES`); a bigger extract is imported with the CLI, which also offers `--skip-invalid`
and the reject file. Decisions: docs/dashboard.md, "DTSEN import".
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import aiohttp_jinja2
from aiohttp import web

from db.import_queries import recent_imports
from domain.clock import JAKARTA
from web.auth import AUTH, STAFF, requires
from web.keys import IMPORT_JOBS
from web.proposals import wib

SHOWN_ERRORS = 200
HISTORY = 50
JOBS_SHOWN = 10
REFRESH_SECONDS = 2
STATES = {
    "queued": "menunggu",
    "running": "berjalan",
    "done": "selesai",
    "failed": "gagal",
}
PHASES = {
    "checking": "memeriksa baris",
    "importing": "menyimpan ke basis data",
    "saving": "menyelesaikan penyimpanan",
}


def setup(app: web.Application) -> None:
    app.router.add_get("/imports", imports_page)
    app.router.add_post("/imports", upload)
    app.router.add_get("/imports/job/{id:[0-9]+}", job_page)
    app.on_startup.append(_recover)
    app.on_cleanup.append(_close)


async def _recover(app: web.Application) -> None:
    """At start-up: a job a crash or a stop interrupted is marked failed (docs/dashboard.md)."""
    await app[IMPORT_JOBS].recover()


async def _close(app: web.Application) -> None:
    await app[IMPORT_JOBS].close()


def max_bytes(app: web.Application) -> int:
    # The whole request (the file plus a few form fields), as set in web/app.py build_app.
    return getattr(app, "_client_max_size", 2 * 1024 * 1024)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


@requires("admin")
async def imports_page(
    request: web.Request,
    *,
    error: str | None = None,
    kept: dict | None = None,
    running=None,
    status: int = 200,
) -> web.Response:
    auth, jobs = request.app[AUTH], request.app[IMPORT_JOBS]
    async with auth.db.tx(write=False) as c:
        history = await recent_imports(c, HISTORY)
    if running is None:
        running = await jobs.active()
    today = auth.clock().astimezone(JAKARTA).date()
    return aiohttp_jinja2.render_template(
        "imports.html",
        request,
        {
            "nav": "imports",
            "error": error,
            "running": _job_view(running, jobs.live.get(running.id)) if running else None,
            "jobs": [_job_view(j, jobs.live.get(j.id)) for j in await jobs.recent(JOBS_SHOWN)],
            "kept": kept or {},
            "today": today.isoformat(),
            "limit": _mb(max_bytes(request.app)),
            "history": [
                {
                    "id": h.id,
                    "file": h.file_name,
                    "data_date": h.data_date.strftime("%d-%m-%Y"),
                    "at": wib(h.imported_at),
                    "actor": h.actor,
                    "total": h.rows_total,
                    "imported": h.rows_imported,
                    "rejected": h.rows_rejected,
                    "households": h.households,
                }
                for h in history
            ],
        },
        status=status,
    )


def _safe_name(name: str) -> str:
    base = Path(name.replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._")[:120]
    return base or "dtsen.csv"


@requires("admin")
async def upload(request: web.Request) -> web.Response:
    auth, staff = request.app[AUTH], request[STAFF]
    jobs = request.app[IMPORT_JOBS]
    form = await request.post()  # already read (and size-limited) by the CSRF check
    kept = {"data_date": str(form.get("data_date", "")).strip()[:20]}
    today = auth.clock().astimezone(JAKARTA).date()
    f = form.get("file")
    problems = []
    if not isinstance(f, web.FileField) or not f.filename:
        problems.append("Pilih berkas CSV DTSEN.")
    elif not f.filename.lower().endswith((".csv", ".txt")):
        problems.append("Berkas harus CSV (.csv).")
    data_date = None
    try:
        data_date = date.fromisoformat(kept["data_date"])
        if data_date > today:
            problems.append("Tanggal data tidak boleh di masa depan.")
    except ValueError:
        problems.append("Tanggal data harus diisi dengan format YYYY-MM-DD.")
    if problems:
        return await imports_page(request, error=" ".join(problems), kept=kept, status=400)
    assert isinstance(f, web.FileField) and data_date is not None
    if f.file.seek(0, os.SEEK_END) == 0:
        return await imports_page(request, error="Berkas kosong.", kept=kept, status=400)
    job_id = await jobs.submit(
        f.file, file_name=_safe_name(f.filename), data_date=data_date, actor=staff.actor
    )
    if job_id is None:
        running = await jobs.active()
        who = f" (#{running.id}, {running.file_name}, oleh {running.actor})" if running else ""
        return await imports_page(
            request,
            error=f"Impor lain sedang berjalan{who}. Tunggu sampai selesai, lalu unggah lagi.",
            kept=kept,
            running=running,
            status=409,
        )
    raise web.HTTPSeeOther(f"/imports/job/{job_id}")


@requires("admin")
async def job_page(request: web.Request) -> web.Response:
    found = await request.app[IMPORT_JOBS].job(int(request.match_info["id"]))
    if found is None:
        raise web.HTTPNotFound()
    job = _job_view(*found)
    return aiohttp_jinja2.render_template(
        "import_job.html",
        request,
        {"nav": "imports", "job": job, "refresh": REFRESH_SECONDS if job["active"] else None},
    )


def _job_view(row, live) -> dict:
    """A job for the pages; `live` (this process runs it) is fresher than the row."""
    phase, done, total = row.phase, row.rows_done, row.rows_total
    if live is not None and row.state in ("queued", "running") and live.phase:
        phase, done, total = live.phase, live.rows_done, live.rows_total
    percent = None
    if total and phase in ("importing", "saving"):
        percent = min(100, round(100 * done / total))
    return {
        "id": row.id,
        "state": row.state,
        "state_text": STATES.get(row.state, row.state),
        "active": row.state in ("queued", "running"),
        "phase_text": PHASES.get(phase, ""),
        "unit": "langkah" if phase == "saving" else "baris",
        "done": done,
        "total": total,
        "percent": percent,
        "file": row.file_name,
        "data_date": row.data_date.strftime("%d-%m-%Y"),
        "actor": row.actor,
        "created": wib(row.created_at),
        "started": wib(row.started_at) if row.started_at else "",
        "finished": wib(row.finished_at) if row.finished_at else "",
        "seconds": (
            (row.finished_at - row.started_at).total_seconds()
            if row.finished_at and row.started_at
            else None
        ),
        "rows_total": row.rows_total,
        "rows_imported": row.rows_imported,
        "rows_rejected": row.rows_rejected,
        "households": row.households,
        "people_new": row.people_new,
        "people_updated": row.people_updated,
        "error": row.error or "",
        "errors": list(row.errors or [])[:SHOWN_ERRORS],
    }
