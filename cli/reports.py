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

import getpass
import io
import sys
from datetime import UTC, date, datetime, time

from cli import CommandError
from cli.common import wib
from db import report_queries as queries
from db.audit import audit
from db.database import Database
from domain import reports as R
from domain.clock import JAKARTA
from domain.masking import mask_text
from domain.nik import mask
from services import reports as ops
from services.exports import export_audit, export_rows, head_of_household, write_csv, write_xlsx

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
    return datetime.now(UTC)


async def _open(settings):
    from core.reference import load_reference

    programs, region = load_reference(settings.jaring_programs, settings.jaring_region)
    return Database(settings.database_url), programs, region


def _code(text: str) -> str:
    code = R.normalize_code(text)
    if code is None:
        raise CommandError(f"Kode laporan tidak valid: {text}")
    return code


def _d(dt: datetime | None) -> str:
    return dt.astimezone(JAKARTA).strftime("%Y-%m-%d") if dt else "-"


# --- list ----------------------------------------------------------------------------------


async def cmd_list(settings, args) -> int:
    db, _programs, region = await _open(settings)
    f: dict = {}
    if args.state:
        if args.state not in R.STATES:
            raise CommandError(f"Status tidak dikenal: {args.state}")
        f["state"] = args.state
    if args.category:
        if args.category not in R.CATEGORIES:
            raise CommandError(f"Jenis tidak dikenal: {args.category}")
        f["category"] = args.category
    if args.kelurahan:
        kel = region.find_kelurahan(args.kelurahan)
        if kel is None:
            raise CommandError(f"Kelurahan tidak dikenal: {args.kelurahan}")
        f["kelurahan"] = kel.code
    due = []
    if args.due_before:
        due.append(datetime.combine(args.due_before, time(), JAKARTA))
    if args.overdue:
        due.append(_now())
    if due:  # still open, due before the earliest of the two
        f.update(open_only=True, due_before=min(due))
    try:
        async with db.tx(write=False) as c:
            rows = await queries.all_reports(c, **f)
    finally:
        await db.dispose()
    if not rows:
        print("Tidak ada laporan.")
        return 0
    print(
        f"{'KODE':<14} {'JENIS':<9} {'STATUS':<18} {'KELURAHAN':<20} {'RT/RW':<8} "
        f"{'DIBUAT':<10} TENGGAT"
    )
    for r in rows:
        kel = region.kelurahan_by_code(r.kelurahan_code)
        status = f"{r.state}/{r.outcome}" if r.outcome else r.state
        rtrw = f"{int(r.rt)}/{int(r.rw)}" if r.rt and r.rw else "-"
        print(
            f"{r.code:<14} {r.category:<9} {status:<18} "
            f"{(kel.name if kel else r.kelurahan_code)[:20]:<20} {rtrw:<8} "
            f"{_d(r.created_at):<10} {_d(r.due_at)}"
        )
    print(f"{len(rows)} laporan.")
    return 0


# --- show ----------------------------------------------------------------------------------


async def cmd_show(settings, args) -> int:
    code = _code(args.code)
    db, _programs, region = await _open(settings)
    show = (lambda v: v or "-") if args.reveal else (lambda v: mask(v) if v else "-")
    try:
        async with db.tx(write=args.reveal) as c:
            r = await ops.by_code(c, code)
            if r is None:
                raise CommandError(f"Laporan tidak ditemukan: {code}")
            reporter = await queries.reporter(c, r.id) if r.reporter_person_id else None
            head = await head_of_household(c, r.household_id) if r.household_id else None
            events = await queries.events(c, r.id)
            photos = await queries.report_photos(c, r.id)
            if args.reveal:
                await audit(c, actor(args), "reports.reveal", code, now=_now())
    finally:
        await db.dispose()
    kel = region.kelurahan_by_code(r.kelurahan_code)
    out = [
        f"Laporan {r.code} · {r.category}",
        f"Status      : {r.state}" + (f" ({r.outcome})" if r.outcome else ""),
        f"Dibuat      : {_d(r.created_at)}   Tenggat: {_d(r.due_at)}",
        f"Wilayah     : Kelurahan {kel.name if kel else r.kelurahan_code}"
        + (f", RW {int(r.rw)} RT {int(r.rt)}" if r.rw and r.rt else ""),
    ]
    if head:
        out.append(f"Sasaran     : keluarga pelapor sendiri — {head.nama}, {head.alamat}")
        out.append(f"              NIK {show(head.nik)} · No. KK {show(head.no_kk)}")
    else:
        out.append(f"Sasaran     : {r.target_name or '-'}, {r.target_address or '-'}")
        if r.target_nik or r.target_kk:
            out.append(f"              NIK {show(r.target_nik)} · No. KK {show(r.target_kk)}")
    # Free text (the reason's detail, staff notes) may hold a typed NIK or phone: masked unless
    # --reveal, like the numbers above.
    words = (lambda t: t) if args.reveal else (lambda t: mask_text(t, limit=2000))
    out.append(f"Alasan      : {r.reason or '-'}" + (f" — {words(r.detail)}" if r.detail else ""))
    if r.story:
        # The resident's own words: numbers (a NIK, a phone) masked unless --reveal.
        story = r.story if args.reveal else mask_text(r.story, limit=2000)
        for i, line in enumerate(story.splitlines() or [story]):
            out.append(("Cerita      : " if i == 0 else "              ") + line)
    if r.lat is not None:
        out.append(f"Lokasi      : {r.lat:.6f}, {r.lon:.6f}")
    out.append(
        f"Pelapor     : {r.reporter_role}"
        + (f" — {reporter.nama} (NIK {show(reporter.nik)})" if reporter else " — belum dicocokkan")
    )
    if r.rt_opinion:
        out.append(f"Pendapat RT : {r.rt_opinion}")
    for p in {(p.kind, p.ref): p for p in photos}.values():  # one line per photo
        out.append(f"Foto        : {p.kind} · {p.channel} · {p.path or p.ref}")
    out.append("Riwayat:")
    for e in events:
        move = f"{e.from_state or ''} -> {e.to_state}" if e.to_state else ""
        out.append(
            f"  {wib(e.at)}  {e.actor:<16} {e.action:<10} {move}"
            + (f" [{e.outcome}]" if e.outcome else "")
            + (f" — {words(e.note)}" if e.note else "")
        )
    print("\n".join(out))
    return 0


# --- move ----------------------------------------------------------------------------------


async def move_code(
    db,
    programs,
    code: str,
    to: str,
    *,
    outcome: str | None,
    note: str | None,
    actor: str,
    now: datetime,
) -> list[int]:
    """One staff move in its own transaction; raises CommandError with a line for staff."""
    try:
        async with db.tx() as c:
            r = await ops.by_code(c, code)
            if r is None:
                raise CommandError(f"Laporan tidak ditemukan: {code}")
            if (
                to == R.VERIFIKASI_RT
                and await ops.active_head_for_area(c, r.kelurahan_code, r.rw, r.rt) is None
            ):
                raise CommandError(f"Tidak ada ketua RT aktif untuk RT/RW laporan {code}.")
            ids = await ops.move(
                c,
                r,
                to,
                now=now,
                actor=actor,
                outcome=outcome,
                note=note,
                rt_due=R.rt_due_at(now, programs.sla.rt_answer_days),
            )
            # The same audit entry as a move from the dashboard (web/reports.py).
            await audit(
                c,
                actor,
                "reports.move",
                r.code,
                {"from": r.state, "to": to, "outcome": outcome or None},
                now=now,
            )
            return ids
    except ops.ReportError as e:
        raise CommandError(MOVE_PROBLEMS.get(e.code, e.code).format(detail=e.detail)) from None


async def cmd_move(settings, args) -> int:
    code = _code(args.code)
    db, programs, _region = await _open(settings)
    try:
        ids = await move_code(
            db,
            programs,
            code,
            args.state,
            outcome=args.outcome,
            note=args.reason or args.note,
            actor=actor(args),
            now=_now(),
        )
    finally:
        await db.dispose()
    print(
        f"{code} dipindahkan ke {args.state}"
        + (f" ({args.outcome})" if args.outcome else "")
        + f". Pesan ke pelapor diantrekan: {len(ids)}."
    )
    return 0


# --- export --------------------------------------------------------------------------------


async def cmd_export(settings, args) -> int:
    if args.format == "xlsx" and not args.out:
        raise CommandError("Ekspor XLSX perlu --out FILE")
    db, _programs, region = await _open(settings)
    try:
        async with db.tx() as c:
            rows = await export_rows(c, region)
            await audit(
                c,
                actor(args),
                "reports.export",
                args.format,
                export_audit(rows, args.out),
                now=_now(),
            )
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
