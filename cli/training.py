"""Staff commands for skills training (times are Asia/Jakarta):

python bot.py training add --title ... --sector ... --organiser ... --kecamatan ... --place ...
    --start "YYYY-MM-DD HH:MM" --days N --quota N --deadline YYYY-MM-DD --desil-max N
    --age MIN-MAX [--priority] [--notes ...]
python bot.py training import FILE.csv   (header: the same fields, `start`, `desil_max`,
    `age`, `priority` as 1/0; every row is checked first, nothing is imported when one is bad)
python bot.py training list
python bot.py training participants ID [--csv]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from cli import CommandError
from cli.common import staff_env, wib
from db import training_store as store
from db.audit import audit
from domain import training as T
from domain.clock import JAKARTA
from domain.clock import utcnow as now
from domain.nik import mask

STATUS_ID = {
    T.CONFIRMED: "DITERIMA",
    T.WAITLIST: "CADANGAN",
    T.PENDING: "MENUNGGU SELEKSI",
    T.CANCELLED: "BATAL",
}


def add_parsers(sub) -> None:
    p = sub.add_parser("training", help="pelatihan: tambah, impor, daftar, peserta")
    ts = p.add_subparsers(dest="training_cmd", required=True)
    a = ts.add_parser("add", help="tambah satu sesi pelatihan")
    for name in (
        "title",
        "sector",
        "organiser",
        "kecamatan",
        "place",
        "start",
        "days",
        "quota",
        "deadline",
        "desil-max",
        "age",
    ):
        a.add_argument(f"--{name}", required=True)
    a.add_argument(
        "--priority", action="store_true", help="prioritas DTSEN: kursi dibagi saat batas daftar"
    )
    a.add_argument("--notes", default=None)
    a.set_defaults(handler=cmd_add)
    i = ts.add_parser("import", help="impor sesi dari CSV")
    i.add_argument("file")
    i.set_defaults(handler=cmd_import)
    ts.add_parser("list", help="daftar sesi").set_defaults(handler=cmd_list)
    pp = ts.add_parser("participants", help="peserta satu sesi")
    pp.add_argument("id", type=int)
    pp.add_argument("--csv", action="store_true", help="tulis CSV ke stdout")
    pp.set_defaults(handler=cmd_participants)


def _parse(row: dict, programs, region):
    def find(text: str):
        k = region.find_kecamatan(text)
        return k.code if k else None

    return T.parse_session(
        row,
        sectors=[o.code for o in programs.training_sectors],
        find_kecamatan=find,
        today=now().astimezone(JAKARTA).date(),
    )


async def cmd_add(settings, args) -> int:
    row = {
        "title": args.title,
        "sector": args.sector,
        "organiser": args.organiser,
        "kecamatan": args.kecamatan,
        "place": args.place,
        "start": args.start,
        "days": args.days,
        "quota": args.quota,
        "deadline": args.deadline,
        "desil_max": args.desil_max,
        "age": args.age,
        "priority": "1" if args.priority else "0",
        "notes": args.notes,
    }
    async with staff_env(settings) as (programs, region, db, _d):
        spec = _parse(row, programs, region)
        if isinstance(spec, list):
            raise CommandError("Sesi tidak ditambahkan:\n" + "\n".join(f"  {e}" for e in spec))
        async with db.tx() as c:
            sid = await store.add_session(c, spec, now())
            await audit(c, "cli:training", "training.add", f"training:{sid}", now=now())
    print(f"Sesi {sid} ditambahkan: {spec.title}, mulai {wib(spec.starts_at)}, kuota {spec.quota}.")
    return 0


async def cmd_import(settings, args) -> int:
    path = Path(args.file)
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise CommandError(f"Berkas tidak bisa dibaca: {path} ({e.strerror})") from None
    async with staff_env(settings) as (programs, region, db, _d):
        specs, errors = [], []
        for n, row in enumerate(rows, start=2):  # line 1 is the header
            spec = _parse(row, programs, region)
            if isinstance(spec, list):
                errors += [f"baris {n}: {e}" for e in spec]
            else:
                specs.append(spec)
        if errors or not specs:
            raise CommandError(
                "\n".join(errors or ["Berkas tidak berisi sesi."])
                + "\nTidak ada yang diimpor. Perbaiki lalu ulangi."
            )
        async with db.tx() as c:
            ids = [await store.add_session(c, s, now()) for s in specs]
            await audit(
                c,
                "cli:training",
                "training.import",
                f"training:{ids[0]}-{ids[-1]}",
                {"file": path.name, "sessions": len(ids)},
                now=now(),
            )
    print(f"Impor selesai: {len(ids)} sesi (ID {ids[0]}–{ids[-1]}).")
    return 0


async def cmd_list(settings, args) -> int:
    async with staff_env(settings) as (programs, region, db, _d):
        async with db.tx(write=False) as c:
            rows = await store.all_sessions(c)
            counts = await store.counts(c)
    if not rows:
        print("Belum ada sesi pelatihan.")
        return 0
    print(
        f"{'ID':>4}  {'MULAI':<20} {'KUOTA':>5} {'DITERIMA':>8} {'CADANGAN':>8} {'SELEKSI':>7}  "
        f"{'BATAS':<10} {'KECAMATAN':<14} JUDUL"
    )
    for s in rows:
        n = counts.get(s.id, {})
        kec = region.kecamatan_by_code(s.kecamatan_code)
        print(
            f"{s.id:>4}  {wib(s.starts_at):<20} {s.quota:>5} {n.get(T.CONFIRMED, 0):>8} "
            f"{n.get(T.WAITLIST, 0):>8} {n.get(T.PENDING, 0):>7}  {s.deadline.isoformat():<10} "
            f"{(kec.name if kec else s.kecamatan_code):<14} {s.title}"
            + (" [prioritas DTSEN]" if s.priority else "")
        )
    return 0


async def cmd_participants(settings, args) -> int:
    async with staff_env(settings) as (_p, _r, db, _d):
        async with db.tx(write=False) as c:
            s = await store.session(c, args.id)
            if s is None:
                raise CommandError(f"Sesi {args.id} tidak ditemukan.")
            rows = await store.participants(c, args.id)
    if args.csv:
        w = csv.writer(sys.stdout)
        w.writerow(
            [
                "kode",
                "status",
                "nama",
                "nik",
                "jenis_kelamin",
                "tanggal_lahir",
                "desil",
                "waktu_daftar",
            ]
        )
        for r in rows:
            w.writerow(
                [
                    r.code,
                    STATUS_ID.get(r.status, r.status),
                    r.nama,
                    mask(r.nik),
                    r.jenis_kelamin,
                    r.tanggal_lahir.isoformat(),
                    r.desil,
                    wib(r.registered_at),
                ]
            )
        return 0
    print(f"Sesi {s.id}: {s.title}, mulai {wib(s.starts_at)}, kuota {s.quota}")
    if not rows:
        print("Belum ada pendaftar.")
    for i, r in enumerate(rows, 1):
        print(
            f"  {i:>3}. {r.code}  {STATUS_ID.get(r.status, r.status):<16} {r.nama:<30} "
            f"NIK {mask(r.nik)}  desil {r.desil}  {wib(r.registered_at)}"
        )
    return 0
