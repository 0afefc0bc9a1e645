"""Database access: one `tx()` unit of work per inbound event, the same code on SQLite and PostgreSQL.

SQLite (the default) is driven through the stdlib sqlite3 driver on the event-loop thread, one
connection, one unit of work at a time (an asyncio.Lock), WAL mode, BEGIN IMMEDIATE for writes.
A statement costs tens of microseconds that way, against about a millisecond through aiosqlite's
thread hop (docs/performance.md, docs/benchmarks.md). Units of work never await network I/O, so
holding the loop for them is cheaper than hopping threads. `DATABASE_URL` keeps the documented
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


def sqlite_path(url: str) -> str:
    return url.split(":///", 1)[1] if ":///" in url else ":memory:"


class Database:
    def __init__(self, url: str, *, pool_size: int = 10):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
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

    @staticmethod
    def _configure_sqlite(engine):
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
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
            async with self._lock:
                c = self._sqlite_conn
                if c is None or c.closed:
                    c = self._sqlite_conn = self.engine.connect()
                c.info["write"] = write
                with c.begin():
                    yield SyncConn(c)
        else:
            assert self.aengine is not None
            async with self.aengine.begin() as ac:
                yield ac

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
