"""DTSEN extract import: checks, all-or-nothing, --skip-invalid, re-import, audit, privacy.

Runs on SQLite and (with JARING_TEST_PG_URL) on PostgreSQL through the `db` fixture.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from db.dtsen_import import ImportReport, RowError, default_reject_path, import_dtsen
from db.schema import audit_log, data_imports, households, people, program_memberships
from domain.programs import load_programs
from domain.region import load_region

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SMALL = DATA / "dtsen_small.csv"
BAD = DATA / "dtsen_bad.csv"
TODAY = date(2026, 11, 23)
DATA_DATE = date(2026, 10, 1)

REGION = load_region(ROOT / "data" / "region" / "kota_bogor.toml")
PROGRAMS = load_programs(ROOT / "data" / "programs.toml")


async def run_import(db, path: Path, **kw) -> ImportReport:
    kw.setdefault("data_date", DATA_DATE)
    return await import_dtsen(db, path, region=REGION, programs=PROGRAMS, today=TODAY, **kw)


async def fetch(db, stmt) -> list:
    async with db.tx(write=False) as conn:
        return (await conn.execute(stmt)).all()


async def count(db, table) -> int:
    return (await fetch(db, sa.select(sa.func.count()).select_from(table)))[0][0]


async def household_of(db, nik: str):
    rows = await fetch(db, sa.select(households).join(people).where(people.c.nik == nik))
    return rows[0]


async def programs_of(db, nik: str) -> set[str]:
    rows = await fetch(
        db, sa.select(program_memberships.c.program_code).join(people).where(people.c.nik == nik)
    )
    return {r[0] for r in rows}


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


# --- a valid file ----------------------------------------------------------------------------


async def test_small_file_imports(db):
    report = await run_import(db, SMALL)

    assert report.imported and report.errors == []
    assert (report.rows_total, report.rows_imported, report.rows_rejected) == (12, 12, 0)
    assert (report.households, report.people_new, report.people_updated) == (3, 12, 0)
    assert report.reject_path is None
    assert await count(db, households) == 3
    assert await count(db, people) == 12

    asep = await household_of(db, "3271051203780002")
    assert (asep.no_kk, asep.kelurahan_code, asep.kecamatan_code) == (
        "3271052301150001",
        "3271051002",
        "327105",
    )  # Tegal Gundil, Bogor Utara
    assert (asep.rt, asep.rw, asep.desil, asep.data_date) == ("003", "007", 2, DATA_DATE)
    assert asep.alamat == "Jl. Pandu Raya Gg. Mawar No. 12"

    # "Mulyaharja" / "bogor selatan" / "kepala keluarga" / RT "01": forgiving spellings
    dadang = await household_of(db, "3271011402600004")
    assert (dadang.kelurahan_code, dadang.kecamatan_code) == ("3271011007", "327101")
    assert (dadang.rt, dadang.rw, dadang.desil) == ("001", "012", 1)

    rows = {r.nik: r for r in await fetch(db, sa.select(people))}
    assert "3271052010050001" in rows  # written "3271 0520 1005 0001" in the file
    assert rows["3271052010050001"].jenis_kelamin == "L"  # written "l"
    assert rows["3271011402600004"].hubungan == "KEPALA_KELUARGA"
    assert rows["3201014906380001"].hubungan == "ORANG_TUA"  # written "Orang Tua"
    assert rows["3201014906380001"].disabilitas is True
    assert rows["3201014906380001"].tanggal_lahir == date(1938, 6, 9)
    assert rows["3271011402600004"].disabilitas is False

    assert await programs_of(db, "3271051203780002") == {"PKH", "BPNT", "PBI"}
    assert await programs_of(db, "3271057001120001") == {"PBI", "KIP"}  # "pbi; kip"
    assert await programs_of(db, "3271067112900001") == set()
    assert await count(db, program_memberships) == 14


async def test_data_date_and_audit_row(db):
    report = await run_import(db, SMALL, data_date=date(2026, 9, 30), actor="staff:ani")
    assert report.imported

    (imp,) = await fetch(db, sa.select(data_imports))
    assert imp.file_name == "dtsen_small.csv"
    assert imp.data_date == date(2026, 9, 30)
    assert (imp.rows_total, imp.rows_imported, imp.rows_rejected, imp.households) == (12, 12, 0, 3)
    assert imp.actor == "staff:ani"
    assert {r.data_date for r in await fetch(db, sa.select(households))} == {date(2026, 9, 30)}

    (audit,) = await fetch(db, sa.select(audit_log))
    assert audit.action == "import-dtsen" and audit.actor == "staff:ani"
    assert audit.subject == f"data_imports:{imp.id}"
    assert audit.detail["file_name"] == "dtsen_small.csv"
    assert audit.detail["rows_imported"] == 12 and audit.detail["people_new"] == 12
    assert audit.detail["data_date"] == "2026-09-30"
    assert not re.search(r"\d{10,}", repr(audit.detail))  # no NIK or No. KK in the audit


async def test_semicolon_separated_file_with_bom(db, tmp_path):
    """Excel on Indonesian Windows writes ';' as the separator (and often a BOM)."""
    path = tmp_path / "excel.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f, delimiter=";").writerows(read_csv(SMALL))
    report = await run_import(db, path)
    assert report.imported and report.rows_imported == 12, report.errors
    assert await programs_of(db, "3271051203780002") == {"PKH", "BPNT", "PBI"}


# --- a bad file: nothing is written, every error is listed ---------------------------------

# (line, what the reason says) for every line with a problem; each line has exactly one.
BAD_LINES = {
    3: "NIK harus 16 angka, tertulis 15",
    4: "NIK hanya boleh berisi angka",
    5: "NIK: bulan lahir",
    6: "tanggal lahir tidak cocok dengan NIK",
    7: "desil harus angka 1–10, tertulis '11'",
    8: "program tidak dikenal: 'BANSOS_X'",
    9: "NIK yang sama tertulis lagi di baris 10",
    10: "NIK sama dengan baris 9",
    12: "KEPALA_KELUARGA lebih dari satu dalam satu KK (kepala keluarga sudah ada di baris 11)",
    13: "tidak punya KEPALA_KELUARGA (baris 13, 14)",
    15: "kelurahan 'Kebon Jeruk' tidak dikenal di Kota Bogor",
    16: "jenis kelamin tidak cocok dengan NIK",
    18: "RT berbeda dengan baris 17",
    19: "No. KK harus 16 angka, tertulis 15",
    20: "hubungan 'PEMBANTU' tidak dikenal",
    21: "RT harus angka 1–999, tertulis '0'",
    22: "disabilitas harus 0 atau 1, tertulis '2'",
    23: "nama kosong",
    26: "tanggal lahir belum terjadi",
}
KINDS = {
    "short NIK": 3,
    "letters in NIK": 4,
    "bad month in NIK": 5,
    "birth date not matching NIK": 6,
    "desil 11": 7,
    "unknown program": 8,
    "duplicate NIK, first line": 9,
    "duplicate NIK, second line": 10,
    "two heads": 12,
    "no head": 13,
    "unknown kelurahan": 15,
    "gender not matching NIK": 16,
    "household fields differ within a KK": 18,
    "short No. KK": 19,
    "unknown hubungan": 20,
    "RT 0": 21,
    "disabilitas 2": 22,
    "empty nama": 23,
    "birth date in the future": 26,
}


@pytest.mark.parametrize("line", KINDS.values(), ids=KINDS.keys())
async def test_bad_file_lists_each_error(db, line):
    report = await run_import(db, BAD)
    assert not report.imported
    reasons = [e.reason for e in report.errors if e.line == line]
    assert len(reasons) == 1, reasons
    assert BAD_LINES[line] in reasons[0]
    assert str(RowError(line, reasons[0])) == f"baris {line}: {reasons[0]}"


async def test_bad_file_imports_nothing(db):
    report = await run_import(db, BAD)
    assert not report.imported
    assert report.rows_total == 25 and report.rows_imported == 0
    assert {e.line for e in report.errors} == set(BAD_LINES)  # nothing else is reported
    assert [e.line for e in report.errors] == sorted(e.line for e in report.errors)
    for table in (households, people, program_memberships, data_imports, audit_log):
        assert await count(db, table) == 0


@pytest.mark.parametrize(
    "line", [2, 24, 25], ids=["variant spelling Batutulis accepted", "good KK 1", "good KK 2"]
)
async def test_good_lines_of_the_bad_file_have_no_error(db, line):
    report = await run_import(db, BAD)
    assert [e for e in report.errors if e.line == line] == []


async def test_no_nik_or_kk_in_any_reason(db, tmp_path):
    numbers = set()
    for row in read_csv(BAD)[1:]:
        for cell in row[:2]:  # no_kk, nik
            digits = re.sub(r"\D", "", cell)
            if len(digits) >= 10:
                numbers.add(digits)
            numbers.add(cell.strip())
    assert len(numbers) > 30

    report = await run_import(db, BAD)
    skipped = await run_import(db, BAD, skip_invalid=True, reject_path=tmp_path / "r.csv")
    texts = [str(e) for e in report.errors + skipped.errors]
    texts += [row[-1] for row in read_csv(tmp_path / "r.csv")[1:]]  # the alasan column
    for text in texts:
        for number in numbers:
            assert number not in text, (number, text)


@pytest.mark.parametrize(
    "change, expected",
    [
        ("drop desil", "kolom tidak ada: desil"),
        ("add catatan", "kolom tidak dikenal: catatan"),
        ("rename nik", "kolom tidak ada: nik"),
    ],
    ids=["header missing a column", "header with an extra column", "header with a wrong name"],
)
async def test_header_problem_is_one_error_and_nothing_imported(db, tmp_path, change, expected):
    rows = read_csv(SMALL)
    if change == "drop desil":
        i = rows[0].index("desil")
        rows = [r[:i] + r[i + 1 :] for r in rows]
    elif change == "add catatan":
        rows = [r + (["catatan"] if n == 0 else ["-"]) for n, r in enumerate(rows)]
    else:
        rows[0][1] = "no_nik"
    path = write_csv(tmp_path / "x.csv", rows)
    for skip in (False, True):
        report = await run_import(db, path, skip_invalid=skip)
        assert not report.imported
        assert len(report.errors) == 1 and report.errors[0].line == 1
        assert expected in report.errors[0].reason
    assert await count(db, households) == 0


async def test_header_is_case_and_space_insensitive_and_may_be_reordered(db, tmp_path):
    rows = read_csv(SMALL)
    order = list(range(len(rows[0])))[::-1]
    rows = [[r[i] for i in order] for r in rows]
    rows[0] = [f"  {h.upper()} " for h in rows[0]]
    report = await run_import(db, write_csv(tmp_path / "rev.csv", rows))
    assert report.imported and report.rows_imported == 12, report.errors


async def test_wrong_number_of_cells_and_empty_file_and_not_utf8(db, tmp_path):
    rows = read_csv(SMALL)
    rows[3] = rows[3][:-1]  # line 4 loses its last cell
    report = await run_import(db, write_csv(tmp_path / "short.csv", rows))
    assert [(e.line, e.reason.split(" (")[0]) for e in report.errors] == [
        (4, "jumlah kolom 13, seharusnya 14")
    ]

    (tmp_path / "empty.csv").write_text("")
    report = await run_import(db, tmp_path / "empty.csv")
    assert not report.imported and report.errors[0].line == 1

    raw = SMALL.read_bytes().replace(b"Euis", b"E\xffis")  # line 3
    (tmp_path / "latin.csv").write_bytes(raw)
    report = await run_import(db, tmp_path / "latin.csv")
    assert not report.imported
    assert [(e.line, "UTF-8" in e.reason) for e in report.errors] == [(3, True)]


# --- --skip-invalid ----------------------------------------------------------------------------


async def test_skip_invalid_imports_good_kks_and_writes_reject_file(db, tmp_path):
    reject = tmp_path / "ditolak.csv"
    report = await run_import(db, BAD, skip_invalid=True, reject_path=reject)

    assert report.imported
    assert (report.rows_total, report.rows_imported, report.rows_rejected) == (25, 2, 23)
    assert report.households == 1 and report.people_new == 2
    assert report.reject_path == reject
    assert {e.line for e in report.errors} == set(BAD_LINES)
    assert sorted(r.nik for r in await fetch(db, sa.select(people))) == [
        "3271062210840001",
        "3271066204870001",
    ]
    (imp,) = await fetch(db, sa.select(data_imports))
    assert (imp.rows_imported, imp.rows_rejected) == (2, 23)

    source = read_csv(BAD)
    out = read_csv(reject)
    assert out[0] == source[0] + ["alasan"]
    assert len(out) == 1 + 23
    assert [r[:-1] for r in out[1:]] == source[1:23] + [source[25]]  # original cells, kept
    why = {int(r[-1].split(":")[0].removeprefix("baris ")): r[-1] for r in out[1:]}
    # line 2 is fine itself, but its KK has bad rows: the whole KK is held back
    assert why[2] == "baris 2: KK ini punya baris lain yang ditolak (baris 3, 4, 5, 6, 7, 8)"
    assert why[3] == "baris 3: NIK harus 16 angka, tertulis 15"
    assert why[14].startswith("baris 14: KK ini punya baris lain yang ditolak (baris 13)")
    assert why[11] == "baris 11: KK ini punya baris lain yang ditolak (baris 12)"


async def test_skip_invalid_default_reject_path_next_to_input(db, tmp_path):
    path = tmp_path / "dtsen_bad.csv"
    path.write_bytes(BAD.read_bytes())
    report = await run_import(db, path, skip_invalid=True)
    assert report.reject_path == tmp_path / "dtsen_bad.reject.csv" == default_reject_path(path)
    assert report.reject_path.exists()


async def test_skip_invalid_with_a_clean_file_writes_no_reject_file(db, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_bytes(SMALL.read_bytes())
    report = await run_import(db, path, skip_invalid=True)
    assert report.imported and report.rows_rejected == 0 and report.reject_path is None
    assert not default_reject_path(path).exists()


# --- re-import ---------------------------------------------------------------------------------


async def test_reimport_updates_moves_and_replaces_programs(db, tmp_path):
    first = await run_import(db, SMALL)
    assert first.imported
    rizky_old = await household_of(db, "3271052010050001")

    rows = read_csv(SMALL)
    header, body = rows[0], rows[1:]
    col = {name: i for i, name in enumerate(header)}
    rina = next(r for r in body if r[col["nik"]] == "3271067112900001")
    for r in body:
        if r[col["no_kk"]] == "3271011008090007":
            r[col["desil"]] = "3"  # the household's desil changed
        if r[col["nik"]] == "3271 0520 1005 0001":  # Rizky moves to Rina's KK
            for name in ("no_kk", "alamat", "rt", "rw", "kelurahan", "kecamatan", "desil"):
                r[col[name]] = rina[col[name]]
            r[col["hubungan"]] = "FAMILI_LAIN"
            r[col["program"]] = "PELATIHAN"
        if r is rina:
            r[col["nama"]] = "Rina Wulandari Putri"
    baby = list(rina)
    baby[col["nik"]], baby[col["nama"]] = "3271064203250001", "Kirana Putri"
    baby[col["tanggal_lahir"]], baby[col["hubungan"]], baby[col["jenis_kelamin"]] = (
        "2025-03-02",
        "ANAK",
        "P",
    )
    body.append(baby)
    path = write_csv(tmp_path / "update.csv", [header] + body)

    report = await run_import(db, path, data_date=date(2026, 11, 1))
    assert report.imported, report.errors
    assert (report.people_new, report.people_updated, report.households) == (1, 12, 3)
    assert await count(db, people) == 13  # updated, not duplicated
    assert await count(db, households) == 3

    rizky = await household_of(db, "3271052010050001")
    assert rizky.no_kk == "3271060203200002" and rizky.id != rizky_old.id
    assert rizky.data_date == date(2026, 11, 1)
    assert await programs_of(db, "3271052010050001") == {"PELATIHAN"}  # replaced, not added
    (row,) = await fetch(db, sa.select(people).where(people.c.nik == "3271052010050001"))
    assert row.hubungan == "FAMILI_LAIN"
    assert (await household_of(db, "3271011402600004")).desil == 3
    (rina_row,) = await fetch(db, sa.select(people).where(people.c.nik == "3271067112900001"))
    assert rina_row.nama == "Rina Wulandari Putri"
    assert await programs_of(db, "3271051203780002") == {"PKH", "BPNT", "PBI"}  # kept
    assert await count(db, data_imports) == 2 and await count(db, audit_log) == 2


async def test_file_changed_between_the_passes_writes_nothing(db, tmp_path, monkeypatch):
    import db.dtsen_import as mod

    path = tmp_path / "x.csv"
    path.write_bytes(SMALL.read_bytes())
    checked = mod._check_file

    def check_then_edit(*args):
        result = checked(*args)
        path.write_bytes(SMALL.read_bytes().replace(b"Asep Suryana", b"Asep Suryana Jr"))
        return result

    monkeypatch.setattr(mod, "_check_file", check_then_edit)
    report = await run_import(db, path)
    assert not report.imported
    assert [e.line for e in report.errors] == [0] and "berubah" in report.errors[0].reason
    assert await count(db, people) == 0 and await count(db, data_imports) == 0


async def test_a_first_load_leaves_the_schema_as_it_was(db):
    """PostgreSQL's first load drops and rebuilds keys and indexes: they are all back, with
    the same names and rules (ON DELETE CASCADE), and the data keeps them."""
    from tests.test_migrations import test_migrated_schema_matches_the_metadata

    report = await run_import(db, SMALL)
    assert report.imported and report.people_new == report.rows_imported
    await test_migrated_schema_matches_the_metadata(db.url)
    async with db.tx(write=False) as c:
        orphans = await c.scalar(
            sa.select(sa.func.count())
            .select_from(program_memberships.outerjoin(people))
            .where(people.c.id.is_(None))
        )
    assert orphans == 0
    with pytest.raises(sa.exc.IntegrityError):
        async with db.tx() as c:  # the unique NIK holds again
            row = (await c.execute(sa.select(people).limit(1))).one()._asdict()
            row.pop("id")
            await c.execute(people.insert(), row)


def test_the_validators_int_table_keeps_every_first_value_across_growth():
    from domain.dtsen import _IntMap

    m = _IntMap(bits=4)  # 16 slots: grows many times below
    keys = [3271010101900001 + 7919 * i for i in range(20_000)]
    for line, key in enumerate(keys, 2):
        assert m.setdefault(key, line) == line
    assert m.size == len(keys) and len(m.keys) == 32768
    for line, key in enumerate(keys, 2):  # a repeat gets the first value, nothing is added
        assert m.setdefault(key, 99) == line and m.get(key) == line
    assert m.size == len(keys) and m.get(1) is None
