"""`python bot.py staff add|list|disable|enable`: dashboard accounts.

The password is read without echo (getpass), or from stdin with --password-stdin (scripts);
never from the command line, where it would land in the shell history.
"""

from __future__ import annotations

import getpass
import sys

from cli import CommandError
from cli.common import wib
from db.database import Database
from domain.clock import utcnow
from services.staff import ROLES, AuthError, add_staff, list_staff, set_active


def add_parsers(sub) -> None:
    p = sub.add_parser("staff", help="dashboard accounts for Dinsos staff")
    ss = p.add_subparsers(dest="staff_cmd", required=True)
    a = ss.add_parser("add", help="create an account")
    a.add_argument("username")
    a.add_argument("--name", required=True, help="full name shown in the dashboard")
    a.add_argument("--role", required=True, choices=ROLES)
    a.add_argument(
        "--kelurahan",
        default=None,
        help="operator only: the kelurahan (name or Kemendagri code) they work on",
    )
    a.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    a.set_defaults(handler=cmd_add)
    ls = ss.add_parser("list", help="list accounts")
    ls.set_defaults(handler=cmd_list)
    for name, active in (("disable", False), ("enable", True)):
        d = ss.add_parser(name, help=f"{name} an account (disable also ends its sessions)")
        d.add_argument("username")
        d.set_defaults(handler=cmd_set_active, active=active)


def _read_password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Kata sandi: ")
    if first != getpass.getpass("Ulangi kata sandi: "):
        raise CommandError("Kedua kata sandi tidak sama.")
    return first


async def _db(settings):
    return Database(settings.database_url)


async def cmd_add(settings, args) -> int:
    from core.reference import load_reference

    _, region = load_reference(settings.jaring_programs, settings.jaring_region)
    code = None
    if args.kelurahan:
        kel = region.find_kelurahan(args.kelurahan)
        if kel is None:
            raise CommandError(f"Kelurahan tidak dikenal: {args.kelurahan}")
        code = kel.code
    password = _read_password(args)
    db = await _db(settings)
    try:
        async with db.tx() as c:
            await add_staff(
                c,
                username=args.username,
                name=args.name,
                role=args.role,
                password=password,
                kelurahan_code=code,
                now=utcnow(),
                actor="cli:staff",
            )
    except AuthError as e:
        raise CommandError(str(e)) from e
    finally:
        await db.dispose()
    print(f"Akun {args.username.lower()} ({args.role}) dibuat.")
    return 0


async def cmd_list(settings, args) -> int:
    db = await _db(settings)
    try:
        async with db.tx(write=False) as c:
            rows = await list_staff(c)
    finally:
        await db.dispose()
    if not rows:
        print(
            "Belum ada akun petugas. Buat dengan: python bot.py staff add NAMA --name ... --role admin"
        )
        return 0
    for r in rows:
        state = "aktif" if r.active else "nonaktif"
        last = wib(r.last_login_at) if r.last_login_at else "belum pernah masuk"
        kel = f" kelurahan {r.kelurahan_code}" if r.kelurahan_code else ""
        print(f"{r.username:<20} {r.role:<12}{kel} {state:<9} {r.name} · {last}")
    return 0


async def cmd_set_active(settings, args) -> int:
    db = await _db(settings)
    try:
        async with db.tx() as c:
            await set_active(c, args.username, args.active, now=utcnow(), actor="cli:staff")
    except AuthError as e:
        raise CommandError(str(e)) from e
    finally:
        await db.dispose()
    print(f"Akun {args.username.lower()} {'diaktifkan' if args.active else 'dinonaktifkan'}.")
    return 0
