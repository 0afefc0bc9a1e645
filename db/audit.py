"""The one way to write the audit log: who did what to which thing, when (never a NIK)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from db.schema import audit_log


async def audit(
    conn,
    actor: str,
    action: str,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
    *,
    now: datetime,
) -> None:
    """In the caller's transaction. actor: "staff:ani", "cli:training", "system:sla" ..."""
    await conn.execute(
        sa.insert(audit_log).values(
            at=now,
            actor=actor[:128],
            action=action[:64],
            subject=(subject or None) and subject[:128],
            detail=detail,
        )
    )


async def recent(conn, *, actor: str = "", action: str = "", limit: int = 200):
    """The newest entries, newest first: `actor` contains, `action` starts with (both literal)."""
    A = audit_log.c
    q = sa.select(audit_log).order_by(A.id.desc()).limit(limit)
    if actor:
        q = q.where(A.actor.contains(actor, autoescape=True))
    if action:
        q = q.where(A.action.startswith(action, autoescape=True))
    return (await conn.execute(q)).all()


async def counts_since(conn, action_prefix: str, since: datetime) -> dict[str, int]:
    """How many entries per action (those starting with `action_prefix`) since `since`."""
    A = audit_log.c
    q = (
        sa.select(A.action, sa.func.count())
        .where(A.action.startswith(action_prefix, autoescape=True), A.at >= since)
        .group_by(A.action)
    )
    return {a: n for a, n in (await conn.execute(q)).all()}
