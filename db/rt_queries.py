"""The staff's read side of ketua RT heads and invitations (dashboard and CLI lists)."""

from __future__ import annotations

import sqlalchemy as sa

from db.schema import rt_heads

HC = rt_heads.c


async def heads(
    conn, *, kelurahan: str | None = None, include_revoked: bool = False, limit: int | None = None
):
    """Heads and invitations by kelurahan, RW, RT; revoked ones only when asked."""
    q = sa.select(rt_heads).order_by(HC.kelurahan_code, HC.rw, HC.rt, HC.id)
    if kelurahan is not None:
        q = q.where(HC.kelurahan_code == kelurahan)
    if not include_revoked:
        q = q.where(HC.status != "DICABUT")
    if limit is not None:
        q = q.limit(limit)
    return (await conn.execute(q)).all()


async def head(conn, head_id: int):
    return (await conn.execute(sa.select(rt_heads).where(HC.id == head_id))).first()
