"""The SIKS-NG export of verified reports (the CLI's `reports export` and the dashboard's
download): its columns, its rows, and CSV / XLSX writing; and the head-of-household lookup
both staff views use to show whom a resident's own report is about."""

from __future__ import annotations

import csv
from datetime import datetime

from db import report_queries
from domain.clock import JAKARTA

EXPORT_COLUMNS = (
    "NO",
    "KODE_LAPORAN",
    "JENIS_USULAN",
    "NIK",
    "NO_KK",
    "NAMA",
    "ALAMAT",
    "RT",
    "RW",
    "KODE_KELURAHAN",
    "KELURAHAN",
    "KECAMATAN",
    "ALASAN",
    "KETERANGAN",
    "LINTANG",
    "BUJUR",
    "PENDAPAT_RT",
    "STATUS",
    "TANGGAL_LAPOR",
)


async def head_of_household(conn, household_id: int):
    """(nama, nik, no_kk, alamat) of the household's head (else its first member), or None."""
    return await report_queries.head_of_household(conn, household_id)


def _date(dt: datetime | None) -> str:
    return dt.astimezone(JAKARTA).strftime("%Y-%m-%d") if dt else "-"


async def export_rows(conn, region) -> list[dict]:
    """Reports Dinsos verified: forwarded, or closed as accepted. One row per report; a
    resident's report about their own family carries the head of household's identity."""
    out = []
    for i, r in enumerate(await report_queries.verified_reports(conn), 1):
        nik, kk, nama, alamat = r.target_nik, r.target_kk, r.target_name, r.target_address
        if r.household_id:
            h = await head_of_household(conn, r.household_id)
            if h:
                nik, kk, nama, alamat = h.nik, h.no_kk, h.nama, h.alamat
        kel = region.kelurahan_by_code(r.kelurahan_code)
        kec = region.kecamatan_by_code(kel.kecamatan_code) if kel else None
        out.append(
            dict(
                zip(
                    EXPORT_COLUMNS,
                    (
                        i,
                        r.code,
                        r.category,
                        nik or "",
                        kk or "",
                        nama or "",
                        alamat or "",
                        r.rt or "",
                        r.rw or "",
                        r.kelurahan_code,
                        kel.name if kel else "",
                        kec.name if kec else "",
                        r.reason or "",
                        r.detail or "",
                        "" if r.lat is None else f"{r.lat:.6f}",
                        "" if r.lon is None else f"{r.lon:.6f}",
                        r.rt_opinion or "",
                        f"{r.state}/{r.outcome}" if r.outcome else r.state,
                        _date(r.created_at),
                    ),
                    strict=False,
                )
            )
        )
    return out


def export_audit(rows: list[dict], out: str | None) -> dict:
    """The detail of the `reports.export` audit entry (codes, never identities)."""
    return {"count": len(rows), "codes": [r["KODE_LAPORAN"] for r in rows][:500], "out": out}


def write_csv(rows: list[dict], f) -> None:
    w = csv.DictWriter(f, fieldnames=EXPORT_COLUMNS)
    w.writeheader()
    w.writerows(rows)


def write_xlsx(rows: list[dict], path) -> None:
    """To a path or a binary file object."""
    from openpyxl import Workbook  # heavy: only when someone exports XLSX

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
