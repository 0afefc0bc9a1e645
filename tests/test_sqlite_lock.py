"""A SQLite file locked by another process (an import, a backup, the sqlite3 shell) never
freezes the event loop: reads and the dashboard go on, writes wait asynchronously and go through
when the lock is released (db/database.py, issue #13 item 3)."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from db.database import sqlite_path
from tests.chatkit import Chat, running


@pytest.fixture
def sqlite_url(db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's file lock")
    return db_url


async def test_a_locked_file_does_not_freeze_the_loop_and_the_write_goes_through(sqlite_url):
    async with running(sqlite_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        gaps: list[float] = []
        stop = asyncio.Event()

        async def ticker():
            last = time.monotonic()
            while not stop.is_set():
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        other = sqlite3.connect(sqlite_path(sqlite_url), isolation_level=None, timeout=0)
        other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        tick = asyncio.create_task(ticker())
        try:
            asked = asyncio.create_task(chat.tap("m:check"))  # needs a write: waits
            await asyncio.sleep(0.5)
            t0 = time.monotonic()
            assert await rt.db.ping()  # a read goes on meanwhile (WAL)
            assert time.monotonic() - t0 < 0.3
            assert not asked.done()
            await asyncio.sleep(1.0)
        finally:
            other.execute("ROLLBACK")
            other.close()
        replies = await asyncio.wait_for(asked, 10)
        stop.set()
        await tick
        assert replies and "NIK" in replies[-1]["text"]
        # SQLite blocks at most BUSY_TIMEOUT_MS per attempt: the loop kept turning.
        assert max(gaps) < 0.25, max(gaps)
