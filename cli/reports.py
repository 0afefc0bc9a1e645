"""Staff commands for the verification queue.

  python bot.py reports list [--state S] [--category C] [--kelurahan K] [--due-before YYYY-MM-DD] [--overdue]
  python bot.py reports show CODE [--reveal]
  python bot.py reports move CODE STATE [--outcome O] [--note TEXT | --reason TEXT] [--by NAMA]
  python bot.py reports export [--format csv|xlsx] [--out FILE]

NIK and No. KK are masked everywhere except `show --reveal` and `export`; each of those accesses
is written to audit_log. A move is a conditional UPDATE on the state and version that were read,
so two officers moving one report at once end with one move and one clear refusal. The reporter's
message is queued in the same transaction; the running service sends it within about a second.
"""
from __future__ import annotations

import csv
import getpass
import io
import sys
from datetime import date, datetime, time, timezone

import sqlalchemy as sa

from cli import CommandError
from db.audit import audit
from domain import reports as R

MOVE_PROBLEMS = {
    "unknown_state": "Status tidak dikenal: {detail}. Pilihan: " + ", ".join(R.STATES),
    "not_allowed": "Perpindahan tidak diizinkan: {detail}",
    "outcome_needed": "SELESAI perlu --outcome (" + ", ".join(R.OUTCOMES) + ")",
    "unknown_outcome": "Hasil tidak dikenal: {detail}. Pilihan: " + ", ".join(R.OUTCOMES),
    "outcome_not_allowed": "Hasil tidak diizinkan dari status ini: {detail}",
    "outcome_unexpected": "--outcome hanya untuk SELESAI",
    "reason_needed": "DITOLAK perlu alasan (--reason)",
    "changed": "Laporan {detail} baru saja diubah petugas lain. Lihat lagi dengan `reports show`.",
}
EXPORT_COLUMNS = ("NO", "KODE_LAPORAN", "JENIS_USULAN", "NIK", "NO_KK", "NAMA", "ALAMAT", "RT",
                  "RW", "KODE_KELURAHAN", "KELURAHAN", "KECAMATAN", "ALASAN", "KETERANGAN",
                  "LINTANG", "BUJUR", "PENDAPAT_RT", "STATUS", "TANGGAL_LAPOR")


def add_parsers(sub) -> None:
    p = sub.add_parser("reports", help="laporan data: daftar, lihat, pindah status, ekspor")
    rs = p.add_subparsers(dest="reports_cmd", required=True)
    ls = rs.add_parser("list", help="daftar laporan")
    ls.add_argument("--state", type=str.upper, default=None)
    ls.add_argument("--category", type=str.upper, default=None)
    ls.add_argument("--kelurahan", default=None)
    ls.add_argument("--due-before", type=date.fromisoformat, default=None)
    ls.add_argument("--overdue", action="store_true", help="melewati tenggat dan belum selesai")
    ls.set_defaults(handler=cmd_list)
    sh = rs.add_parser("show", help="rincian satu laporan")
    sh.add_argument("code")
    sh.add_argument("--reveal", action="store_true", help="tampilkan NIK/No. KK lengkap (dicatat)")
    sh.add_argument("--by", default=None)
    sh.set_defaults(handler=cmd_show)
    mv = rs.add_parser("move", help="pindahkan status laporan")
    mv.add_argument("code")
    mv.add_argument("state", type=str.upper)
    mv.add_argument("--outcome", type=str.upper, default=None)
    mv.add_argument("--note", default=None)
    mv.add_argument("--reason", default=None, help="alasan (wajib untuk DITOLAK)")
    mv.add_argument("--by", default=None)
    mv.set_defaults(handler=cmd_move)
    ex = rs.add_parser("export", help="ekspor laporan terverifikasi untuk input SIKS-NG")
    ex.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    ex.add_argument("--out", default=None)
    ex.add_argument("--by", default=None)
    ex.set_defaults(handler=cmd_export)


def actor(args) -> str:
    return f"staff:{args.by or getpass.getuser()}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _open(settings):
    from core.reference import load_reference
    from db.database import Database

    programs, region = load_reference(settings.jaring_programs, settings.jaring_region)
    return Database(settings.database_url), programs, region


def _code(text: str) -> str:
    code = R.normalize_code(text)
    if code is None:
        raise CommandError(f"Kode laporan tidak valid: {text}")
    return code


def _d(dt: datetime | None) -> str:
    from domain.clock import JAKARTA

    return dt.astimezone(JAKARTA).strftime("%Y-%m-%d") if dt else "-"


# --- list ----------------------------------------------------------------------------------

async def cmd_list(settings, args) -> int:
    from db.schema import reports

    db, _programs, region = await _open(settings)
    RC = reports.c
    q = sa.select(reports).order_by(RC.due_at, RC.id)
    if args.state:
        if args.state not in R.STATES:
            raise CommandError(f"Status tidak dikenal: {args.state}")
        q = q.where(RC.state == args.state)
    if args.category:
        if args.category not in R.CATEGORIES:
            raise CommandError(f"Jenis tidak dikenal: {args.category}")
        q = q.where(RC.category == args.category)
    if args.kelurahan:
        kel = region.find_kelurahan(args.kelurahan)
        if kel is None:
            raise CommandError(f"Kelurahan tidak dikenal: {args.kelurahan}")
        q = q.where(RC.kelurahan_code == kel.code)
    if args.due_before:
        from domain.clock import JAKARTA

        q = q.where(RC.due_at < datetime.combine(args.due_before, time(), JAKARTA),
                    RC.state != R.SELESAI)
    if args.overdue:
        q = q.where(RC.due_at < _now(), RC.state != R.SELESAI)
    try:
        async with db.tx(write=False) as c:
            rows = (await c.execute(q)).all()
    finally:
        await db.dispose()
    if not rows:
        print("Tidak ada laporan.")
        return 0
    print(f"{'KODE':<14} {'JENIS':<9} {'STATUS':<18} {'KELURAHAN':<20} {'RT/RW':<8} "
          f"{'DIBUAT':<10} TENGGAT")
    for r in rows:
        kel = region.kelurahan_by_code(r.kelurahan_code)
        status = f"{r.state}/{r.outcome}" if r.outcome else r.state
        rtrw = f"{int(r.rt)}/{int(r.rw)}" if r.rt and r.rw else "-"
        print(f"{r.code:<14} {r.category:<9} {status:<18} "
              f"{(kel.name if kel else r.kelurahan_code)[:20]:<20} {rtrw:<8} "
              f"{_d(r.created_at):<10} {_d(r.due_at)}")
    print(f"{len(rows)} laporan.")
    return 0


# --- show ----------------------------------------------------------------------------------

async def cmd_show(settings, args) -> int:
    from services.reports import by_code
    from db.schema import (households, people, report_events, report_photos,
                           tg_media, wa_media)
    from domain.nik import mask

    code = _code(args.code)
    db, _programs, region = await _open(settings)
    show = (lambda v: v or "-") if args.reveal else (lambda v: mask(v) if v else "-")
    try:
        async with db.tx(write=args.reveal) as c:
            r = await by_code(c, code)
            if r is None:
                raise CommandError(f"Laporan tidak ditemukan: {code}")
            reporter = None
            if r.reporter_person_id:
                reporter = (await c.execute(sa.select(people.c.nama, people.c.nik).where(
                    people.c.id == r.reporter_person_id))).first()
            head = None
            if r.household_id:
                head = (await c.execute(
                    sa.select(people.c.nama, people.c.nik, households.c.no_kk, households.c.alamat)
                    .join(households, households.c.id == people.c.household_id)
                    .where(people.c.household_id == r.household_id)
                    .order_by(people.c.hubungan != "KEPALA_KELUARGA", people.c.id).limit(1))).first()
            events = (await c.execute(sa.select(report_events).where(
                report_events.c.report_id == r.id).order_by(report_events.c.id))).all()
            photos = (await c.execute(
                sa.select(report_photos.c.kind, report_photos.c.channel, report_photos.c.ref,
                          sa.func.coalesce(wa_media.c.path, tg_media.c.path).label("path"))
                .outerjoin(wa_media, sa.and_(wa_media.c.ref == report_photos.c.ref,
                                             wa_media.c.status == "stored"))
                .outerjoin(tg_media, sa.and_(tg_media.c.file_id == report_photos.c.ref,
                                             tg_media.c.status == "stored"))
                .where(report_photos.c.report_id == r.id).order_by(report_photos.c.id))).all()
            if args.reveal:
                await audit(c, actor(args), "reports.reveal", code, now=_now())
    finally:
        await db.dispose()
    kel = region.kelurahan_by_code(r.kelurahan_code)
    out = [f"Laporan {r.code} · {r.category}",
           f"Status      : {r.state}" + (f" ({r.outcome})" if r.outcome else ""),
           f"Dibuat      : {_d(r.created_at)}   Tenggat: {_d(r.due_at)}",
           f"Wilayah     : Kelurahan {kel.name if kel else r.kelurahan_code}"
           + (f", RW {int(r.rw)} RT {int(r.rt)}" if r.rw and r.rt else "")]
    if head:
        out.append(f"Sasaran     : keluarga pelapor sendiri — {head.nama}, {head.alamat}")
        out.append(f"              NIK {show(head.nik)} · No. KK {show(head.no_kk)}")
    else:
        out.append(f"Sasaran     : {r.target_name or '-'}, {r.target_address or '-'}")
        if r.target_nik or r.target_kk:
            out.append(f"              NIK {show(r.target_nik)} · No. KK {show(r.target_kk)}")
    out.append(f"Alasan      : {r.reason or '-'}" + (f" — {r.detail}" if r.detail else ""))
    if r.lat is not None:
        out.append(f"Lokasi      : {r.lat:.6f}, {r.lon:.6f}")
    out.append(f"Pelapor     : {r.reporter_role}"
               + (f" — {reporter.nama} (NIK {show(reporter.nik)})" if reporter else
                  " — belum dicocokkan"))
    if r.rt_opinion:
        out.append(f"Pendapat RT : {r.rt_opinion}")
    for p in {(p.kind, p.ref): p for p in photos}.values():  # one line per photo
        out.append(f"Foto        : {p.kind} · {p.channel} · {p.path or p.ref}")
    out.append("Riwayat:")
    for e in events:
        move = f"{e.from_state or ''} -> {e.to_state}" if e.to_state else ""
        out.append(f"  {e.at:%Y-%m-%d %H:%M} UTC  {e.actor:<16} {e.action:<10} {move}"
                   + (f" [{e.outcome}]" if e.outcome else "") + (f" — {e.note}" if e.note else ""))
    print("\n".join(out))
    return 0


# --- move ----------------------------------------------------------------------------------

async def move_code(db, programs, code: str, to: str, *, outcome: str | None, note: str | None,
                    actor: str, now: datetime) -> list[int]:
    """One staff move in its own transaction; raises CommandError with a line for staff."""
    from services import reports as ops

    try:
        async with db.tx() as c:
            r = await ops.by_code(c, code)
            if r is None:
                raise CommandError(f"Laporan tidak ditemukan: {code}")
            if to == R.VERIFIKASI_RT and await ops.active_head_for_area(
                    c, r.kelurahan_code, r.rw, r.rt) is None:
                raise CommandError(f"Tidak ada ketua RT aktif untuk RT/RW laporan {code}.")
            ids = await ops.move(c, r, to, now=now, actor=actor, outcome=outcome, note=note,
                                 rt_due=R.rt_due_at(now, programs.sla.rt_answer_days))
            # The same audit entry as a move from the dashboard (web/reports.py).
            await audit(c, actor, "reports.move", r.code,
                        {"from": r.state, "to": to, "outcome": outcome or None}, now=now)
            return ids
    except ops.ReportError as e:
        raise CommandError(MOVE_PROBLEMS.get(e.code, e.code).format(detail=e.detail)) from None


async def cmd_move(settings, args) -> int:
    code = _code(args.code)
    db, programs, _region = await _open(settings)
    try:
        ids = await move_code(db, programs, code, args.state, outcome=args.outcome,
                              note=args.reason or args.note, actor=actor(args), now=_now())
    finally:
        await db.dispose()
    print(f"{code} dipindahkan ke {args.state}"
          + (f" ({args.outcome})" if args.outcome else "")
          + f". Pesan ke pelapor diantrekan: {len(ids)}.")
    return 0


# --- export --------------------------------------------------------------------------------

async def export_rows(conn, region) -> list[dict]:
    """Reports Dinsos verified: forwarded, or closed as accepted. One row per report."""
    from db.schema import households, people, reports

    RC = reports.c
    rows = (await conn.execute(sa.select(reports).where(sa.or_(
        RC.state == R.DITERUSKAN, sa.and_(RC.state == R.SELESAI, RC.outcome == R.DISETUJUI)))
        .order_by(RC.kelurahan_code, RC.rw, RC.rt, RC.id))).all()
    out = []
    for i, r in enumerate(rows, 1):
        nik, kk, nama, alamat = r.target_nik, r.target_kk, r.target_name, r.target_address
        if r.household_id:
            h = (await conn.execute(
                sa.select(people.c.nama, people.c.nik, households.c.no_kk, households.c.alamat)
                .join(households, households.c.id == people.c.household_id)
                .where(people.c.household_id == r.household_id)
                .order_by(people.c.hubungan != "KEPALA_KELUARGA", people.c.id).limit(1))).first()
            if h:
                nik, kk, nama, alamat = h.nik, h.no_kk, h.nama, h.alamat
        kel = region.kelurahan_by_code(r.kelurahan_code)
        kec = region.kecamatan_by_code(kel.kecamatan_code) if kel else None
        out.append(dict(zip(EXPORT_COLUMNS, (
            i, r.code, r.category, nik or "", kk or "", nama or "", alamat or "",
            r.rt or "", r.rw or "", r.kelurahan_code, kel.name if kel else "",
            kec.name if kec else "", r.reason or "", r.detail or "",
            "" if r.lat is None else f"{r.lat:.6f}", "" if r.lon is None else f"{r.lon:.6f}",
            r.rt_opinion or "", f"{r.state}/{r.outcome}" if r.outcome else r.state,
            _d(r.created_at)))))
    return out


def write_csv(rows: list[dict], f) -> None:
    w = csv.DictWriter(f, fieldnames=EXPORT_COLUMNS)
    w.writeheader()
    w.writerows(rows)


def write_xlsx(rows: list[dict], path: str) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Usulan"
    ws.append(list(EXPORT_COLUMNS))
    for r in rows:
        # NIK, No. KK, RT and RW as text: Excel must not turn 16 digits into 3.27E+15
        ws.append([r[c] for c in EXPORT_COLUMNS])
    for col in ("D", "E", "H", "I"):
        for cell in ws[col][1:]:
            cell.number_format = "@"
    ws.freeze_panes = "A2"
    wb.save(path)


async def cmd_export(settings, args) -> int:

    if args.format == "xlsx" and not args.out:
        raise CommandError("Ekspor XLSX perlu --out FILE")
    db, _programs, region = await _open(settings)
    try:
        async with db.tx() as c:
            rows = await export_rows(c, region)
            await audit(c, actor(args), "reports.export", args.format,
                        {"count": len(rows), "codes": [r["KODE_LAPORAN"] for r in rows][:500],
                         "out": args.out}, now=_now())
    finally:
        await db.dispose()
    if args.format == "xlsx":
        write_xlsx(rows, args.out)
    elif args.out:
        with open(args.out, "w", newline="", encoding="utf-8") as f:
            write_csv(rows, f)
    else:
        buf = io.StringIO()
        write_csv(rows, buf)
        sys.stdout.write(buf.getvalue())
    if args.out:
        print(f"{len(rows)} laporan diekspor ke {args.out}.")
    return 0
