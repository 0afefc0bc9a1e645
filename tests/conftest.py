"""Shared fixtures. Every database test runs on SQLite and, when JARING_TEST_PG_URL is set
(e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test), on PostgreSQL as well."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from db.database import Database
from db.migrate import upgrade
from db.schema import metadata

PG_URL = os.environ.get("JARING_TEST_PG_URL")
DB_KINDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_ready() -> str:
    """A database of this test run's own (created next to JARING_TEST_PG_URL's, dropped at the
    end), so parallel runs on one server never truncate each other's tables."""
    assert PG_URL
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"jaring_test_{os.getpid()}"
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

    async def admin(sql: str):
        eng = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
        async with eng.connect() as c:
            await c.execute(sa.text(sql))
        await eng.dispose()

    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}"'))
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    upgrade(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate_pg(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    eng = create_async_engine(url)
    names = ", ".join(t.name for t in metadata.sorted_tables)
    async with eng.begin() as c:
        await c.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await eng.dispose()


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.one_db("postgresql")` on an end-to-end test of a channel (a real `bot.py
    run` process, fake Bot/Graph API servers): with both databases available it runs on the one
    named, not twice. What such a test checks is the channel's wire and the process; the
    database side of the same flows runs on both databases in the in-process tests. The
    end-to-end tests are split between the two, so each database still sees real processes.
    Without JARING_TEST_PG_URL every test runs on SQLite."""
    if len(DB_KINDS) < 2:
        return
    keep, drop = [], []
    for item in items:
        mark = item.get_closest_marker("one_db")
        callspec = getattr(item, "callspec", None)
        kind = callspec.params.get("db_url") if callspec else None
        if mark and kind and kind != mark.args[0]:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=DB_KINDS)
def db_url(request, tmp_path, sqlite_template) -> str:
    """A migrated, empty database URL (SQLite file copied from a migrated template, or PG truncated)."""
    if request.param == "sqlite":
        path = tmp_path / "jaring.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url = request.getfixturevalue("pg_ready")
    asyncio.run(_truncate_pg(url))
    return url


@pytest.fixture
async def db(db_url):
    database = Database(db_url)
    yield database
    await database.dispose()
