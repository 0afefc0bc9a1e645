"""Small dialect-aware helpers so the same statements run on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(conn, table: sa.Table):
    """INSERT ... ON CONFLICT DO NOTHING for the connection's dialect."""
    mod = postgresql if conn.dialect.name == "postgresql" else sqlite
    return mod.insert(table).on_conflict_do_nothing()
