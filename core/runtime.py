"""The machinery of a running service, without channels or web: the database, the reference
data, the outbox, the inbox (`Service`) and the scheduler, started and stopped in order.
bot.py's Runtime adds the web app and the channels; the engine and the jobs come from the
flows (conversations/registry.py), handed in so that core imports no conversation."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from core.deps import Deps
from core.engine import Engine
from core.inbox import Service
from core.limits import Limits, LocalLimits, RedisLimits
from core.outbox import Outbox, make_worker_id
from core.reference import load_reference
from core.scheduler import Job, Scheduler
from core.understanding import LiveLexicon
from db.database import Database
from db.leader import SCHEDULER, AdvisoryLock
from domain.clock import utcnow

log = logging.getLogger("jaring")


def send_limits(workers: int, redis_url: str | None) -> Limits:
    """The send limits for one of `workers` processes: shared through Redis when there are
    several and Redis is configured, else in this process (1/N of each limit when N > 1)."""
    if workers <= 1:
        return LocalLimits()
    share = LocalLimits(share=1.0 / workers)
    if redis_url:
        return RedisLimits(redis_url, fallback=share)
    log.warning(
        "JARING_WORKERS=%d without JARING_REDIS_URL: each worker sends at 1/%d of the channel "
        "limits (set JARING_REDIS_URL to share them)",
        workers,
        workers,
    )
    return share


class Core:
    def __init__(
        self,
        *,
        database_url: str,
        programs_path: Path,
        region_path: Path,
        engine: Engine,
        jobs: Sequence[Job],
        default_locale: str = "id",
        hash_key: bytes,
        clock: Callable[[], datetime] | None = None,
        intents_path: Path | None = None,
        public_url: str = "",
        send_horizon_hours: float = 24.0,
        workers: int = 1,
        redis_url: str | None = None,
        lease_seconds: float = 30.0,
        scheduler_interval: float = 60.0,
    ):
        self.programs, self.region = load_reference(programs_path, region_path)
        # The lexicon is checked at start-up like programs.toml (ConfigProblem when wrong), then
        # re-read when its file changes (a bad new file keeps the old lexicon).
        self.lexicon = LiveLexicon(intents_path)
        engine.lexicon = self.lexicon
        self.db = Database(database_url)
        self.deps = Deps(self.programs, self.region, default_locale, hash_key, public_url)
        self.clock = clock = clock or utcnow
        # One worker of the fleet (docs/scaling.md): its id names its leases and job runs.
        self.worker_id = make_worker_id()
        self.outbox = Outbox(
            self.db,
            clock=clock,
            max_age=timedelta(hours=send_horizon_hours),
            worker_id=self.worker_id,
            lease=timedelta(seconds=lease_seconds),
            limits=send_limits(workers, redis_url),
            # One process (SQLite, or JARING_WORKERS=1): a row in `sending` at start-up is a
            # dead process's, resent at once; with several, only once its lease has expired.
            single_process=self.db.is_sqlite or workers <= 1,
        )
        self.service = Service(self.db, engine, self.deps, self.outbox, clock=clock)
        self.scheduler = Scheduler(
            self.db,
            self.deps,
            self.outbox,
            clock=clock,
            jobs=jobs,
            interval=scheduler_interval,
            leader=None if self.db.is_sqlite else AdvisoryLock(self.db, SCHEDULER, "scheduler"),
            worker_id=self.worker_id,
        )

    async def idle(self) -> None:
        """Until the inbox and the outbox have nothing in hand."""
        await self.service.idle()
        await self.outbox.idle()

    async def start_core(self) -> None:
        await self.db.ping()
        await self.outbox.start()
        await self.service.recover()
        await self.scheduler.start()

    async def stop_core(self) -> None:
        """Finish the events in hand (not the whole inbox) and the requests in flight, then stop
        the scheduler and the outbox: a few seconds at most, whatever is queued. The rest stays
        stored (pending events, queued replies) for the next start. The channels stop receiving
        before this and close their sessions after."""
        await self.service.stop(grace=3.0)
        await self.scheduler.stop()
        await self.outbox.stop(grace=4.0)
        await self.outbox.limits.close()
