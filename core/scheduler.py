"""Time-driven work: reminders, deadlines, automatic forwarding after a waiting time.

A job is `async def job(conn, now, deps) -> list[int]` (outbox ids it queued with
core.notify). Each job runs in its own write transaction, so a failing job neither
blocks the others nor commits half its work. Jobs must be idempotent: they mark what they did
(e.g. `reminded_3d_at`) in the same transaction, because `run_once` may run again at any time
and in several processes. Tests drive `run_once()` with a controllable clock, never sleeps.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from core import metrics

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
    ):
        self.db, self.deps, self.outbox, self.clock = db, deps, outbox, clock
        self.jobs = list(jobs)
        self.interval = interval
        self._task: asyncio.Task | None = None

    async def run_once(self) -> int:
        """Run every job once; returns how many messages were queued."""
        queued = 0
        for job in self.jobs:
            now = self.clock()
            try:
                async with self.db.tx() as c:
                    ids = await job(c, now, self.deps)
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
        while True:
            await self.run_once()
            await asyncio.sleep(self.interval)

    async def start(self) -> None:
        if self.jobs and self._task is None:
            self._task = asyncio.create_task(self._loop())

    @property
    def running(self) -> bool:
        """The job loop is alive, or there are no jobs (/readyz)."""
        return not self.jobs or (self._task is not None and not self._task.done())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
