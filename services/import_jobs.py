"""Dashboard DTSEN imports as background jobs (issue #14, item 5).

The upload is stored under the import directory (`JARING_IMPORT_DIR`, 0700; the file 0600: it
holds NIKs), an `import_jobs` row is queued, and an asyncio task of this process runs
`db.dtsen_import.import_dtsen`, whose heavy parts (both passes over the file, SQLite's writes)
run in worker threads, so the dashboard and the webhooks keep answering.

Rules (docs/dashboard.md, "DTSEN import"):

- One import at a time, across processes: `import_jobs` has a unique partial index on `kind`
  over the queued/running rows; a second upload while one runs is refused.
- The job is marked done in the import's own transaction (data_imports, audit_log and the job
  row commit together); refused files (row errors) end `failed` with the reasons (which never
  hold an NIK or No. KK); an unexpected error ends `failed` with its type only (a database
  error's text can quote a value).
- Progress: this process keeps it in memory (the page of the process running the job reads
  it); on PostgreSQL it is also written to the row every HEARTBEAT seconds, which is the job's
  heartbeat for the other processes. SQLite holds its write lock for the whole import, so no
  heartbeat is written there; SQLite serves one service process anyway.
- A job interrupted by a crash or a stop is marked failed, not resumed (the import is one
  transaction, so nothing of it was written; the admin uploads the file again): at start-up,
  before an upload and when the page is read. Interrupted means: on SQLite, any queued or
  running job that this process is not running; on PostgreSQL, one whose heartbeat is older
  than LEASE seconds (a live worker's job is never touched), or one of this process's own
  that it no longer runs. The stored files of jobs that are not active are deleted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from db import import_queries as q
from db.audit import audit
from db.database import Database
from db.dtsen_import import import_dtsen
from domain.programs import ProgramsConfig
from domain.region import Region

log = logging.getLogger("jaring.imports")

KIND = "dtsen"
HEARTBEAT = 2.0  # seconds between progress writes (PostgreSQL)
LEASE = 60.0  # a job whose heartbeat is older than this is taken as interrupted (PostgreSQL)
SHOWN_ERRORS = 200
INTERRUPTED = "Impor terhenti (layanan berhenti atau mati saat mengimpor); tidak ada data yang disimpan. Unggah lagi."
STOPPED = "Impor dihentikan karena layanan berhenti; tidak ada data yang disimpan. Unggah lagi."
_FILE = re.compile(r"^job-(\d+)\.csv$")


@dataclass
class Progress:
    """What the running import reports (from its worker threads: plain assignments)."""

    phase: str = ""
    rows_done: int = 0
    rows_total: int = 0

    def update(self, phase: str, done: int, total: int) -> None:
        self.phase, self.rows_done, self.rows_total = phase, done, total


class ImportJobs:
    """The import jobs of this process (one per service)."""

    def __init__(
        self,
        db: Database,
        *,
        region: Region,
        programs: ProgramsConfig,
        directory: Path,
        clock: Callable[[], datetime],
        today: Callable[[], date],
        heartbeat: float = HEARTBEAT,
        lease: float = LEASE,
    ):
        self.db = db
        self.region = region
        self.programs = programs
        self.directory = Path(directory)
        self.clock = clock
        self.today = today
        self.heartbeat = heartbeat
        self.lease = lease
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
        self.tasks: dict[int, asyncio.Task] = {}
        self.live: dict[int, Progress] = {}

    # -- recovery -----------------------------------------------------------------------------

    def _interrupted(self, row, now: datetime) -> bool:
        if row.id in self.tasks:
            return False
        if self.db.is_sqlite or row.owner == self.owner:
            return True
        beat = row.heartbeat_at or row.created_at
        return beat < now - timedelta(seconds=self.lease)

    async def recover(self) -> list[int]:
        """Mark interrupted jobs failed and delete stored files of jobs that are not active;
        the ids marked."""
        now = self.clock()
        # Read first: a write transaction would wait for SQLite's lock while an import holds it.
        async with self.db.tx(write=False) as c:
            rows = await q.active_jobs(c, KIND)
        dead = [r.id for r in rows if self._interrupted(r, now)]
        failed: list[int] = []
        if dead:
            async with self.db.tx() as c:
                failed = await q.fail_interrupted(c, dead, error=INTERRUPTED, now=now)
        active = {r.id for r in rows} - set(failed)
        for job_id in failed:
            log.warning("import job %s was interrupted; marked failed", job_id)
        if self.directory.is_dir():
            for f in self.directory.iterdir():
                m = _FILE.match(f.name)
                if m and int(m.group(1)) not in active:
                    f.unlink(missing_ok=True)
        return failed

    # -- submitting ---------------------------------------------------------------------------

    async def active(self):
        """The queued or running job (after recovery), or None."""
        await self.recover()
        async with self.db.tx(write=False) as c:
            rows = await q.active_jobs(c, KIND)
        return rows[0] if rows else None

    async def submit(
        self, upload: BinaryIO, *, file_name: str, data_date: date, actor: str
    ) -> int | None:
        """Store the upload and start its job; None when another import is queued or running."""
        if await self.active() is not None:
            return None  # refused without waiting for a write lock an import may hold
        async with self.db.tx() as c:
            job_id = await q.create_job(
                c,
                kind=KIND,
                file_name=file_name,
                data_date=data_date,
                actor=actor,
                owner=self.owner,
                now=self.clock(),
            )
        if job_id is None:
            return None
        try:
            path = await asyncio.to_thread(self._store, job_id, upload)
        except BaseException:
            async with self.db.tx() as c:
                await q.fail_job(
                    c, job_id, error="Berkas tidak bisa disimpan di server.", now=self.clock()
                )
            raise
        self.live[job_id] = Progress()
        task = asyncio.create_task(self._run(job_id, path, file_name, data_date, actor))
        self.tasks[job_id] = task
        task.add_done_callback(lambda _t: self.tasks.pop(job_id, None))
        return job_id

    def _store(self, job_id: int, upload: BinaryIO) -> Path:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        path = self.directory / f"job-{job_id}.csv"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "wb") as out:
            upload.seek(0)
            shutil.copyfileobj(upload, out, 1 << 20)
        return path

    # -- running ------------------------------------------------------------------------------

    async def _run(
        self, job_id: int, path: Path, file_name: str, data_date: date, actor: str
    ) -> None:
        progress = self.live.setdefault(job_id, Progress())
        beat: asyncio.Task | None = None
        stopped = False
        try:
            async with self.db.tx() as c:
                await q.start_job(c, job_id, now=self.clock())
            if not self.db.is_sqlite:
                beat = asyncio.create_task(self._beat(job_id, progress))
            report = await import_dtsen(
                self.db,
                path,
                region=self.region,
                programs=self.programs,
                data_date=data_date,
                actor=actor,
                today=self.today(),
                on_progress=progress.update,
                job_id=job_id,
                file_name=file_name,
            )
            if beat is not None:
                beat.cancel()
            if not report.imported:
                errors = [str(e) for e in report.errors]
                async with self.db.tx() as c:
                    await q.fail_job(
                        c,
                        job_id,
                        error=f"Tidak ada yang diimpor: {len(errors)} kesalahan.",
                        errors=errors[:SHOWN_ERRORS],
                        rows_total=report.rows_total,
                        rows_rejected=report.rows_rejected,
                        now=self.clock(),
                    )
                    await audit(
                        c,
                        actor,
                        "import-dtsen.refused",
                        f"import_jobs:{job_id}",
                        {
                            "file_name": report.file_name,
                            "rows_total": report.rows_total,
                            "errors": len(errors),
                        },
                        now=self.clock(),
                    )
        except asyncio.CancelledError:
            stopped = True
            raise
        except Exception as e:  # noqa: BLE001 - the job ends failed; the page says so
            # The type only: a database error's text can quote an NIK.
            log.error("import job %s failed: %s", job_id, type(e).__name__)
            async with self.db.tx() as c:
                await q.fail_job(
                    c,
                    job_id,
                    error=f"Kesalahan sistem saat mengimpor ({type(e).__name__}); tidak ada "
                    "data yang disimpan.",
                    now=self.clock(),
                )
        finally:
            if beat is not None:
                beat.cancel()
            self.live.pop(job_id, None)
            if not stopped or not self.db.is_sqlite:
                # SQLite's write thread may still be reading it after a cancel: recovery
                # deletes it at the next start.
                path.unlink(missing_ok=True)

    async def _beat(self, job_id: int, progress: Progress) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                async with self.db.tx() as c:
                    await q.job_progress(
                        c,
                        job_id,
                        phase=progress.phase,
                        rows_done=progress.rows_done,
                        rows_total=progress.rows_total,
                        now=self.clock(),
                    )
            except Exception as e:  # noqa: BLE001 - a missed heartbeat is retried next time
                log.warning("import job %s: progress not written (%s)", job_id, type(e).__name__)

    async def close(self) -> None:
        """Stop: cancel the running job (its transaction rolls back). On PostgreSQL it is
        marked failed now; SQLite's write thread cannot be stopped and finishes (then the job
        is done) or the next start marks it."""
        tasks = dict(self.tasks)
        for t in tasks.values():
            t.cancel()
        for job_id, t in tasks.items():
            try:
                await t
            except BaseException:  # noqa: BLE001 - cancelled on purpose
                pass
            if not self.db.is_sqlite:
                async with self.db.tx() as c:
                    await q.fail_job(c, job_id, error=STOPPED, now=self.clock())

    async def wait(self, job_id: int) -> None:
        """Until the job's task of this process ends (tests, the CLI)."""
        t = self.tasks.get(job_id)
        if t is not None:
            await asyncio.wait({t})

    # -- reading ------------------------------------------------------------------------------

    async def job(self, job_id: int):
        """(row, live Progress or None) of a job, or None."""
        await self.recover()
        async with self.db.tx(write=False) as c:
            row = await q.get_job(c, job_id)
        return None if row is None else (row, self.live.get(job_id))

    async def recent(self, limit: int):
        async with self.db.tx(write=False) as c:
            return await q.recent_jobs(c, limit)
