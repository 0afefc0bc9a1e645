"""Database access: one `tx()` unit of work per inbound event, the same code on SQLite and PostgreSQL.

SQLite (the default) is driven through the stdlib sqlite3 driver on the event-loop thread, one
connection, one unit of work at a time (an asyncio.Lock), WAL mode, BEGIN IMMEDIATE for writes.
A statement costs tens of microseconds that way, against about a millisecond through aiosqlite's
thread hop (docs/performance.md, docs/benchmarks.md). Units of work never await network I/O, so
holding the loop for them is cheaper than hopping threads. One thing could still hold the loop
for long: waiting for SQLite's write lock while another process (an import, a backup, a second
worker, a person with the sqlite3 shell) holds it. So SQLite's own busy wait is kept to a few
milliseconds and a transaction that cannot get the lock waits with `asyncio.sleep`, letting go
of the unit-of-work lock meanwhile: the dashboard, the webhooks and read-only work go on, and
the write starts when the other process is done (or fails after BUSY_WAIT seconds as a
transient error the inbox retries). `DATABASE_URL` keeps the documented
`sqlite+aiosqlite://` form (Alembic uses aiosqlite); the runtime swaps the driver.

PostgreSQL goes through asyncpg with a bounded pool; conversation rows are locked with
SELECT ... FOR UPDATE so several worker processes keep per-conversation order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool


class SyncConn:
    """An AsyncConnection look-alike over a sync SQLite connection (no thread hop)."""

    __slots__ = ("sync",)

    def __init__(self, sync: Connection):
        self.sync = sync

    @property
    def dialect(self):
        return self.sync.dialect

    async def execute(self, stmt, params: Any = None):
        return self.sync.execute(stmt, params)

    async def scalar(self, stmt, params: Any = None):
        return self.sync.execute(stmt, params).scalar()

    async def scalars(self, stmt, params: Any = None):
        return self.sync.execute(stmt, params).scalars()

    async def run_sync(self, fn, *args, **kw):
        return fn(self.sync, *args, **kw)


Conn = SyncConn | AsyncConnection

# SQLite: how long one attempt at the write lock may block the event loop (PRAGMA busy_timeout),
# and how long a transaction waits for it in all, asynchronously, before giving up.
BUSY_TIMEOUT_MS = 5
BUSY_WAIT = 30.0


def _busy(exc: sa.exc.OperationalError) -> bool:
    msg = str(exc.orig).lower() if exc.orig is not None else ""
    return "locked" in msg or "busy" in msg


def sqlite_path(url: str) -> str:
    return url.split(":///", 1)[1] if ":///" in url else ":memory:"


class Database:
    def __init__(self, url: str, *, pool_size: int = 10):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.pool_size = pool_size
        self._lock = asyncio.Lock()  # SQLite only: one unit of work at a time
        self.engine: sa.Engine | None = None
        self.aengine: AsyncEngine | None = None
        self._sqlite_conn: Connection | None = None  # SQLite: one connection, kept open
        if self.is_sqlite:
            path = sqlite_path(url)
            self.engine = sa.create_engine(
                f"sqlite:///{path}",
                poolclass=StaticPool,
                hide_parameters=True,  # a failing statement must not put a NIK in the log
                connect_args={"check_same_thread": False, "timeout": 10},
            )
            self._configure_sqlite(self.engine)
        else:
            self.aengine = create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=0,
                pool_timeout=30,
                pool_pre_ping=False,
                hide_parameters=True,
            )

    def sqlite_side_engine(self) -> sa.Engine | None:
        """A second SQLite engine on the same file, for long work in a worker thread (a DTSEN
        import): its own connection, the same PRAGMAs, but a busy wait of its own (blocking
        is fine off the loop). None for an in-memory database (another connection would see
        another database). The caller disposes of it."""
        if not self.is_sqlite:
            raise RuntimeError("not an SQLite database")
        path = sqlite_path(self.url)
        if path == ":memory:" or path.startswith("file::memory:") or not path:
            return None
        engine = sa.create_engine(
            f"sqlite:///{path}",
            poolclass=StaticPool,
            hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": BUSY_WAIT},
        )
        self._configure_sqlite(engine, busy_ms=int(BUSY_WAIT * 1000))
        return engine

    @staticmethod
    def _configure_sqlite(engine, busy_ms: int = BUSY_TIMEOUT_MS):
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            # A 32 MiB page cache (SQLite's default is 2 MiB) keeps the busy tables (inbox,
            # outbox, conversations) and the NIK index's upper levels in memory; it grows only
            # with pages actually read, and is capped so a long-running service stays under
            # 250 MiB. (mmap was faster for lookups, but the kernel maps neighbouring pages too
            # and RSS grew by ~100 MiB: docs/benchmarks.md.)
            cur.execute("PRAGMA cache_size=-32768")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write", True) else "BEGIN")

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    @asynccontextmanager
    async def tx(self, *, write: bool = True) -> AsyncIterator[Conn]:
        """One transaction: committed when the block ends, rolled back on an exception."""
        if self.engine is not None:
            c, trans = await self._begin_sqlite(write)
            try:
                with trans:
                    yield SyncConn(c)
            finally:
                self._lock.release()
        else:
            assert self.aengine is not None
            async with self.aengine.begin() as ac:
                yield ac

    @asynccontextmanager
    async def single(self) -> AsyncIterator[Conn]:
        """A connection for ONE statement that commits by itself: on PostgreSQL in autocommit
        mode, which saves the BEGIN and COMMIT round trips (two of three for an inbox insert;
        each costs a context switch to the server on a small machine). A single statement is
        atomic on its own; use `tx()` for anything more. SQLite: an ordinary write transaction."""
        if self.engine is not None:
            async with self.tx() as c:
                yield c
        else:
            assert self.aengine is not None
            async with self.aengine.connect() as ac:
                await ac.execution_options(isolation_level="AUTOCOMMIT")
                yield ac

    async def _begin_sqlite(self, write: bool):
        """Take the unit-of-work lock and begin. While another process holds SQLite's write lock
        (BEGIN IMMEDIATE answers "database is locked" after BUSY_TIMEOUT_MS), let go of the lock,
        sleep without blocking the loop, and try again, for up to BUSY_WAIT seconds."""
        assert self.engine is not None
        waited, delay = 0.0, 0.005
        while True:
            await self._lock.acquire()
            try:
                c = self._sqlite_conn
                if c is None or c.closed:
                    c = self._sqlite_conn = self.engine.connect()
                c.info["write"] = write
                return c, c.begin()
            except sa.exc.OperationalError as e:
                self._drop_sqlite_conn()
                self._lock.release()
                if not _busy(e) or waited >= BUSY_WAIT:
                    raise
            except BaseException:
                self._drop_sqlite_conn()
                self._lock.release()
                raise
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.2)

    def _drop_sqlite_conn(self) -> None:
        """A connection whose BEGIN failed is closed; the next unit of work opens a fresh one."""
        c, self._sqlite_conn = self._sqlite_conn, None
        if c is not None:
            try:
                c.close()
            except Exception:  # noqa: BLE001 - closing a broken connection: nothing to keep
                pass

    async def ping(self) -> bool:
        async with self.tx(write=False) as c:
            return (await c.scalar(sa.text("SELECT 1"))) == 1

    async def dispose(self) -> None:
        if self.is_sqlite and self._sqlite_conn is not None:
            self._sqlite_conn.close()
            self._sqlite_conn = None
        if self.engine is not None:
            self.engine.dispose()
        if self.aengine is not None:
            await self.aengine.dispose()
