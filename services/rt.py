"""Ketua RT heads, what staff and the flow both do: invitation codes (cli/rt.py, web/rt.py),
revocation, and activation with a code (conversations/rt.py). The caller owns the transaction.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from db import conversation_store
from db import rt_store as store
from db.audit import audit
from domain import reports as R
from services.reports import code_hash

INVITE_DAYS = 14
_RT_CODE = re.compile(r"^RT[\s\-]?([0-9A-Z]{4})[\s\-]?([0-9A-Z]{4})$")


def new_invite_code() -> str:
    pick = "".join(secrets.choice(R.ALPHABET) for _ in range(8))
    return f"RT-{pick[:4]}-{pick[4:]}"


def normalize_invite_code(text: str) -> str | None:
    m = _RT_CODE.match((text or "").strip().upper())
    return f"RT-{m.group(1)}-{m.group(2)}" if m else None


async def invite(
    conn, *, kelurahan_code: str, rw: str, rt_no: str, actor: str, now: datetime
) -> tuple[int, str]:
    code = new_invite_code()
    rid = await store.invite(
        conn,
        kelurahan_code=kelurahan_code,
        rw=rw,
        rt_no=rt_no,
        code_hash=code_hash(code),
        actor=actor,
        now=now,
        expires_at=now + timedelta(days=INVITE_DAYS),
    )
    await audit(
        conn,
        actor,
        "rt.invite",
        f"rt_heads:{rid}",
        {"kelurahan": kelurahan_code, "rw": rw, "rt": rt_no},
        now=now,
    )
    return rid, code


async def revoke(conn, head_id: int, *, actor: str, now: datetime) -> bool:
    row = await store.get(conn, head_id)
    if row is None or row.status == "DICABUT":
        return False
    await store.revoke(conn, head_id, now)
    if row.conversation_id:
        await _drop_role_if_no_head(conn, row.conversation_id)
    await audit(conn, actor, "rt.revoke", f"rt_heads:{head_id}", now=now)
    return True


async def _drop_role_if_no_head(conn, conversation_id: int) -> None:
    if not await store.has_active(conn, conversation_id):
        await conversation_store.set_role(conn, conversation_id, "warga")


async def activate(conn, code: str, conversation_id: int, now: datetime):
    """The head row now active for this conversation, or None for a wrong, used, revoked or
    expired code (one answer for all, like the NIK check)."""
    row = await store.by_code_hash(conn, code_hash(code))
    if row is None or row.status != "DIUNDANG" or row.expires_at <= now:
        return None
    # One active head per RT: a new head replaces the previous one (a handover).
    previous = await store.active_of_area(conn, row.kelurahan_code, row.rw, row.rt)
    for p in previous:
        await store.revoke(conn, p.id, now)
    if not await store.activate(conn, row.id, conversation_id, now):
        return None
    for p in previous:
        if p.conversation_id and p.conversation_id != conversation_id:
            await _drop_role_if_no_head(conn, p.conversation_id)
    await audit(
        conn, f"conversation:{conversation_id}", "rt.activate", f"rt_heads:{row.id}", now=now
    )
    return await store.get(conn, row.id)
