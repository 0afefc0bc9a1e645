"""The understanding layer's misses (table nlu_misses): recorded on the engine's "not
understood" path, read by the dashboard's /nlu page and `bot.py nlu misses`, purged by
retention. The text arrives MASKED (domain/masking.py); the caller owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from db.schema import nlu_misses

M = nlu_misses.c
# Hot path (a resident's message): built once.
_INSERT = sa.insert(nlu_misses)


async def add_miss(
    conn,
    *,
    now: datetime,
    channel: str,
    locale: str | None,
    flow: str,
    step: str,
    text: str,
    normalized: str,
) -> None:
    """One miss, already masked (cut to the columns' sizes here too)."""
    await conn.execute(
        _INSERT,
        {
            "at": now,
            "channel": channel[:16],
            "locale": (locale or None) and locale[:8],
            "flow": flow[:32],
            "step": step[:32],
            "text": text[:500],
            "normalized": normalized[:500],
        },
    )


@dataclass(slots=True)
class MissGroup:
    """The misses with one normalised text: how many, the newest example and where they were."""

    normalized: str
    count: int
    text: str  # the newest example as typed (masked)
    at: datetime  # the newest
    channel: str
    locale: str | None
    places: list[tuple[str, int]] = field(default_factory=list)  # ("menu/main", 3), most first


async def groups(conn, *, since: datetime, limit: int = 200) -> list[MissGroup]:
    """Misses since `since` grouped by normalised text, most frequent first (then newest),
    at most `limit` groups."""
    agg = (
        sa.select(
            M.normalized,
            sa.func.count().label("n"),
            sa.func.max(M.id).label("last_id"),
        )
        .where(M.at >= since)
        .group_by(M.normalized)
        .subquery()
    )
    q = (
        sa.select(agg.c.n, M.normalized, M.text, M.at, M.channel, M.locale)
        .join(agg, M.id == agg.c.last_id)
        .order_by(agg.c.n.desc(), M.id.desc())
        .limit(limit)
    )
    out = [
        MissGroup(r.normalized, int(r.n), r.text, r.at, r.channel, r.locale)
        for r in await conn.execute(q)
    ]
    if not out:
        return out
    by_norm = {g.normalized: g for g in out}
    places = (
        sa.select(M.normalized, M.flow, M.step, sa.func.count().label("n"))
        .where(M.at >= since, M.normalized.in_(list(by_norm)))
        .group_by(M.normalized, M.flow, M.step)
        .order_by(sa.func.count().desc(), M.flow, M.step)
    )
    for r in await conn.execute(places):
        by_norm[r.normalized].places.append((f"{r.flow}/{r.step}", int(r.n)))
    return out


async def count_since(conn, since: datetime) -> int:
    """How many misses since `since`."""
    q = sa.select(sa.func.count()).select_from(nlu_misses).where(M.at >= since)
    return int((await conn.execute(q)).scalar_one())


async def purge_before(conn, cutoff: datetime) -> int:
    """Delete the misses recorded before `cutoff` (retention). How many."""
    res = await conn.execute(sa.delete(nlu_misses).where(M.at < cutoff))
    return res.rowcount or 0
