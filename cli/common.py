"""Shared plumbing for staff commands: reference data, a database, the clock."""
from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")


def now() -> datetime:
    return datetime.now(timezone.utc)


def wib(when: datetime) -> str:
    return when.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M WIB")


@asynccontextmanager
async def staff_env(settings):
    """(programs, region, database, deps) for one command; the database is closed afterwards."""
    from bot import load_reference
    from conversations.deps import Deps
    from db.database import Database

    programs, region = load_reference(settings)
    db = Database(settings.database_url)
    deps = Deps(programs, region, settings.jaring_default_locale,
                settings.jaring_hash_key.get_secret_value().encode())
    try:
        yield programs, region, db, deps
    finally:
        await db.dispose()
