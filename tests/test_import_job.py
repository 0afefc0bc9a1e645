"""Dashboard DTSEN import as a background job (issue #14, item 5): the upload returns at once,
the job's page shows progress and then the result, a second upload meanwhile is refused, the
data is in the database at the end, the dashboard answers during the import, and a job a
crash interrupted is marked failed at the next start. SQLite and PostgreSQL (`db_url`).

The import is held half-way by a gate in its progress report (a threading.Event waited on in
the import's worker thread, never a sleep): the test decides when it goes on, so nothing
depends on timing.
"""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from aiohttp import FormData

from db.schema import audit_log, data_imports, import_jobs, people
from services import import_jobs as jobs_mod
from tests.chatkit import SMALL_CSV, running
from tests.test_web_auth import dashboard, hidden, login
from web.keys import IMPORT_JOBS

WAIT = 60  # seconds: a bound for conditions, not an expected duration


def _upload(token: str, content: bytes, name: str = "dtsen-kota.csv") -> FormData:
    form = FormData()
    form.add_field("_csrf", token)
    form.add_field("data_date", "2026-11-01")
    form.add_field("file", content, filename=name, content_type="text/csv")
    return form


class Gate:
    """Holds the import in its worker thread at its first "importing" progress report."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()

    def wrap(self, real):
        async def gated(*args, on_progress=None, **kw):
            def report(phase: str, done: int, total: int) -> None:
                if on_progress is not None:
                    on_progress(phase, done, total)
                if phase == "importing" and not self.reached.is_set():
                    self.reached.set()
                    assert self.release.wait(WAIT), "the test never released the import"

            return await real(*args, on_progress=report, **kw)

        return gated


async def _until(predicate, what: str) -> None:
    """Wait for a condition of another thread, with a bound."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def _count(rt, table) -> int:
    async with rt.db.tx(write=False) as c:
        return await c.scalar(sa.select(sa.func.count()).select_from(table))


async def test_upload_returns_at_once_progress_then_result(db_url, tmp_path, monkeypatch):
    gate = Gate()
    monkeypatch.setattr(jobs_mod, "import_dtsen", gate.wrap(jobs_mod.import_dtsen))
    async with dashboard(db_url, jaring_import_dir=tmp_path / "imports") as (rt, client, _):
        jobs = rt.web[IMPORT_JOBS]
        await login(client, "ani")
        token = hidden(await (await client.get("/imports")).text())
        people_before = await _count(rt, people)

        r = await client.post(
            "/imports", data=_upload(token, SMALL_CSV.read_bytes()), allow_redirects=False
        )
        # The request answered while the import has not finished (it cannot: the gate).
        assert r.status == 303
        location = r.headers["Location"]
        job_id = int(re.fullmatch(r"/imports/job/(\d+)", location).group(1))
        assert not gate.release.is_set()

        # The stored upload: under the import directory, readable by its owner only.
        stored = tmp_path / "imports" / f"job-{job_id}.csv"
        assert stored.read_bytes() == SMALL_CSV.read_bytes()
        assert stored.stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "imports").stat().st_mode & 0o777 == 0o700

        try:
            await _until(gate.reached.is_set, "the import to reach its writing pass")
            # The progress page: rows done of the total, and it refreshes itself.
            html = await (await client.get(location)).text()
            total = len(SMALL_CSV.read_text(encoding="utf-8").splitlines()) - 1
            assert 'data-state="running"' in html
            assert f"{total} dari {total} baris" in html and "<progress" in html
            assert '<meta http-equiv="refresh"' in html
            assert "<script" not in html  # the CSP allows no inline script
            # The dashboard keeps answering during the import.
            assert (await client.get("/")).status == 200
            assert (await client.get("/imports")).status == 200
            assert "Impor sedang berjalan" in await (await client.get("/imports")).text()
            # A second upload meanwhile is refused, clearly, and queues nothing.
            r2 = await client.post("/imports", data=_upload(token, SMALL_CSV.read_bytes()))
            text = await r2.text()
            assert r2.status == 409 and "Impor lain sedang berjalan" in text, text[:300]
            assert f"#{job_id}" in text
            assert await _count(rt, import_jobs) == 1
            # Nothing of the import is visible yet (one transaction).
            assert await _count(rt, people) == people_before
        finally:
            gate.release.set()

        await asyncio.wait_for(jobs.wait(job_id), WAIT)
        html = await (await client.get(location)).text()
        assert 'data-state="done"' in html and "Impor selesai" in html
        assert '<meta http-equiv="refresh"' not in html
        assert await _count(rt, people) == people_before + total
        async with rt.db.tx(write=False) as c:
            job = (await c.execute(sa.select(import_jobs))).one()
            imp = (await c.execute(sa.select(data_imports))).one()
        assert (job.state, job.rows_imported, job.rows_done, job.rows_total) == (
            "done",
            total,
            total,
            total,
        )
        assert job.import_id == imp.id and imp.file_name == "dtsen-kota.csv"
        assert job.actor == "staff:ani" and job.started_at and job.finished_at
        assert not stored.exists()  # the upload is deleted once imported
        # Now a new upload is accepted again.
        r3 = await client.post(
            "/imports", data=_upload(token, SMALL_CSV.read_bytes()), allow_redirects=False
        )
        assert r3.status == 303
        await asyncio.wait_for(jobs.wait(int(r3.headers["Location"].rsplit("/", 1)[1])), WAIT)


async def test_a_refused_file_ends_failed_with_reasons_and_no_nik(db_url, tmp_path):
    imports_dir = tmp_path / "imports"
    async with dashboard(db_url, jaring_import_dir=imports_dir) as (rt, client, _):
        await login(client, "ani")
        token = hidden(await (await client.get("/imports")).text())
        lines = SMALL_CSV.read_text(encoding="utf-8").splitlines()
        lines[2] = lines[2].replace(",P,1981-07-05,", ",X,1981-07-05,")
        r = await client.post(
            "/imports", data=_upload(token, "\n".join(lines).encode()), allow_redirects=False
        )
        assert r.status == 303
        job_id = int(r.headers["Location"].rsplit("/", 1)[1])
        await asyncio.wait_for(rt.web[IMPORT_JOBS].wait(job_id), WAIT)
        html = await (await client.get(r.headers["Location"])).text()
        assert 'data-state="failed"' in html and "baris 3:" in html
        assert "3271014507810003" not in html
        async with rt.db.tx(write=False) as c:
            job = (await c.execute(sa.select(import_jobs))).one()
            refused = (
                await c.execute(
                    sa.select(audit_log).where(audit_log.c.action == "import-dtsen.refused")
                )
            ).one()
        assert job.state == "failed" and job.errors and all("baris" in e for e in job.errors)
        assert not re.search(r"\d{16}", (job.error or "") + " ".join(job.errors))
        assert refused.subject == f"import_jobs:{job_id}"
        assert await _count(rt, data_imports) == 0
        assert list(imports_dir.iterdir()) == []


async def _crashed_job(rt, tmp_path, *, heartbeat_age: timedelta) -> int:
    """What a process killed mid-import leaves: a running row of another owner, its file."""
    now = rt.clock()
    heartbeat = now - heartbeat_age
    async with rt.db.tx() as c:
        job_id = (
            await c.execute(
                import_jobs.insert().returning(import_jobs.c.id),
                {
                    "kind": "dtsen",
                    "state": "running",
                    "phase": "importing",
                    "file_name": "dtsen.csv",
                    "data_date": now.date(),
                    "actor": "staff:ani",
                    "owner": "other-host:4242:dead",
                    "created_at": now - timedelta(minutes=5),
                    "started_at": now - timedelta(minutes=5),
                    "heartbeat_at": heartbeat,
                },
            )
        ).scalar_one()
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / f"job-{job_id}.csv").write_bytes(SMALL_CSV.read_bytes())
    return job_id


async def test_a_job_interrupted_by_a_crash_is_marked_failed_at_the_next_start(db_url, tmp_path):
    imports_dir = tmp_path / "imports"
    async with running(db_url, csv=None, jaring_import_dir=imports_dir) as rt:
        old = await _crashed_job(rt, imports_dir, heartbeat_age=timedelta(minutes=4))
    # The next start of the service (a new process: another owner).
    async with dashboard(db_url, jaring_import_dir=imports_dir) as (rt, client, _):
        async with rt.db.tx(write=False) as c:
            job = (await c.execute(sa.select(import_jobs).where(import_jobs.c.id == old))).one()
        assert job.state == "failed" and "terhenti" in job.error and job.finished_at
        assert not (imports_dir / f"job-{old}.csv").exists()
        await login(client, "ani")
        html = await (await client.get(f"/imports/job/{old}")).text()
        assert 'data-state="failed"' in html and "Unggah lagi" in html
        # ... and a new upload is accepted.
        token = hidden(await (await client.get("/imports")).text())
        r = await client.post(
            "/imports", data=_upload(token, SMALL_CSV.read_bytes()), allow_redirects=False
        )
        assert r.status == 303
        await asyncio.wait_for(
            rt.web[IMPORT_JOBS].wait(int(r.headers["Location"].rsplit("/", 1)[1])), WAIT
        )


async def test_postgres_a_live_workers_job_is_not_touched(db_url, tmp_path):
    """Several processes on PostgreSQL: a job whose heartbeat is fresh belongs to a live worker;
    a starting worker leaves it alone and refuses a second upload."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite serves one service process; every job it does not run is dead")
    imports_dir = tmp_path / "imports"
    async with running(db_url, csv=None, jaring_import_dir=imports_dir) as rt:
        live = await _crashed_job(rt, imports_dir, heartbeat_age=timedelta(seconds=1))
    async with dashboard(db_url, jaring_import_dir=imports_dir) as (rt, client, _):
        async with rt.db.tx(write=False) as c:
            job = (await c.execute(sa.select(import_jobs).where(import_jobs.c.id == live))).one()
        assert job.state == "running"
        assert (imports_dir / f"job-{live}.csv").exists()
        await login(client, "ani")
        token = hidden(await (await client.get("/imports")).text())
        r = await client.post("/imports", data=_upload(token, SMALL_CSV.read_bytes()))
        assert r.status == 409
