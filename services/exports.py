"""The SIKS-NG export of verified reports (the CLI's `reports export` and the dashboard's
download): its columns, its rows, and CSV / XLSX writing; and the head-of-household lookup
both staff views use to show whom a resident's own report is about."""

from __future__ import annotations

import csv
import re
from datetime import datetime

from db import report_queries
from domain import reports as R
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


# Reasons in Dinsos's words: the dashboard shows them, and the export's ALASAN column carries
# them (never the English codes the database keeps).
REASON_NAMES = {
    R.USUL: {
        "income": "Penghasilan hilang/turun",
        "illness": "Sakit atau disabilitas",
        "elder": "Lansia tinggal sendiri",
        "house": "Kondisi rumah",
        "other": "Lainnya",
    },
    R.SANGGAH: {
        "wealthy": "Keluarga mampu",
        "civil_servant": "PNS/TNI/Polri",
        "moved": "Sudah pindah",
        "died": "Sudah meninggal",
        "other": "Lainnya",
    },
    R.KOREKSI: {
        "born": "Anggota lahir",
        "died": "Anggota meninggal",
        "moved_in": "Anggota pindah masuk",
        "moved_out": "Anggota pindah keluar",
        "address": "Alamat",
        "disability": "Disabilitas",
        "work": "Pekerjaan atau penghasilan",
    },
}


def reason_words(category: str, reason: str | None) -> str:
    """A report's reason as Dinsos writes it ("Penghasilan hilang/turun"), "" when none."""
    if not reason:
        return ""
    return REASON_NAMES.get(category, {}).get(reason, reason)


def remarks(category: str, detail: str | None, story: str | None) -> str:
    """KETERANGAN: what the reporter wrote: the reason in words (for "other"), what the data
    should be (a koreksi), and their own story, each after a label (so resident text never
    starts the cell: a spreadsheet cannot read it as a formula; issue #13 guards the rest)."""
    parts = []
    if detail:
        parts.append(("Data seharusnya: " if category == R.KOREKSI else "Alasan: ") + detail)
    if story:
        parts.append("Cerita pelapor: " + " / ".join(x for x in story.splitlines() if x.strip()))
    return " | ".join(" ".join(p.split()) for p in parts)


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
                        reason_words(r.category, r.reason),
                        remarks(r.category, r.detail, r.story),
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


# --------------------------------------------------------------------------- formula injection
# A spreadsheet reads a cell that starts with one of these as a formula (OWASP "CSV
# injection"): `=HYPERLINK(...)` in a resident's name would be a live link in a file that holds
# full NIKs. Full-width forms are included: some spreadsheets fold them. Such a cell gets a
# leading apostrophe, in the CSV and in the XLSX alike (so a file re-saved from one to the other
# stays inert). docs/security.md.
FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
# Columns Jaring writes itself from numbers (the row number, the coordinates of a shared
# location): a plain number there stays a number (a latitude south of the equator is "-6.59").
NUMBER_COLUMNS = frozenset({"NO", "LINTANG", "BUJUR"})
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def safe_cell(column: str, value) -> str | int:
    """The cell as text a spreadsheet never evaluates: "'" before a formula's first character."""
    if isinstance(value, int) and not isinstance(value, bool) and column in NUMBER_COLUMNS:
        return value
    text = "" if value is None else str(value)
    if column in NUMBER_COLUMNS and _PLAIN_NUMBER.fullmatch(text):
        return text
    if text and text[0] in FORMULA_START:
        return "'" + text
    return text


def safe_row(row: dict) -> dict:
    return {c: safe_cell(c, row.get(c)) for c in EXPORT_COLUMNS}


def write_csv(rows: list[dict], f) -> None:
    w = csv.DictWriter(f, fieldnames=EXPORT_COLUMNS)
    w.writeheader()
    w.writerows(safe_row(r) for r in rows)


def write_xlsx(rows: list[dict], path) -> None:
    """To a path or a binary file object."""
    from openpyxl import Workbook  # heavy: only when someone exports XLSX

    wb = Workbook()
    ws = wb.active
    ws.title = "Usulan"
    ws.append(list(EXPORT_COLUMNS))
    for r in rows:
        # NIK, No. KK, RT and RW as text: Excel must not turn 16 digits into 3.27E+15
        safe = safe_row(r)
        ws.append([safe[c] for c in EXPORT_COLUMNS])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # openpyxl makes any str starting with "=" a formula
    for col in ("D", "E", "H", "I"):
        for cell in ws[col][1:]:
            cell.number_format = "@"
    ws.freeze_panes = "A2"
    wb.save(path)
