"""The one way to write the audit log: who did what to which thing, when (never a NIK)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from db.schema import audit_log


async def audit(conn, actor: str, action: str, subject: str | None = None,
                detail: dict[str, Any] | None = None, *, now: datetime) -> None:
    """In the caller's transaction. actor: "staff:ani", "cli:training", "system:sla" ..."""
    await conn.execute(sa.insert(audit_log).values(
        at=now, actor=actor[:128], action=action[:64], subject=(subject or None) and subject[:128],
        detail=detail))
