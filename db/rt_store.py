"""Ketua RT heads: invitations, activation, revocation, and who is the active head of an area or
a conversation. The caller owns the transaction."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from db.schema import rt_heads

HC = rt_heads.c


async def invite(
    conn,
    *,
    kelurahan_code: str,
    rw: str,
    rt_no: str,
    code_hash: str,
    actor: str,
    now: datetime,
    expires_at: datetime,
) -> int:
    """A new head row, DIUNDANG until the code is used; its id."""
    return (
        await conn.execute(
            sa.insert(rt_heads)
            .values(
                kelurahan_code=kelurahan_code,
                rw=rw,
                rt=rt_no,
                status="DIUNDANG",
                code_hash=code_hash,
                created_by=actor,
                created_at=now,
                expires_at=expires_at,
            )
            .returning(HC.id)
        )
    ).scalar_one()


async def get(conn, head_id: int):
    return (await conn.execute(sa.select(rt_heads).where(HC.id == head_id))).first()


async def by_code_hash(conn, code_hash: str):
    """The head row with this code, locked (FOR UPDATE on PostgreSQL), or None."""
    return (
        await conn.execute(sa.select(rt_heads).where(HC.code_hash == code_hash).with_for_update())
    ).first()


async def revoke(conn, head_id: int, now: datetime) -> None:
    await conn.execute(
        sa.update(rt_heads).where(HC.id == head_id).values(status="DICABUT", revoked_at=now)
    )


async def active_of_area(conn, kelurahan_code: str, rw: str, rt: str):
    """Every active head of this RT (at most one, unless something went wrong)."""
    return (
        await conn.execute(
            sa.select(rt_heads).where(
                HC.kelurahan_code == kelurahan_code, HC.rw == rw, HC.rt == rt, HC.status == "AKTIF"
            )
        )
    ).all()


async def first_active_of_area(conn, kelurahan_code: str, rw: str, rt: str):
    return (
        await conn.execute(
            sa.select(rt_heads)
            .where(
                HC.kelurahan_code == kelurahan_code, HC.rw == rw, HC.rt == rt, HC.status == "AKTIF"
            )
            .limit(1)
        )
    ).first()


async def activate(conn, head_id: int, conversation_id: int, now: datetime) -> bool:
    """DIUNDANG -> AKTIF for this conversation; False when someone else was first."""
    res = await conn.execute(
        sa.update(rt_heads)
        .where(HC.id == head_id, HC.status == "DIUNDANG")
        .values(status="AKTIF", conversation_id=conversation_id, activated_at=now)
    )
    return res.rowcount == 1


async def active_of_conversation(conn, conversation_id: int):
    """The newest active head row of this conversation, or None."""
    return (
        await conn.execute(
            sa.select(rt_heads)
            .where(HC.conversation_id == conversation_id, HC.status == "AKTIF")
            .order_by(HC.id.desc())
            .limit(1)
        )
    ).first()


async def has_active(conn, conversation_id: int) -> bool:
    return (
        await conn.scalar(
            sa.select(HC.id)
            .where(HC.conversation_id == conversation_id, HC.status == "AKTIF")
            .limit(1)
        )
        is not None
    )
