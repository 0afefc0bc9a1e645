"""The history of DTSEN imports (data_imports) and the dashboard's import jobs (import_jobs)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from db.schema import IMPORT_ACTIVE, data_imports, import_jobs


async def recent_imports(conn, limit: int):
    """The newest imports first."""
    return (
        await conn.execute(sa.select(data_imports).order_by(data_imports.c.id.desc()).limit(limit))
    ).all()


# --- import jobs (dashboard imports run in the background) -----------------------------------

ACTIVE = ("queued", "running")


def _insert(conn):
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


async def create_job(
    conn, *, kind: str, file_name: str, data_date: date, actor: str, owner: str, now: datetime
) -> int | None:
    """A queued job, or None when a job of `kind` is already queued or running (the unique
    partial index decides, so two processes cannot both start one)."""
    stmt = (
        _insert(conn)(import_jobs)
        .values(
            kind=kind,
            state="queued",
            phase="",
            file_name=file_name[:255],
            data_date=data_date,
            actor=actor[:64],
            owner=owner[:64],
            created_at=now,
            heartbeat_at=now,
        )
        .on_conflict_do_nothing(index_elements=["kind"], index_where=sa.text(IMPORT_ACTIVE))
        .returning(import_jobs.c.id)
    )
    return (await conn.execute(stmt)).scalar_one_or_none()


async def start_job(conn, job_id: int, *, now: datetime) -> bool:
    r = await conn.execute(
        import_jobs.update()
        .where(import_jobs.c.id == job_id, import_jobs.c.state == "queued")
        .values(state="running", started_at=now, heartbeat_at=now)
    )
    return r.rowcount == 1


async def job_progress(
    conn, job_id: int, *, phase: str, rows_done: int, rows_total: int, now: datetime
) -> None:
    """The heartbeat: how far the job is, and that its process is alive."""
    await conn.execute(
        import_jobs.update()
        .where(import_jobs.c.id == job_id, import_jobs.c.state.in_(ACTIVE))
        .values(phase=phase, rows_done=rows_done, rows_total=rows_total, heartbeat_at=now)
    )


async def fail_job(
    conn,
    job_id: int,
    *,
    error: str,
    now: datetime,
    errors: list[str] | None = None,
    rows_total: int = 0,
    rows_rejected: int = 0,
) -> bool:
    """Mark a queued or running job failed (a finished one is left alone)."""
    r = await conn.execute(
        import_jobs.update()
        .where(import_jobs.c.id == job_id, import_jobs.c.state.in_(ACTIVE))
        .values(
            state="failed",
            error=error,
            errors=errors,
            rows_total=rows_total,
            rows_rejected=rows_rejected,
            finished_at=now,
            heartbeat_at=now,
        )
    )
    return r.rowcount == 1


async def active_jobs(conn, kind: str):
    return (
        await conn.execute(
            sa.select(import_jobs).where(
                import_jobs.c.kind == kind, import_jobs.c.state.in_(ACTIVE)
            )
        )
    ).all()


async def fail_interrupted(conn, ids: list[int], *, error: str, now: datetime) -> list[int]:
    """Mark these jobs failed if they are still queued or running; the ids that were."""
    if not ids:
        return []
    rows = await conn.execute(
        import_jobs.update()
        .where(import_jobs.c.id.in_(ids), import_jobs.c.state.in_(ACTIVE))
        .values(state="failed", error=error, finished_at=now)
        .returning(import_jobs.c.id)
    )
    return [r[0] for r in rows]


async def get_job(conn, job_id: int):
    return (
        await conn.execute(sa.select(import_jobs).where(import_jobs.c.id == job_id))
    ).one_or_none()


async def recent_jobs(conn, limit: int):
    return (
        await conn.execute(sa.select(import_jobs).order_by(import_jobs.c.id.desc()).limit(limit))
    ).all()
