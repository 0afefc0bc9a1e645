"""The history of DTSEN imports (data_imports), for the dashboard's import page."""

from __future__ import annotations

import sqlalchemy as sa

from db.schema import data_imports


async def recent_imports(conn, limit: int):
    """The newest imports first."""
    return (
        await conn.execute(sa.select(data_imports).order_by(data_imports.c.id.desc()).limit(limit))
    ).all()
