"""`python bot.py kube list [--status S] | show ID | approve ID | reject ID --reason "..."`

Staff decide on submitted KUBE proposals; every member is told in their own language and
channel (queued in the outbox in the decision's transaction; the running service sends it).
"""

from __future__ import annotations

import sys

from cli import CommandError
from cli.common import add_review_commands, staff_env, wib
from db import kube_store as store
from domain import kube as K
from domain.clock import utcnow as now
from domain.nik import mask

ROLE_ID = {
    K.KETUA: "ketua",
    K.SEKRETARIS: "sekretaris",
    K.BENDAHARA: "bendahara",
    K.ANGGOTA: "anggota",
}
ACTION_ID = {
    "created": "dibentuk",
    "joined": "bergabung",
    "left": "keluar",
    "removed": "dikeluarkan",
    "role": "ditunjuk",
    "submitted": "diajukan",
    "approved": "disetujui",
    "rejected": "ditolak",
}


def add_parsers(sub) -> None:
    add_review_commands(
        sub,
        "kube",
        "KUBE: daftar, detail, setujui, tolak usulan",
        handlers=sys.modules[__name__],
        statuses="DRAFT, DIAJUKAN, DISETUJUI, DITOLAK",
        helps={
            "list": "daftar KUBE",
            "show": "detail satu KUBE",
            "approve": "setujui KUBE yang diajukan",
            "reject": "tolak KUBE yang diajukan, dengan alasan",
        },
    )


async def cmd_list(settings, args) -> int:
    async with staff_env(settings) as (programs, region, db, _deps):
        async with db.tx(write=False) as c:
            rows = await store.list_groups(c, args.status)
    if not rows:
        print("Tidak ada KUBE.")
        return 0
    print(f"{'ID':>4}  {'STATUS':<10} {'ANGGOTA':>7}  {'KELURAHAN':<18} NAMA")
    for g in rows:
        kel = region.kelurahan_by_code(g.kelurahan_code)
        print(
            f"{g.id:>4}  {g.status:<10} {g.member_count:>7}  "
            f"{(kel.name if kel else g.kelurahan_code):<18} {g.name}"
        )
    return 0


async def cmd_show(settings, args) -> int:
    async with staff_env(settings) as (programs, region, db, _deps):
        async with db.tx(write=False) as c:
            g = await store.group(c, args.id)
            if g is None:
                raise CommandError(f"KUBE {args.id} tidak ditemukan.")
            members = await store.members(c, g.id)
            events = await store.events(c, g.id)
    kel = region.kelurahan_by_code(g.kelurahan_code)
    btype = next(
        (o.label for o in programs.business_types if o.code == g.business_type), g.business_type
    )
    print(f"KUBE {g.id}: {g.name}")
    print(f"Usaha: {btype} · Kelurahan: {kel.name if kel else g.kelurahan_code} · Kode: {g.code}")
    print(f"Status: {g.status}" + (f" (alasan: {g.reason})" if g.reason else ""))
    print(
        f"Anggota ({len(members)}, syarat {programs.kube_min_members}–{programs.kube_max_members}):"
    )
    for i, m in enumerate(members, 1):
        print(f"  {i:>2}. {m.nama:<30} NIK {mask(m.nik)}  {ROLE_ID[m.role]}")
    print("Riwayat:")
    for e in events:
        who = f" {e.nama}" if e.nama else ""
        detail = f" ({e.detail})" if e.detail else ""
        print(f"  {wib(e.at)}  {ACTION_ID.get(e.action, e.action)}{who}{detail} [{e.actor}]")
    return 0


async def _decide(settings, args, approve: bool) -> int:
    from services.kube import decide

    reason = (getattr(args, "reason", None) or "").strip() or None
    if not approve and not reason:
        raise CommandError("Alasan penolakan wajib diisi (--reason).")
    async with staff_env(settings) as (_p, _r, db, deps):
        async with db.tx() as c:
            problem, ids = await decide(
                c, deps, group_id=args.id, approve=approve, reason=reason, now=now()
            )
    if problem == "not_found":
        raise CommandError(f"KUBE {args.id} tidak ditemukan.")
    if problem == "not_submitted":
        raise CommandError(f"KUBE {args.id} tidak berstatus DIAJUKAN; tidak bisa diputuskan.")
    print(
        f"KUBE {args.id} {'DISETUJUI' if approve else 'DITOLAK'}; {len(ids)} anggota diberi tahu."
    )
    return 0


async def cmd_approve(settings, args) -> int:
    return await _decide(settings, args, True)


async def cmd_reject(settings, args) -> int:
    return await _decide(settings, args, False)
