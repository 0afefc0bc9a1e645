"""The database half of `bot.py backup` / `bot.py restore` (services/backup.py does the rest:
the media folder, the manifest, the checksums).

SQLite: sqlite3's online backup API (`Connection.backup`, the whole file in one step under a
read transaction). In WAL mode a reader never blocks the writer, so the running service goes on
writing while the copy is made, and the copy is one consistent moment. The copy is switched to
journal_mode=DELETE (one self-contained file) and checked with `PRAGMA integrity_check`.

PostgreSQL: `pg_dump --format=custom` inside a REPEATABLE READ transaction whose snapshot is
exported (`pg_export_snapshot()`, `pg_dump --snapshot`): the row counts written into the
manifest and the dump are the same moment, so a restore can be checked row for row. Restore is
`pg_restore` into an empty database; one that holds rows is refused unless the caller forces it.
The connection settings go to pg_dump/pg_restore through libpq's environment (PGHOST, PGPASSWORD,
...), never on the command line where `ps` would show a password.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from db.database import sqlite_path

Kind = Literal["sqlite", "postgresql"]
# What a restore target holds: no file / no table, tables without rows (e.g. just migrated),
# or rows (a database in use: refused unless forced).
State = Literal["empty", "schema", "data"]
VERSION_TABLE = "alembic_version"


class DumpError(Exception):
    """A snapshot or restore failed; the message says what and what to do (no data in it)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    kind: Kind
    revision: str | None  # Alembic's version_num
    rows: dict[str, int]  # table -> row count, the same moment as the copy


def kind_of(url: str) -> Kind:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


# --- SQLite -------------------------------------------------------------------------------------


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_facts(conn: sqlite3.Connection) -> tuple[str | None, dict[str, int]]:
    tables = _sqlite_tables(conn)
    rows = {t: conn.execute(f"SELECT count(*) FROM {_quote(t)}").fetchone()[0] for t in tables}
    revision = None
    if VERSION_TABLE in tables:
        got = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
        revision = got[0] if got else None
    return revision, rows


def _integrity(conn: sqlite3.Connection, what: str) -> None:
    result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    if result != ["ok"]:
        raise DumpError(f"{what} failed SQLite's integrity check: {'; '.join(result[:3])}")


def _sqlite_snapshot(source: Path, dest: Path) -> Snapshot:
    if not source.is_file():
        raise DumpError(f"the SQLite database {source} does not exist (DATABASE_URL)")
    with closing(sqlite3.connect(source, timeout=30)) as src:
        with closing(sqlite3.connect(dest)) as dst:
            src.backup(dst)  # pages=-1: every page in one step, one consistent moment
    with closing(sqlite3.connect(dest, isolation_level=None)) as dst:
        dst.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
        _integrity(dst, "the copy")
        revision, rows = _sqlite_facts(dst)
    return Snapshot("sqlite", revision, rows)


def _sqlite_state(target: Path) -> State:
    if not target.exists() or target.stat().st_size == 0:
        return "empty"
    with closing(sqlite3.connect(target, timeout=30)) as conn:
        tables = _sqlite_tables(conn)
        for t in tables:
            if t != VERSION_TABLE and conn.execute(f"SELECT 1 FROM {_quote(t)} LIMIT 1").fetchone():
                return "data"
    return "schema" if tables else "empty"


def _sqlite_restore(source: Path, target: Path) -> None:
    """Copy `source` over `target` page by page through the backup API, which goes through
    SQLite's own locking and journal (a WAL file beside the target is handled, not left stale);
    the tables the target had are gone afterwards."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as src:
        _integrity(src, "the backup's database file")
        with closing(sqlite3.connect(target, timeout=30)) as dst:
            src.backup(dst)
    with closing(sqlite3.connect(target)) as dst:
        _integrity(dst, "the restored database")
    os.chmod(target, 0o600)


def _sqlite_rows(target: Path) -> tuple[str | None, dict[str, int]]:
    with closing(sqlite3.connect(target, timeout=30)) as conn:
        return _sqlite_facts(conn)


# --- PostgreSQL -----------------------------------------------------------------------------------


def libpq_env(url: str) -> dict[str, str]:
    """DATABASE_URL as libpq's environment variables (for pg_dump / pg_restore)."""
    u = make_url(url)
    env: dict[str, str] = {}
    query: dict[str, Any] = dict(u.query)
    host = u.host or query.get("host")
    for name, value in (
        ("PGHOST", host),
        ("PGPORT", u.port),
        ("PGUSER", u.username),
        ("PGPASSWORD", u.password),
        ("PGDATABASE", u.database),
    ):
        if value:
            env[name] = str(value)
    ssl = query.get("sslmode") or query.get("ssl")
    if isinstance(ssl, str) and ssl:
        env["PGSSLMODE"] = {"true": "require", "false": "disable"}.get(ssl.lower(), ssl)
    return env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DumpError(
            f"{name} is not installed: install PostgreSQL's client programs "
            "(apt-get install postgresql-client, the server's major version or newer)"
        )
    return path


async def _run(argv: list[str], url: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env={**os.environ, **libpq_env(url)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        tail = " | ".join(err.decode(errors="replace").strip().splitlines()[-5:])
        raise DumpError(f"{Path(argv[0]).name} failed (exit {proc.returncode}): {tail}")


@asynccontextmanager
async def _pg(url: str):
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            yield conn
    except (OSError, sa.exc.DBAPIError) as e:
        reason = _reason(e)
        if "does not exist" in reason:
            reason += " (create it first: createdb, or CREATE DATABASE ... OWNER ...)"
        raise DumpError(f"cannot use the PostgreSQL database: {reason}") from None
    finally:
        await engine.dispose()


def _reason(e: BaseException) -> str:
    orig = getattr(e, "orig", None) or e
    return f"{type(orig).__name__}: {str(orig).strip().splitlines()[0] if str(orig) else ''}"


async def _pg_tables(conn: AsyncConnection) -> list[str]:
    result = await conn.execute(
        sa.text(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
            "ORDER BY table_name"
        )
    )
    return [r[0] for r in result]


async def _pg_facts(conn: AsyncConnection) -> tuple[str | None, dict[str, int]]:
    tables = await _pg_tables(conn)
    rows = {}
    for t in tables:
        rows[t] = int(await conn.scalar(sa.text(f"SELECT count(*) FROM {_quote(t)}")) or 0)
    revision = None
    if VERSION_TABLE in tables:
        revision = await conn.scalar(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))
    return revision, rows


async def _pg_snapshot(url: str, dest: Path) -> Snapshot:
    pg_dump = _tool("pg_dump")
    async with _pg(url) as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            snapshot_id = await conn.scalar(sa.text("SELECT pg_export_snapshot()"))
            revision, rows = await _pg_facts(conn)
            # The transaction stays open while pg_dump reads the exported snapshot.
            await _run(
                [
                    pg_dump,
                    "--format=custom",
                    f"--snapshot={snapshot_id}",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={dest}",
                ],
                url,
            )
    return Snapshot("postgresql", revision, rows)


async def _pg_state(url: str) -> State:
    async with _pg(url) as conn:
        tables = await _pg_tables(conn)
        for t in tables:
            if t != VERSION_TABLE and await conn.scalar(
                sa.text(f"SELECT 1 FROM {_quote(t)} LIMIT 1")
            ):
                return "data"
    return "schema" if tables else "empty"


async def _pg_restore(source: Path, url: str, *, clean: bool) -> None:
    pg_restore = _tool("pg_restore")
    database = make_url(url).database
    argv = [
        pg_restore,
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        *(["--clean", "--if-exists"] if clean else []),
        f"--dbname={database}",
        str(source),
    ]
    await _run(argv, url)
    async with _pg(url) as conn:  # fresh statistics: the planner must not guess on big tables
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text("ANALYZE"))


async def _pg_rows(url: str) -> tuple[str | None, dict[str, int]]:
    async with _pg(url) as conn:
        return await _pg_facts(conn)


# --- the API services/backup.py uses ----------------------------------------------------------------


def dump_name(kind: Kind) -> str:
    """The database's file name inside a backup."""
    return "database.sqlite3" if kind == "sqlite" else "database.pgdump"


async def snapshot(url: str, dest: Path) -> Snapshot:
    """Write a consistent copy of the database at `url` to `dest` (a new file)."""
    if kind_of(url) == "sqlite":
        return await asyncio.to_thread(_sqlite_snapshot, Path(sqlite_path(url)), dest)
    return await _pg_snapshot(url, dest)


async def state(url: str) -> State:
    if kind_of(url) == "sqlite":
        return await asyncio.to_thread(_sqlite_state, Path(sqlite_path(url)))
    return await _pg_state(url)


async def restore(source: Path, url: str, *, replace: bool) -> None:
    """Load the copy at `source` into the database at `url`. `replace`: objects already there
    are dropped first (PostgreSQL; SQLite's copy replaces every page anyway)."""
    if kind_of(url) == "sqlite":
        await asyncio.to_thread(_sqlite_restore, source, Path(sqlite_path(url)))
    else:
        await _pg_restore(source, url, clean=replace)


async def facts(url: str) -> tuple[str | None, dict[str, int]]:
    """(Alembic revision, rows per table) of the database at `url` now."""
    if kind_of(url) == "sqlite":
        return await asyncio.to_thread(_sqlite_rows, Path(sqlite_path(url)))
    return await _pg_rows(url)


def known_revisions() -> Iterator[str]:
    """Every revision this code's migrations know (a backup from a newer Jaring is not)."""
    from alembic.script import ScriptDirectory

    from db.migrate import alembic_config

    for script in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions():
        yield script.revision


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    from db.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
