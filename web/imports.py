"""DTSEN import from the dashboard (admin only): upload a CSV, see the same validation report as
`python bot.py import-dtsen`, and the history of imports (data_imports).

The upload goes through `db.dtsen_import.import_dtsen` WITHOUT `skip_invalid`: one bad row and
nothing is imported; every row error is shown ("baris N: ..."; the reasons never contain an NIK
or No. KK). The file is written to a private temporary directory for the two passes and deleted
afterwards. Uploads are limited by the app's request size (`MAX_BYTES`); a bigger extract is
imported with the CLI, which also offers `--skip-invalid` and the reject file.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from datetime import date
from pathlib import Path

import aiohttp_jinja2
from aiohttp import web

from db.audit import audit
from db.dtsen_import import import_dtsen
from db.import_queries import recent_imports
from domain.clock import JAKARTA
from web.auth import AUTH, STAFF, requires
from web.keys import DEPS
from web.proposals import wib

SHOWN_ERRORS = 200
HISTORY = 50


def setup(app: web.Application) -> None:
    app.router.add_get("/imports", imports_page)
    app.router.add_post("/imports", upload)


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
    report=None,
    kept: dict | None = None,
    status: int = 200,
) -> web.Response:
    auth = request.app[AUTH]
    async with auth.db.tx(write=False) as c:
        history = await recent_imports(c, HISTORY)
    today = auth.clock().astimezone(JAKARTA).date()
    errors = [str(e) for e in report.errors] if report is not None else []
    return aiohttp_jinja2.render_template(
        "imports.html",
        request,
        {
            "nav": "imports",
            "error": error,
            "report": report,
            "errors": errors[:SHOWN_ERRORS],
            "more_errors": max(0, len(errors) - SHOWN_ERRORS),
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
    deps = request.app[DEPS]
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
    workdir = Path(tempfile.mkdtemp(prefix="jaring-import-"))  # 0700: the file holds NIKs
    try:
        path = workdir / _safe_name(f.filename)
        with path.open("wb") as out:
            f.file.seek(0)
            shutil.copyfileobj(f.file, out)
        if path.stat().st_size == 0:
            return await imports_page(request, error="Berkas kosong.", kept=kept, status=400)
        report = await import_dtsen(
            auth.db,
            path,
            region=deps.region,
            programs=deps.programs,
            data_date=data_date,
            actor=staff.actor,
            today=today,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not report.imported:
        async with auth.db.tx() as c:
            await audit(
                c,
                staff.actor,
                "import-dtsen.refused",
                "data_imports",
                {
                    "file_name": report.file_name,
                    "rows_total": report.rows_total,
                    "errors": len(report.errors),
                },
                now=auth.clock(),
            )
        return await imports_page(request, report=report, kept=kept, status=422)
    return await imports_page(request, report=report)
