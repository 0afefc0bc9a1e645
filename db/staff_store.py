"""Dashboard staff: accounts, sessions (by the sha256 of their token) and failed logins."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from db.schema import login_failures, staff_sessions, staff_users

U, S, F = staff_users.c, staff_sessions.c, login_failures.c

_sel_session = (
    sa.select(
        S.token_hash,
        S.csrf,
        S.last_seen_at,
        S.expires_at,
        U.id,
        U.username,
        U.name,
        U.role,
        U.kelurahan_code,
        U.must_change_password,
    )
    .join(staff_users, U.id == S.user_id)
    .where(S.token_hash == sa.bindparam("h"), U.active.is_(True))
)
_touch_session = (
    sa.update(staff_sessions)
    .where(S.token_hash == sa.bindparam("h"))
    .values(last_seen_at=sa.bindparam("now"))
)


# --------------------------------------------------------------------------- accounts


async def user_id(conn, username: str) -> int | None:
    return await conn.scalar(sa.select(U.id).where(U.username == username))


async def user(conn, username: str):
    """The whole account row (with its password hash), or None."""
    return (await conn.execute(sa.select(staff_users).where(U.username == username))).first()


async def all_users(conn):
    return (await conn.execute(sa.select(staff_users).order_by(U.username))).all()


async def active_users(conn):
    """(id, name) of the active accounts, by name: whom a ticket can be assigned to."""
    return (
        await conn.execute(sa.select(U.id, U.name).where(U.active.is_(True)).order_by(U.name))
    ).all()


async def add_user(
    conn,
    *,
    username: str,
    name: str,
    role: str,
    kelurahan_code: str | None,
    password_hash: str,
    now: datetime,
) -> int:
    return (
        await conn.execute(
            sa.insert(staff_users)
            .values(
                username=username,
                name=name,
                role=role,
                kelurahan_code=kelurahan_code,
                password_hash=password_hash,
                active=True,
                created_at=now,
            )
            .returning(U.id)
        )
    ).scalar_one()


async def update_user(conn, uid: int, **values) -> None:
    """Set columns of one account (active, last_login_at, password_hash, must_change_password)."""
    await conn.execute(sa.update(staff_users).where(U.id == uid).values(**values))


# --------------------------------------------------------------------------- sessions


async def session(conn, token_hash: str):
    """The session and its (active) account, or None."""
    return (await conn.execute(_sel_session, {"h": token_hash})).first()


async def touch_session(conn, token_hash: str, now: datetime) -> None:
    await conn.execute(_touch_session, {"h": token_hash, "now": now})


async def add_session(
    conn, *, token_hash: str, user_id: int, csrf: str, now: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        sa.insert(staff_sessions).values(
            token_hash=token_hash,
            user_id=user_id,
            csrf=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
        )
    )


async def delete_session(conn, token_hash: str) -> None:
    await conn.execute(sa.delete(staff_sessions).where(S.token_hash == token_hash))


async def delete_sessions_of(conn, uid: int, *, keep: str | None = None) -> None:
    """End the account's sessions, all of them or all but the one with token hash `keep`."""
    where = [S.user_id == uid]
    if keep is not None:
        where.append(S.token_hash != keep)
    await conn.execute(sa.delete(staff_sessions).where(*where))


async def delete_expired_sessions(conn, now: datetime) -> None:
    await conn.execute(sa.delete(staff_sessions).where(S.expires_at <= now))


# --------------------------------------------------------------------------- failed logins


async def add_login_failure(conn, key: str, now: datetime) -> None:
    await conn.execute(sa.insert(login_failures).values(key=key, at=now))


async def recent_failures(conn, key: str, since: datetime, limit: int) -> list[datetime]:
    """The times of the newest `limit` failures for this key after `since`, newest first."""
    return [
        r[0]
        for r in await conn.execute(
            sa.select(F.at).where(F.key == key, F.at > since).order_by(F.at.desc()).limit(limit)
        )
    ]
