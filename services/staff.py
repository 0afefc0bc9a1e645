"""Dashboard staff accounts: create, enable, disable (the CLI's `staff` commands and the demo
seed), and the password rules and hashing the dashboard's login checks against.

Passwords: argon2id through argon2-cffi (`PasswordHasher` defaults; web/auth.py rehashes on
login when the parameters change). The caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from db import staff_store
from db.audit import audit

ROLES = ("admin", "verifikator", "operator")
MIN_PASSWORD = 10
HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    return HASHER.hash("jaring-no-such-user")


class AuthError(ValueError):
    """A staff account problem for the CLI (unknown user, bad role, weak password)."""


def check_password_strength(password: str, username: str) -> str | None:
    """A reason in Bahasa Indonesia when the password is too weak, else None."""
    if len(password) < MIN_PASSWORD:
        return f"Kata sandi minimal {MIN_PASSWORD} karakter."
    if username.lower() in password.lower():
        return "Kata sandi tidak boleh memuat nama pengguna."
    if len(set(password)) < 5:
        return "Kata sandi terlalu mudah ditebak."
    return None


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Unknown usernames (stored None) cost the same verify, so timing tells nothing."""
    try:
        return HASHER.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return HASHER.check_needs_rehash(stored)


async def add_staff(
    conn,
    *,
    username: str,
    name: str,
    role: str,
    password: str,
    kelurahan_code: str | None,
    now: datetime,
    actor: str,
) -> int:
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise AuthError("Nama pengguna hanya huruf, angka, titik, garis bawah atau tanda hubung.")
    if role not in ROLES:
        raise AuthError(f"Peran harus salah satu dari: {', '.join(ROLES)}.")
    if role == "operator" and not kelurahan_code:
        raise AuthError("Operator kelurahan perlu --kelurahan.")
    if role != "operator" and kelurahan_code:
        raise AuthError("Hanya operator yang dibatasi satu kelurahan; hapus --kelurahan.")
    weak = check_password_strength(password, username)
    if weak:
        raise AuthError(weak)
    if await staff_store.user_id(conn, username) is not None:
        raise AuthError(f"Nama pengguna {username} sudah ada.")
    uid = await staff_store.add_user(
        conn,
        username=username,
        name=name.strip() or username,
        role=role,
        kelurahan_code=kelurahan_code,
        password_hash=hash_password(password),
        now=now,
    )
    await audit(
        conn, actor, "staff.add", username, {"role": role, "kelurahan": kelurahan_code}, now=now
    )
    return uid


async def set_active(conn, username: str, active: bool, *, now: datetime, actor: str) -> None:
    username = username.strip().lower()
    uid = await staff_store.user_id(conn, username)
    if uid is None:
        raise AuthError(f"Tidak ada petugas dengan nama pengguna {username}.")
    await staff_store.update_user(conn, uid, active=active)
    if not active:  # signed out everywhere at once
        await staff_store.delete_sessions_of(conn, uid)
    await audit(conn, actor, "staff.enable" if active else "staff.disable", username, None, now=now)


async def list_staff(conn):
    """Every account, by username."""
    return await staff_store.all_users(conn)
