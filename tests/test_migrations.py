"""The Alembic migrations build exactly the schema `db/schema.py` describes (SQLite and PG), and
they have one head (two branches that both add a revision must be re-chained when merged)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from db.migrate import alembic_config
from db.schema import metadata


def test_one_head():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, script.get_heads()


async def test_migrated_schema_matches_the_metadata(db_url):
    from db.database import Database

    db = Database(db_url)
    try:
        async with db.tx(write=False) as c:
            diff = await c.run_sync(lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": False}), metadata))
    finally:
        await db.dispose()
    # Ignore the alembic_version bookkeeping table; anything else is a real difference.
    diff = [d for d in diff if not (isinstance(d, tuple) and d[0] == "remove_table"
                                    and getattr(d[1], "name", "") == "alembic_version")]
    assert diff == [], diff
