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
    assert PG_URL

    async def reset():
        from sqlalchemy.ext.asyncio import create_async_engine

        eng = create_async_engine(PG_URL)
        async with eng.begin() as c:
            await c.execute(sa.text("DROP SCHEMA public CASCADE"))
            await c.execute(sa.text("CREATE SCHEMA public"))
        await eng.dispose()

    asyncio.run(reset())
    upgrade(PG_URL)
    return PG_URL


async def _truncate_pg(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    eng = create_async_engine(url)
    names = ", ".join(t.name for t in metadata.sorted_tables)
    async with eng.begin() as c:
        await c.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await eng.dispose()


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
