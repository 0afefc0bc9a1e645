"""Dashboard staff accounts: create, enable, disable, change and reset a password (the CLI's
`staff` commands, the dashboard's "Ganti kata sandi" page and the demo seed), and the password
rules and hashing the dashboard's login checks against.

Passwords: argon2id through argon2-cffi (`PasswordHasher` defaults; web/auth.py rehashes on
login when the parameters change). A reset sets a one-time password and `must_change_password`:
after login such an account reaches only the change page (web/auth.py). A change or a reset
ends the account's other sessions. The caller owns the transaction. docs/staff.md.
"""

from __future__ import annotations

import secrets
import unicodedata
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from db import staff_store
from db.audit import audit

ROLES = ("admin", "verifikator", "operator")
MIN_PASSWORD = 10
# One-time passwords from `staff reset`: no look-alike characters (0/o, 1/l/i), read aloud safely.
OTP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
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


def normalise_username(username: str) -> str:
    """One spelling per account, for creating, finding, and the login lock: NFKC (full-width
    and other compatibility forms fold), surrounding spaces dropped, lower case."""
    return unicodedata.normalize("NFKC", username).strip().lower()


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
    username = normalise_username(username)
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
    username = normalise_username(username)
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


async def _account(conn, username: str):
    username = normalise_username(username)
    row = await staff_store.user(conn, username)
    if row is None:
        raise AuthError(f"Tidak ada petugas dengan nama pengguna {username}.")
    return row


async def change_password(
    conn,
    username: str,
    new: str,
    *,
    now: datetime,
    actor: str,
    old: str | None = None,
    keep_session: str | None = None,
) -> None:
    """Set a new password (same rules as `staff add`). `old`, when given, must be the current
    one (the dashboard page asks for it; `staff passwd` on the server does not). Ends every
    session of the account except `keep_session` (the token hash of the page's own session)."""
    row = await _account(conn, username)
    if old is not None and not verify_password(row.password_hash, old):
        raise AuthError("Kata sandi lama salah.")
    weak = check_password_strength(new, row.username)
    if weak:
        raise AuthError(weak)
    if verify_password(row.password_hash, new):
        raise AuthError("Kata sandi baru harus berbeda dari kata sandi sekarang.")
    await staff_store.update_user(
        conn, row.id, password_hash=hash_password(new), must_change_password=False
    )
    await staff_store.delete_sessions_of(conn, row.id, keep=keep_session)
    await audit(conn, actor, "staff.passwd", row.username, None, now=now)


def one_time_password(username: str) -> str:
    """Twelve characters in three groups (xxxx-xxxx-xxxx) that pass the strength rules."""
    while True:
        raw = "".join(secrets.choice(OTP_ALPHABET) for _ in range(12))
        pw = f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
        if check_password_strength(pw, username) is None:
            return pw


async def reset_password(conn, username: str, *, now: datetime, actor: str) -> str:
    """A one-time password for the account (returned once, stored only as its hash); the
    account must choose a new password after its next login, and every session ends now."""
    row = await _account(conn, username)
    pw = one_time_password(row.username)
    await staff_store.update_user(
        conn, row.id, password_hash=hash_password(pw), must_change_password=True
    )
    await staff_store.delete_sessions_of(conn, row.id)
    await audit(conn, actor, "staff.reset", row.username, None, now=now)
    return pw
