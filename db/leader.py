"""Leadership across the fleet: a PostgreSQL session advisory lock held on a connection of its
own while this process leads (the scheduler's jobs, Telegram long polling). The lock goes with
the connection: a killed process's locks are released when PostgreSQL sees its connection
close, and a follower takes over at its next try. On SQLite (one process) it is always held.
docs/scaling.md.
"""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from db.database import Database
from db.schema import scheduled_jobs

log = logging.getLogger("jaring.leader")

# Advisory lock keys (bigint), one per role.
SCHEDULER = 0x4A4152494E470001  # "JARING" 0001
TELEGRAM_POLLING = 0x4A4152494E470002

_try_lock = sa.text("SELECT pg_try_advisory_lock(:k)")
_unlock = sa.text("SELECT pg_advisory_unlock(:k)")
_ping = sa.text("SELECT 1")
# How long a lock statement may take before the connection counts as lost.
TIMEOUT = 5.0


class AdvisoryLock:
    def __init__(self, db: Database, key: int, name: str):
        self.key, self.name = key, name
        self.single = db.is_sqlite
        self._engine = (
            None
            if db.is_sqlite
            else create_async_engine(db.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        )
        self._conn: AsyncConnection | None = None
        self.held = self.single

    async def hold(self) -> bool:
        """Take the lock, or make sure it is still held; whether this process holds it."""
        if self._engine is None:
            return True
        try:
            # asyncio.timeout, not wait_for: a stop's cancellation must never be swallowed.
            async with asyncio.timeout(TIMEOUT):
                if self._conn is None:
                    self._conn = await self._engine.connect()
                if self.held:
                    await self._conn.execute(_ping)
                else:
                    got = await self._conn.scalar(_try_lock, {"k": self.key})
                    if got:
                        log.info("%s: this worker leads", self.name)
                    self.held = bool(got)
        except Exception as exc:  # noqa: BLE001 - the connection is gone, and the lock with it
            if self.held:
                log.warning("%s: lost the lead (%s)", self.name, type(exc).__name__)
            self.held = False
            await self._drop()
        return self.held

    async def release(self) -> None:
        if self._engine is None:
            return
        if self._conn is not None and self.held:
            try:
                async with asyncio.timeout(TIMEOUT):
                    await self._conn.execute(_unlock, {"k": self.key})
            except Exception:  # noqa: BLE001 - closing the connection releases it anyway
                pass
        self.held = False
        await self._drop()
        await self._engine.dispose()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                async with asyncio.timeout(TIMEOUT):
                    await conn.close()
            except Exception:  # noqa: BLE001 - a broken connection: the server drops it
                await conn.invalidate()


# --- the job table -----------------------------------------------------------------------------
J = scheduled_jobs.c
_last_tick = sa.select(J.last_tick).where(J.name == sa.bindparam("n"))
_bump = (
    sa.update(scheduled_jobs)
    .where(J.name == sa.bindparam("n"))
    .values(
        runs=J.runs + 1,
        last_tick=sa.bindparam("tick"),
        last_run_at=sa.bindparam("at"),
        last_worker=sa.bindparam("w"),
    )
)
_first = sa.insert(scheduled_jobs)


async def last_tick(conn, name: str) -> int | None:
    """The tick this job last ran in, None when it never ran."""
    return (await conn.execute(_last_tick, {"n": name})).scalar()


async def record_run(conn, name: str, tick: int, now, worker: str) -> None:
    """Count a run of this job in this tick (inside the job's transaction)."""
    res = await conn.execute(_bump, {"n": name, "tick": tick, "at": now, "w": worker})
    if not res.rowcount:
        await conn.execute(
            _first,
            dict(
                name=name,
                runs=1,
                first_tick=tick,
                last_tick=tick,
                last_run_at=now,
                last_worker=worker,
            ),
        )


async def job_runs(conn) -> list:
    """Every job's row: name, runs, first_tick, last_tick, last_run_at, last_worker."""
    return (await conn.execute(sa.select(scheduled_jobs).order_by(J.name))).all()
