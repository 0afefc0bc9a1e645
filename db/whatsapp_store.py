"""WhatsApp's own rows: contacts (the BSUID / wa_id link and the 24-hour window), Meta's delivery
statuses (media: db/media_store.py). The caller owns the transaction; the statements of the
webhook's hot path are built once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from db.schema import wa_contacts, wa_statuses

C = wa_contacts.c


def _insert_ignore(table: sa.Table, *returning) -> dict[str, Any]:
    """INSERT ... ON CONFLICT DO NOTHING [RETURNING ...], one per dialect."""
    out: dict[str, Any] = {}
    for name, mod in (("sqlite", sqlite), ("postgresql", postgresql)):
        stmt = mod.insert(table).on_conflict_do_nothing()
        out[name] = stmt.returning(*returning) if returning else stmt
    return out


# --- contacts -------------------------------------------------------------------------------

_by_address = (
    sa.select(wa_contacts)
    .where(
        sa.or_(
            C.address == sa.bindparam("a"),
            C.bsuid == sa.bindparam("a"),
            C.wa_id == sa.bindparam("a"),
        )
    )
    .limit(1)
)
_by_ids = sa.select(wa_contacts).where(
    sa.or_(C.bsuid == sa.bindparam("b"), C.wa_id == sa.bindparam("w"))
)
_by_ids_first = _by_ids.limit(1)
_by_key = sa.select(wa_contacts).where(C.user_key == sa.bindparam("uk"))
_insert_contact = _insert_ignore(wa_contacts)
_unlink_wa_id = (
    sa.update(wa_contacts)
    .where(C.user_key == sa.bindparam("uk"))
    .values(wa_id=None, updated_at=sa.bindparam("now"))
)
_close_window = (
    sa.update(wa_contacts)
    .where(C.user_key == sa.bindparam("uk"))
    .values(window_closed_at=sa.bindparam("at"))
)
_template_sent = {  # only while the window start is still the one the hold saw
    last_in_is_null: sa.update(wa_contacts)
    .where(
        C.user_key == sa.bindparam("uk"),
        C.last_inbound_at.is_(None)
        if last_in_is_null
        else C.last_inbound_at == sa.bindparam("last_in"),
    )
    .values(template_sent_at=sa.bindparam("now"))
    for last_in_is_null in (False, True)
}


def _touch_newer_stmt(has_bsuid: bool, has_wa_id: bool):
    """The row still has these ids and address, and this message is newer than its window start
    and than any close by Meta: move the window (rowcount 0: none such)."""
    cond = [
        C.user_key == sa.bindparam("uk"),
        C.address == sa.bindparam("a"),
        sa.or_(C.last_inbound_at.is_(None), C.last_inbound_at < sa.bindparam("sent")),
        sa.or_(C.window_closed_at.is_(None), C.window_closed_at <= sa.bindparam("sent")),
    ]
    if has_bsuid:
        cond.append(C.bsuid == sa.bindparam("b"))
    if has_wa_id:
        cond.append(C.wa_id == sa.bindparam("w"))
    return (
        sa.update(wa_contacts)
        .where(*cond)
        .values(
            last_inbound_at=sa.bindparam("sent"),
            template_sent_at=None,
            window_closed_at=None,
            updated_at=sa.bindparam("now"),
        )
    )


_touch_newer = {(b, w): _touch_newer_stmt(b, w) for b in (False, True) for w in (False, True)}


async def contact_by_address(conn, address: str):
    """The contact whose address, BSUID or wa_id is `address` (a row), or None."""
    return (await conn.execute(_by_address, {"a": address})).first()


async def contact_by_key(conn, user_key: str):
    return (await conn.execute(_by_key, {"uk": user_key})).first()


async def contacts_by_ids(conn, bsuid: str | None, wa_id: str | None) -> list:
    """Every contact with this BSUID or this wa_id (at most two rows)."""
    return (await conn.execute(_by_ids, {"b": bsuid, "w": wa_id})).all()


async def contact_by_ids(conn, bsuid: str | None, wa_id: str | None):
    """One contact with this BSUID or this wa_id, or None."""
    return (await conn.execute(_by_ids_first, {"b": bsuid, "w": wa_id})).first()


async def touch_newer(
    conn,
    user_key: str,
    address: str,
    bsuid: str | None,
    wa_id: str | None,
    sent: datetime,
    now: datetime,
) -> bool:
    """A known user wrote again (one statement): when the row still has this address (and these
    ids, those given) and `sent` is newer than its window start and than any close by Meta, the
    window starts at `sent` and the template may go again. False: nothing changed."""
    res = await conn.execute(
        _touch_newer[(bool(bsuid), bool(wa_id))],
        {"uk": user_key, "a": address, "b": bsuid, "w": wa_id, "sent": sent, "now": now},
    )
    return res.rowcount == 1


async def insert_contact(
    conn,
    user_key: str,
    bsuid: str | None,
    wa_id: str | None,
    address: str,
    last_inbound_at: datetime,
    now: datetime,
) -> None:
    """A new contact (nothing if the user key, BSUID or wa_id is taken meanwhile)."""
    await conn.execute(
        _insert_contact[conn.dialect.name],
        dict(
            user_key=user_key,
            bsuid=bsuid,
            wa_id=wa_id,
            address=address,
            last_inbound_at=last_inbound_at,
            template_sent_at=None,
            updated_at=now,
        ),
    )


async def unlink_wa_id(conn, user_key: str, now: datetime) -> None:
    """The wa_id moved to another contact (the one its BSUID names)."""
    await conn.execute(_unlink_wa_id, {"uk": user_key, "now": now})


async def update_contact(conn, user_key: str, **values: Any) -> None:
    """Set these columns of a contact (the webhook's full path: ids, address, window)."""
    await conn.execute(sa.update(wa_contacts).where(C.user_key == user_key).values(**values))


async def close_window(conn, user_key: str, at: datetime) -> None:
    """Meta said the window is closed (131047) at `at`."""
    await conn.execute(_close_window, {"uk": user_key, "at": at})


async def template_sent(
    conn, user_key: str, last_inbound_at: datetime | None, now: datetime
) -> None:
    """The "reply waiting" template went out, unless the user wrote since (their message moved
    last_inbound_at and cleared template_sent_at)."""
    await conn.execute(
        _template_sent[last_inbound_at is None],
        {"uk": user_key, "last_in": last_inbound_at, "now": now},
    )


# --- delivery statuses ----------------------------------------------------------------------

_insert_status = _insert_ignore(wa_statuses, wa_statuses.c.id)


async def insert_status(
    conn,
    wamid: str,
    status: str,
    at: datetime | None,
    error_code: int | None,
    error_title: str | None,
    now: datetime,
) -> bool:
    """One (wamid, status) from Meta; False when it was recorded already (a redelivery)."""
    res = await conn.execute(
        _insert_status[conn.dialect.name],
        dict(
            wamid=wamid,
            status=status,
            at=at,
            error_code=error_code,
            error_title=error_title,
            received_at=now,
        ),
    )
    return res.first() is not None
