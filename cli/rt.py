"""Staff commands for ketua RT: `rt invite`, `rt list`, `rt revoke`.

  python bot.py rt invite --kelurahan "Tegal Gundil" --rw 7 --rt 3 [--by NAMA]
  python bot.py rt list [--kelurahan K] [--all]
  python bot.py rt revoke ID [--by NAMA]

The activation code is printed once and stored only as a hash; it works once, for 14 days.
"""

from __future__ import annotations

import getpass
from datetime import UTC

from cli import CommandError
from db import rt_queries
from db.database import Database
from domain.clock import wib
from domain.reports import normalize_rt_rw


def add_parsers(sub) -> None:
    p = sub.add_parser("rt", help="ketua RT: undangan, daftar, cabut")
    rsub = p.add_subparsers(dest="rt_cmd", required=True)
    inv = rsub.add_parser("invite", help="buat kode aktivasi sekali pakai untuk ketua RT")
    inv.add_argument("--kelurahan", required=True, help="kode atau nama kelurahan")
    inv.add_argument("--rw", required=True)
    inv.add_argument("--rt", required=True)
    inv.add_argument("--by", default=None, help="nama petugas (default: pengguna sistem)")
    inv.set_defaults(handler=cmd_invite)
    ls = rsub.add_parser("list", help="daftar ketua RT dan undangan")
    ls.add_argument("--kelurahan", default=None)
    ls.add_argument("--all", action="store_true", help="termasuk yang sudah dicabut")
    ls.set_defaults(handler=cmd_list)
    rv = rsub.add_parser("revoke", help="cabut ketua RT atau undangan")
    rv.add_argument("id", type=int)
    rv.add_argument("--by", default=None)
    rv.set_defaults(handler=cmd_revoke)


def actor(args) -> str:
    return f"staff:{args.by or getpass.getuser()}"


def kelurahan(region, text: str):
    kel = region.find_kelurahan(text)
    if kel is None:
        raise CommandError(f"Kelurahan tidak dikenal: {text}")
    return kel


def rt_rw(value: str, what: str) -> str:
    got = normalize_rt_rw(value)
    if got is None:
        raise CommandError(f"{what} harus angka 1–999: {value}")
    return got


async def _open(settings):
    from core.reference import load_reference

    _programs, region = load_reference(settings.jaring_programs, settings.jaring_region)
    return Database(settings.database_url), region


def _now():
    from datetime import datetime

    return datetime.now(UTC)


async def cmd_invite(settings, args) -> int:
    from services.rt import INVITE_DAYS, invite

    db, region = await _open(settings)
    try:
        kel = kelurahan(region, args.kelurahan)
        rw, rt = rt_rw(args.rw, "RW"), rt_rw(args.rt, "RT")
        async with db.tx() as c:
            rid, code = await invite(
                c, kelurahan_code=kel.code, rw=rw, rt_no=rt, actor=actor(args), now=_now()
            )
    finally:
        await db.dispose()
    print(f"Undangan ketua RT #{rid}: RT {int(rt)} RW {int(rw)}, Kelurahan {kel.name}.")
    print(f"Kode aktivasi (sekali pakai, berlaku {INVITE_DAYS} hari): {code}")
    print('Ketua RT mengirim kode ini ke Jaring (menu "Saya ketua RT" atau ketik langsung).')
    return 0


async def cmd_list(settings, args) -> int:
    db, region = await _open(settings)
    try:
        code = kelurahan(region, args.kelurahan).code if args.kelurahan else None
        async with db.tx(write=False) as c:
            rows = await rt_queries.heads(c, kelurahan=code, include_revoked=args.all)
    finally:
        await db.dispose()
    if not rows:
        print("Tidak ada ketua RT atau undangan.")
        return 0
    print(f"{'ID':>4}  {'STATUS':<9} {'KELURAHAN':<22} {'RW':>3} {'RT':>3}  SEJAK")
    for r in rows:
        kel = region.kelurahan_by_code(r.kelurahan_code)
        since = r.activated_at or r.created_at
        print(
            f"{r.id:>4}  {r.status:<9} {(kel.name if kel else r.kelurahan_code):<22} "
            f"{int(r.rw):>3} {int(r.rt):>3}  {wib(since, '%Y-%m-%d')}"
        )
    return 0


async def cmd_revoke(settings, args) -> int:
    from services.rt import revoke

    db, _region = await _open(settings)
    try:
        async with db.tx() as c:
            done = await revoke(c, args.id, actor=actor(args), now=_now())
    finally:
        await db.dispose()
    if not done:
        raise CommandError(f"Tidak ditemukan atau sudah dicabut: #{args.id}")
    print(f"Dicabut: #{args.id}.")
    return 0
