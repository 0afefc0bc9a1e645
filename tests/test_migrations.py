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
            diff = await c.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": False}), metadata
                )
            )
    finally:
        await db.dispose()
    # Ignore the alembic_version bookkeeping table; anything else is a real difference.
    diff = [
        d
        for d in diff
        if not (
            isinstance(d, tuple)
            and d[0] == "remove_table"
            and getattr(d[1], "name", "") == "alembic_version"
        )
    ]
    assert diff == [], diff


def test_0007_moves_tg_media_and_wa_media_into_media_and_back(tmp_path):
    """Upgrade copies the rows of both channel tables into `media`; downgrade restores them."""
    import sqlite3

    from alembic import command

    from db.migrate import upgrade

    path = tmp_path / "m.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0006")
    tg = (
        "AgACfile1",
        "tg:1",
        "stored",
        1234,
        "a" * 64,
        "/m/a.jpg",
        None,
        "2026-11-20 03:00:00.000000",
        "2026-11-20 03:00:01.000000",
    )
    wa = (
        "880",
        "wamid.X",
        "wa:2",
        "b" * 64,
        "rejected",
        "image/png",
        99,
        None,
        None,
        "content is not image/png",
        2,
        "2026-11-21 03:00:00.000000",
        None,
    )
    with sqlite3.connect(path) as c:
        c.execute(
            "INSERT INTO tg_media (file_id, user_key, status, size, sha256, path, error, "
            "created_at, done_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            tg,
        )
        c.execute(
            "INSERT INTO wa_media (media_id, wamid, user_key, ref, status, mime, size, "
            "sha256, path, error, attempts, created_at, done_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            wa,
        )

    upgrade(url, "0007")
    with sqlite3.connect(path) as c:
        rows = c.execute(
            "SELECT channel, media_id, ref, message_id, user_key, status, mime, size,"
            " sha256, path, error, attempts, created_at, done_at FROM media"
            " ORDER BY channel"
        ).fetchall()
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert rows == [
        (
            "tg",
            "AgACfile1",
            "AgACfile1",
            None,
            "tg:1",
            "stored",
            None,
            1234,
            "a" * 64,
            "/m/a.jpg",
            None,
            0,
            tg[7],
            tg[8],
        ),
        (
            "wa",
            "880",
            "b" * 64,
            "wamid.X",
            "wa:2",
            "rejected",
            "image/png",
            99,
            None,
            None,
            "content is not image/png",
            2,
            wa[11],
            None,
        ),
    ]
    assert "tg_media" not in tables and "wa_media" not in tables

    command.downgrade(alembic_config(url), "0006")
    with sqlite3.connect(path) as c:
        assert c.execute(
            "SELECT file_id, user_key, status, size, sha256, path, error, "
            "created_at, done_at FROM tg_media"
        ).fetchall() == [tg]
        assert c.execute(
            "SELECT media_id, wamid, user_key, ref, status, mime, size, sha256, "
            "path, error, attempts, created_at, done_at FROM wa_media"
        ).fetchall() == [wa]
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "media" not in tables
