"""`python bot.py uep list [--status S] | show ID | approve ID | reject ID --reason "..."`"""

from __future__ import annotations

import sys

from cli import CommandError
from cli.common import add_review_commands, staff_env, wib
from db import kube_store as store
from domain.clock import utcnow as now
from domain.nik import mask

DURATION = {"lt1": "kurang dari 1 tahun", "1to3": "1–3 tahun", "gt3": "lebih dari 3 tahun"}


def add_parsers(sub) -> None:
    add_review_commands(
        sub,
        "uep",
        "UEP: daftar, detail, setujui, tolak pengajuan",
        handlers=sys.modules[__name__],
        statuses="DIAJUKAN, DISETUJUI, DITOLAK",
        helps={
            "list": "daftar pengajuan UEP",
            "show": "detail satu pengajuan",
            "approve": "setujui pengajuan",
            "reject": "tolak pengajuan, dengan alasan",
        },
    )


async def cmd_list(settings, args) -> int:
    async with staff_env(settings) as (_p, _r, db, _d):
        async with db.tx(write=False) as c:
            rows = await store.list_uep(c, args.status)
    if not rows:
        print("Tidak ada pengajuan UEP.")
        return 0
    print(f"{'ID':>4}  {'STATUS':<10} {'TANGGAL':<20} {'NAMA':<28} USAHA")
    for a in rows:
        print(
            f"{a.id:>4}  {a.status:<10} {wib(a.created_at):<20} {a.nama[:28]:<28} {a.business[:40]}"
        )
    return 0


async def cmd_show(settings, args) -> int:
    async with staff_env(settings) as (_p, _r, db, _d):
        async with db.tx(write=False) as c:
            a = await store.uep(c, args.id)
    if a is None:
        raise CommandError(f"Pengajuan UEP {args.id} tidak ditemukan.")
    print(f"UEP {a.id}: {a.nama} (NIK {mask(a.nik)})")
    print(
        f"Diajukan: {wib(a.created_at)} · Status: {a.status}"
        + (f" (alasan: {a.reason})" if a.reason else "")
    )
    print(f"Usaha: {a.business}")
    print(f"Sudah berjalan: {DURATION.get(a.duration, a.duration)}")
    print(f"Bantuan untuk: {a.needs}")
    return 0


async def _decide(settings, args, approve: bool) -> int:
    from services.uep import decide

    reason = (getattr(args, "reason", None) or "").strip() or None
    if not approve and not reason:
        raise CommandError("Alasan penolakan wajib diisi (--reason).")
    async with staff_env(settings) as (_p, _r, db, deps):
        async with db.tx() as c:
            problem, ids = await decide(
                c, deps, app_id=args.id, approve=approve, reason=reason, now=now()
            )
    if problem == "not_found":
        raise CommandError(f"Pengajuan UEP {args.id} tidak ditemukan.")
    if problem == "not_submitted":
        raise CommandError(f"Pengajuan UEP {args.id} sudah diputuskan sebelumnya.")
    print(
        f"UEP {args.id} {'DISETUJUI' if approve else 'DITOLAK'}; pemohon diberi tahu ({len(ids)} pesan)."
    )
    return 0


async def cmd_approve(settings, args) -> int:
    return await _decide(settings, args, True)


async def cmd_reject(settings, args) -> int:
    return await _decide(settings, args, False)
