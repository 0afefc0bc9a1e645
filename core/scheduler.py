"""Time-driven work: reminders, deadlines, automatic forwarding after a waiting time.

A job is `async def job(conn, now, deps) -> list[int]` (outbox ids it queued with
core.notify). Each job runs in its own write transaction, so a failing job neither
blocks the others nor commits half its work. Jobs must be idempotent: they mark what they did
(e.g. `reminded_3d_at`) in the same transaction, because `run_once` may run again at any time
and in several processes. Tests drive `run_once()` with a controllable clock, never sleeps.

Several workers (docs/scaling.md): the loop runs the jobs only in the fleet's leader, the holder
of a PostgreSQL advisory lock (`leader`, db/leader.py); followers try to take it at each tick.
Ticks are aligned to the clock (tick = floor(epoch seconds / interval)) and each run is counted in
`scheduled_jobs` in the job's transaction; a job that already ran in this tick (a restart or a
takeover within the tick) is skipped. On SQLite the single process leads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from core import metrics
from db import leader as leader_store

log = logging.getLogger("jaring.scheduler")

Job = Callable[..., Awaitable[list[int]]]


class Scheduler:
    def __init__(
        self,
        db,
        deps,
        outbox,
        *,
        clock: Callable[[], datetime],
        jobs: Sequence[Job] = (),
        interval: float = 60.0,
        leader=None,
        worker_id: str = "",
    ):
        self.db, self.deps, self.outbox, self.clock = db, deps, outbox, clock
        self.jobs = list(jobs)
        self.interval = interval
        self.leader = leader  # an AdvisoryLock (db/leader.py); None: this process always leads
        self.worker_id = worker_id
        self._task: asyncio.Task | None = None

    @property
    def is_leader(self) -> bool:
        """Whether this process runs the fleet's scheduled jobs (it holds the leader lock)."""
        return self.leader is None or bool(self.leader.held)

    async def run_once(self, tick: int | None = None) -> int:
        """Run every job once; returns how many messages were queued. With a `tick` (the loop),
        a job that already ran in that tick is skipped and the run is counted."""
        queued = 0
        for job in self.jobs:
            now = self.clock()
            name = getattr(job, "__name__", str(job))[:64]
            try:
                async with self.db.tx() as c:
                    if tick is not None:
                        last = await leader_store.last_tick(c, name)
                        if last is not None and last >= tick:
                            continue
                    ids = await job(c, now, self.deps)
                    if tick is not None:
                        await leader_store.record_run(c, name, tick, now, self.worker_id)
            except Exception as exc:
                log.error(
                    "scheduled job %s failed (%s)",
                    getattr(job, "__name__", job),
                    type(exc).__name__,
                    exc_info=exc,
                )
                metrics.job_run(job, "failed")
                continue
            metrics.job_run(job, "ok")
            if ids:
                self.outbox.notify(ids)
                queued += len(ids)
        return queued

    async def _loop(self) -> None:
        while self._task is not None:
            stamp = self.clock().timestamp()
            tick = int(stamp // self.interval)
            try:
                leads = self.leader is None or await self.leader.hold()
                if leads:
                    await self.run_once(tick)
            except Exception as exc:  # noqa: BLE001 - e.g. the database away: next tick
                log.warning("scheduler tick failed (%s)", type(exc).__name__)
            # Until the next tick starts (at least a tenth of the interval from now).
            wait = (tick + 1) * self.interval - self.clock().timestamp()
            await asyncio.sleep(min(self.interval, max(wait, self.interval / 10)))

    async def start(self) -> None:
        if self.jobs and self._task is None:
            self._task = asyncio.create_task(self._loop())

    @property
    def running(self) -> bool:
        """The job loop is alive, or there are no jobs (/readyz)."""
        return not self.jobs or (self._task is not None and not self._task.done())

    async def stop(self) -> None:
        task, self._task = self._task, None  # the loop ends at its next turn, if not cancelled
        if task:
            while not task.done():
                task.cancel()
                await asyncio.wait([task], timeout=1.0)
        if self.leader is not None:
            await self.leader.release()
