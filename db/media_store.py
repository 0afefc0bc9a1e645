"""The images residents send, on every channel (table `media`): the statements channels,
reports and retention use. The caller owns the transaction; `now` comes from the caller.

A row is claimed as "pending" when the photo event is stored, then finished as "stored"
(file written by core/media.py), "rejected" (not an acceptable image) or "failed".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from db.schema import media, report_photos, reports

M = media.c

# INSERT ... ON CONFLICT DO NOTHING RETURNING, per dialect (built once).
_CLAIM = {
    "postgresql": postgresql.insert(media).on_conflict_do_nothing().returning(M.media_id),
    "sqlite": sqlite.insert(media).on_conflict_do_nothing().returning(M.media_id),
}
_GET = sa.select(media).where(
    M.channel == sa.bindparam("channel"), M.media_id == sa.bindparam("media_id")
)
_PENDING = (
    sa.select(M.media_id)
    .where(M.channel == sa.bindparam("channel"), M.status == "pending")
    .order_by(M.created_at)
)
_STORED_PATH = sa.select(M.path).where(M.ref == sa.bindparam("ref"), M.status == "stored").limit(1)

MEDIA_ID_MAX = 255


async def claim(
    conn,
    *,
    channel: str,
    media_id: str,
    ref: str,
    user_key: str,
    now: datetime,
    message_id: str | None = None,
    mime: str | None = None,
) -> bool:
    """Record an image to fetch as "pending". False when the channel already has this media id
    (the same photo again, or a redelivery): then there is nothing to fetch."""
    stmt = _CLAIM[conn.dialect.name]
    res = await conn.execute(
        stmt,
        {
            "channel": channel,
            "media_id": media_id[:MEDIA_ID_MAX],
            "ref": ref[:MEDIA_ID_MAX],
            "message_id": message_id,
            "user_key": user_key,
            "status": "pending",
            "mime": mime,
            "attempts": 0,
            "created_at": now,
        },
    )
    return res.first() is not None


async def get(conn, channel: str, media_id: str):
    """The row of one image (all columns), or None."""
    return (
        await conn.execute(_GET, {"channel": channel, "media_id": media_id[:MEDIA_ID_MAX]})
    ).first()


async def pending(conn, channel: str) -> list[str]:
    """Media ids of a channel still to fetch (e.g. interrupted by a restart), oldest first."""
    return [r[0] for r in await conn.execute(_PENDING, {"channel": channel})]


async def finish(
    conn,
    channel: str,
    media_id: str,
    *,
    status: str,
    now: datetime,
    attempts: int,
    error: str | None = None,
    mime: str | None = None,
    size: int | None = None,
    sha256: str | None = None,
    path: str | None = None,
) -> None:
    """Record the outcome of fetching an image. `mime`, `size`, `sha256` and `path` are written
    only when given; `error` always (None clears it), cut to the column's 250 characters."""
    values: dict[str, Any] = {
        "status": status,
        "attempts": attempts,
        "done_at": now,
        "error": (error or None) and error[:250],
    }
    for name, v in (("mime", mime), ("size", size), ("sha256", sha256), ("path", path)):
        if v is not None:
            values[name] = v
    await conn.execute(
        sa.update(media)
        .where(M.channel == channel, M.media_id == media_id[:MEDIA_ID_MAX])
        .values(**values)
    )


async def stored_path(conn, ref: str) -> str | None:
    """Where the stored file of a photo ref (report_photos.ref) is, on any channel."""
    return await conn.scalar(_STORED_PATH, {"ref": ref})


def stored_path_of(ref: sa.ColumnElement) -> sa.ScalarSelect:
    """`stored_path` as a correlated scalar subquery, for other stores' SELECTs:
    `sa.select(report_photos.c.ref, stored_path_of(report_photos.c.ref).label("path"))`."""
    return sa.select(M.path).where(M.ref == ref, M.status == "stored").limit(1).scalar_subquery()


async def purge_before(conn, cutoff: datetime) -> list[str]:
    """Retention: delete the rows of images received before `cutoff`, except those an open
    report (state not SELESAI) still shows. Returns the paths of their files that no newer
    image shares (files are named by content hash): the caller deletes those files."""
    open_refs = (
        sa.select(report_photos.c.ref)
        .join(reports, reports.c.id == report_photos.c.report_id)
        .where(reports.c.state != "SELESAI")
    )
    old = (
        await conn.execute(
            sa.select(M.channel, M.media_id, M.path, M.sha256).where(
                M.created_at < cutoff, M.ref.not_in(open_refs)
            )
        )
    ).all()
    paths: list[str] = []
    for row in old:
        if row.path and row.path not in paths and not await _shared_since(conn, row.sha256, cutoff):
            paths.append(row.path)
    for row in old:
        await conn.execute(
            sa.delete(media).where(M.channel == row.channel, M.media_id == row.media_id)
        )
    return paths


async def _shared_since(conn, sha256: str | None, cutoff: datetime) -> bool:
    """Whether an image received at or after `cutoff` has the same content (hence file)."""
    if not sha256:
        return False
    n = await conn.scalar(
        sa.select(sa.func.count())
        .select_from(media)
        .where(M.sha256 == sha256, M.created_at >= cutoff)
    )
    return bool(n)
