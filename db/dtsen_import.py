"""Import a DTSEN extract (CSV) into households, people and program_memberships.

Two passes over the file:

1. Check every row (domain.dtsen.DtsenValidator), streaming, before anything is written.
   Any bad row and no ``skip_invalid``: nothing is written and every error is returned.
2. Write, in ONE transaction: upsert households by no_kk, upsert people by NIK, replace the
   program memberships of the imported people, then one data_imports row and one audit_log
   row (and, for a dashboard job, the import_jobs row: done). Then ANALYZE the three tables.

   SQLite: batches of ``INSERT ... ON CONFLICT DO UPDATE`` run as executemany, in a worker
   thread on a connection of its own (``Database.sqlite_side_engine``), household ids looked
   up by No. KK (cheap in-process). PostgreSQL: every batch is COPied (asyncpg
   ``copy_records_to_table``) into two temporary staging tables while the next batch is read
   in a thread; then set-based statements join on the natural keys inside the server:
   households ``INSERT ... SELECT DISTINCT ON ... ON CONFLICT DO UPDATE``, people the same
   (joined to households by no_kk), memberships ``DELETE ... USING`` (the programmes a person
   no longer has) and ``INSERT ... SELECT unnest(...) ON CONFLICT DO NOTHING``. No id is
   looked up from Python (the old per-batch ``no_kk IN (...)`` look-ups were 88 % of a
   1M-person import). A first load (no people yet) is a bulk load: the keys and indexes of
   people and program_memberships are dropped, the rows inserted plainly and the keys and
   indexes built again in the transaction (``_pg_bulk_keys``; docs/benchmarks.md, issue #14).

Memory: pass 1 keeps the validator's state in flat arrays (~80 bytes a person at 1M rows,
of which the NIK table and the per-row arrays, ~30, are dropped after pass 1;
docs/benchmarks.md, "Import memory"); pass 2 holds one batch (10,000 rows on SQLite, 20,000
on PostgreSQL) plus, on SQLite, the No. KK -> id map. Nothing holds the whole file.

Decisions:

- ``skip_invalid``: a household (No. KK) with any bad row is rejected as a whole, because the
  household rules (exactly one KEPALA_KELUARGA, one address and desil per KK) are per KK and a
  half-imported household would show residents a wrong composition. Its good rows go to the
  reject file with the reason "KK ini punya baris lain yang ditolak (baris …)".
- The reject file has the input's columns (same header text and delimiter) plus ``alasan``;
  every reason starts with "baris N:" (N = line in the input file). It is written UTF-8 with a
  BOM so that Excel opens it correctly, readable by its owner only (it holds NIKs).
- Re-importing is an upsert: a person (by NIK) moves to the KK of the new file, and their
  programmes are replaced by the new row's. A person whose row would not change is not
  rewritten: ``people.updated_at`` is when the row last changed (households take the new
  data_date and updated_at from every import that contains them). Households and people that are not in the file are
  left alone (an extract of one kelurahan must not delete the rest of the city); removing
  people is a separate, explicit task.
- The delimiter is a comma; a header with more semicolons than commas is read as a
  semicolon-separated file (what Excel writes on Indonesian Windows).
- Reasons never contain an NIK or No. KK (a KK appears masked); the audit row holds counts and
  the file name only.
"""

from __future__ import annotations

import asyncio
import csv
import gc
import os
import sys
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import AddConstraint, DropConstraint

from db.database import Database
from db.schema import (
    audit_log,
    data_imports,
    households,
    import_jobs,
    people,
    program_memberships,
)
from domain.dtsen import DtsenValidator, HeaderProblem, parse_header
from domain.programs import ProgramsConfig
from domain.region import Region

__all__ = ["ImportReport", "RowError", "import_dtsen", "default_reject_path"]

BATCH = 10_000  # rows per executemany (SQLite)
PG_BATCH = 20_000  # rows per COPY (PostgreSQL)
IN_CHUNK = 500  # values per IN (...) list
ProgressFn = Callable[[str, int, int], None]
KK_REJECTED = "KK ini punya baris lain yang ditolak"


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of one row. ``line`` is the physical CSV line (the header is line 1).

    The raw row is deliberately not kept here: a RowError may be printed or logged, and the
    row holds an NIK. The reject file is written from a second read of the input instead."""

    line: int  # 0: about the whole file (e.g. it cannot be read)
    reason: str  # simple Indonesian, no NIK / No. KK values

    def __str__(self) -> str:
        return f"baris {self.line}: {self.reason}" if self.line > 0 else self.reason


@dataclass
class ImportReport:
    rows_total: int = 0
    rows_imported: int = 0
    rows_rejected: int = 0
    households: int = 0  # households written
    people_new: int = 0
    people_updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    imported: bool = False
    reject_path: Path | None = None
    seconds: float = 0.0
    file_name: str = ""
    data_date: date | None = None
    # seconds per phase ("check", "write", and on PostgreSQL "stage", "households",
    # "people", "keys"; "analyze"): for benchmarks (docs/benchmarks.md)
    timings: dict[str, float] = field(default_factory=dict)


def default_reject_path(path: Path) -> Path:
    """`dtsen.csv` -> `dtsen.reject.csv`, next to the input."""
    return path.with_name(f"{path.stem if path.suffix else path.name}.reject.csv")


# --- reading ---------------------------------------------------------------------------------


class _FileChanged(Exception):
    """The file is not the one that was checked (edited or replaced between the passes)."""


FILE_CHANGED = (
    "file berubah selama impor (disimpan atau diganti saat sedang diimpor); "
    "tidak ada data yang disimpan, jalankan impor sekali lagi"
)


def _file_key(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


class _FileProblem(Exception):
    def __init__(self, line: int, reason: str):
        super().__init__(reason)
        self.line = line
        self.reason = reason


def _sniff_delimiter(path: Path) -> str:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        first = f.readline()
    return ";" if first.count(";") > first.count(",") else ","


class _Lines:
    """The file's lines for csv.reader, counting physical lines; `push` hands back a line."""

    __slots__ = ("f", "line", "pushed")

    def __init__(self, f):
        self.f = f
        self.line = 0
        self.pushed: str | None = None

    def __iter__(self):
        return self

    def __next__(self) -> str:
        s = self.pushed
        if s is not None:
            self.pushed = None
            return s
        s = next(self.f)  # StopIteration ends the reader
        self.line += 1
        return s


def _rows(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) for every non-empty record, the header included. `line` is the physical
    line where the record starts (a quoted cell may span lines).

    A line without a quote character is split directly (what csv.reader would return for it,
    several times faster); a line with quotes goes through csv.reader, which pulls further
    lines itself when a quoted cell continues."""
    with open(path, encoding="utf-8-sig", newline="", buffering=1 << 20) as f:
        lines = _Lines(f)
        reader = csv.reader(lines, delimiter=delimiter)
        blank = delimiter + " \t\r\n"
        try:
            for raw in lines:
                line = lines.line
                if '"' not in raw:
                    if not raw.strip(blank):
                        continue
                    yield line, raw.rstrip("\r\n").split(delimiter)
                else:
                    lines.pushed = raw
                    cells = next(reader)
                    if any(c.strip() for c in cells):
                        yield line, cells
        except UnicodeDecodeError:
            # the decoder works ahead of the current line: find the exact line
            raise _FileProblem(
                _first_bad_utf8_line(path) or lines.line + 1,
                'teks bukan UTF-8; simpan ulang file sebagai "CSV UTF-8" lalu coba lagi',
            ) from None
        except csv.Error as e:
            raise _FileProblem(lines.line, f"file CSV rusak di sekitar baris ini ({e})") from None


def _first_bad_utf8_line(path: Path) -> int:
    with open(path, "rb") as f:
        for i, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return i
    return 0


@contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector for a pass over a big file.

    The validator's per-KK state is long-lived and holds no cycles; the collector re-scanning
    it while it grows cost about 15% of the first pass on 1M rows. Nested use is fine."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _bar(progress: bool, desc: str, total: int | None):
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=" rows",
        unit_scale=True,
        file=sys.stderr,
        disable=not (progress and sys.stderr.isatty()),
        leave=True,
    )


def _check_file(
    path: Path,
    region: Region,
    programs: ProgramsConfig,
    today: date,
    progress: bool,
    on_progress: ProgressFn | None = None,
) -> tuple[DtsenValidator | None, list[str], str, RowError | None]:
    """Pass 1. Returns (validator, header cells, delimiter, fatal error)."""
    delimiter = ","
    try:
        delimiter = _sniff_delimiter(path)
        rows = _rows(path, delimiter)
        with _gc_paused():
            return _check_rows(rows, region, programs, today, progress, delimiter, on_progress)
    except _FileProblem as e:
        return None, [], delimiter, RowError(e.line, e.reason)
    except OSError as e:
        return None, [], delimiter, RowError(0, f"file tidak bisa dibaca: {e.strerror or e}")


def _check_rows(rows, region, programs, today, progress, delimiter, on_progress=None):
    first = next(rows, None)
    if first is None:
        return None, [], delimiter, RowError(1, "file kosong: tidak ada baris judul (header)")
    line, header = first
    columns = parse_header(header)
    if isinstance(columns, HeaderProblem):
        return None, header, delimiter, RowError(line, columns.reason)
    v = DtsenValidator(region, programs, today=today, columns=columns)
    check = v.check_row
    with _bar(progress, "checking", None) as bar:
        n = 0
        for line, cells in rows:
            check(line, cells)
            n += 1
            if n == 10_000:
                bar.update(n)
                n = 0
                if on_progress is not None:
                    on_progress("checking", v.rows, 0)
        bar.update(n)
    v.finish()
    return v, header, delimiter, None


# --- writing ---------------------------------------------------------------------------------


def _insert(dialect_name: str):
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


HH_COLS = (
    "no_kk",
    "alamat",
    "rt",
    "rw",
    "kelurahan_code",
    "kecamatan_code",
    "desil",
    "data_date",
    "updated_at",
)
PEOPLE_COLS = (
    "nik",
    "household_id",
    "nama",
    "jenis_kelamin",
    "tanggal_lahir",
    "hubungan",
    "disabilitas",
    "updated_at",
)
PM_COLS = ("code", "nik")


def _statements(dialect_name: str):
    ins = _insert(dialect_name)
    h = ins(households)
    hh_upsert = h.on_conflict_do_update(
        index_elements=[households.c.no_kk],
        set_={c: h.excluded[c] for c in HH_COLS[1:]},
    )
    p = ins(people)
    people_upsert = p.on_conflict_do_update(
        index_elements=[people.c.nik],
        set_={c: p.excluded[c] for c in PEOPLE_COLS[1:]},
        # a person whose row would not change is not rewritten (updated_at: last change)
        where=sa.or_(*(people.c[c].is_distinct_from(p.excluded[c]) for c in PEOPLE_COLS[1:-1])),
    )
    pm_insert = program_memberships.insert().from_select(
        ["person_id", "program_code"],
        sa.select(people.c.id, sa.bindparam("code", type_=sa.String(16))).where(
            people.c.nik == sa.bindparam("nik", type_=sa.String(16))
        ),
    )
    pm_delete = program_memberships.delete().where(
        program_memberships.c.person_id.in_(
            sa.select(people.c.id).where(people.c.nik.in_(sa.bindparam("niks", expanding=True)))
        )
    )
    hh_ids = sa.select(households.c.no_kk, households.c.id).where(
        households.c.no_kk.in_(sa.bindparam("kks", expanding=True))
    )
    return hh_upsert, people_upsert, pm_insert, pm_delete, hh_ids


class _Executemany:
    """Run one INSERT for many rows, each given as a tuple of the non-constant `names`.

    PostgreSQL: ordinary Core executemany (dicts). SQLite: the same dialect statement is
    compiled once and run through exec_driver_sql, with values converted by the columns' own
    dialect bind processors. That skips SQLAlchemy's per-row parameter processing, which cost
    more than SQLite itself (about 13 µs of 22 µs per person row on a 2-core machine)."""

    def __init__(
        self,
        conn,
        stmt,
        names: tuple[str, ...],
        types: dict[str, sa.types.TypeEngine],
        constants: dict[str, Any],
    ):
        self.conn = conn
        self.stmt = stmt
        self.constants = constants
        self.variable = [n for n in names if n not in constants]
        self.fast = conn.dialect.name == "sqlite"
        if not self.fast:
            return
        dialect = conn.dialect
        compiled = stmt.compile(dialect=dialect, column_keys=list(names))
        self.sql = compiled.string
        order = list(compiled.positiontup)
        if sorted(order) != sorted(names):
            raise RuntimeError(f"unexpected parameters {order} for {names}")
        procs = {n: types[n].dialect_impl(dialect).bind_processor(dialect) for n in names}
        fixed = {n: (p(v) if (p := procs[n]) else v) for n, v in constants.items()}
        row_procs = [(i, p) for i, n in enumerate(self.variable) if (p := procs[n])]
        # where each parameter comes from: the row (index) or a constant (value)
        picks = [
            (True, self.variable.index(n)) if n not in fixed else (False, fixed[n]) for n in order
        ]

        def build(row: tuple) -> tuple:
            if row_procs:
                cells = list(row)
                for i, proc in row_procs:
                    cells[i] = proc(cells[i])
                row = tuple(cells)
            return tuple(row[x] if from_row else x for from_row, x in picks)

        self.build = build

    def __call__(self, rows: list[tuple]) -> None:
        if not rows:
            return
        if self.fast:
            build = self.build
            self.conn.exec_driver_sql(self.sql, [build(r) for r in rows])
        else:
            names, constants = self.variable, self.constants
            self.conn.execute(
                self.stmt, [{**dict(zip(names, r, strict=False)), **constants} for r in rows]
            )


@dataclass
class _WriteResult:
    timings: dict[str, float] = field(default_factory=dict)
    rows_imported: int = 0
    rows_rejected: int = 0
    households: int = 0
    people_new: int = 0
    people_updated: int = 0
    import_id: int = 0


def _open_reject(path: Path, header: list[str], delimiter: str):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    f = open(fd, "w", encoding="utf-8-sig", newline="")
    w = csv.writer(f, delimiter=delimiter)
    w.writerow([*header, "alasan"])
    return f, w


# Page-cache ceiling while importing (only pages used are held). 512 MiB before: the 1M
# import writes as fast with 128 MiB and peaks 65 MiB lower (docs/benchmarks.md, "Import
# memory").
SQLITE_IMPORT_CACHE_KIB = 131072


_by_nik = itemgetter(1)


def _sqlite_write(
    conn,
    *,
    data_date: date,
    now: datetime,
    v: DtsenValidator,
    batches: Iterator[list[tuple]],
    res: _WriteResult,
    record: dict[str, Any],
) -> None:
    """Pass 2 on SQLite, inside the transaction, on a sync connection of its own (in a
    worker thread: the service's event loop keeps running)."""
    # Inserting ~1M random NIKs into a unique index thrashes the default 2 MiB cache
    # (25 s instead of 9 s for the people table alone); a 1M-person city is ~200 MB.
    # Restored below.
    sqlite_cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    if sqlite_cache is not None and -SQLITE_IMPORT_CACHE_KIB < sqlite_cache:
        conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_IMPORT_CACHE_KIB}")
    try:
        _write_rows(conn, v=v, data_date=data_date, now=now, batches=batches, res=res)
        _record_import(conn, res=res, now=now, data_date=data_date, **record)
        t = time.monotonic()
        _sqlite_analyze(conn)  # in the transaction, still off the loop
        res.timings["analyze"] = time.monotonic() - t
    finally:
        if sqlite_cache is not None:
            conn.exec_driver_sql(f"PRAGMA cache_size={int(sqlite_cache)}")


# PostgreSQL: COPY into temporary staging tables, then set-based statements. No id look-ups
# from Python: households and people are joined on their natural keys inside the server.
_PG_STAGE = (
    "CREATE TEMPORARY TABLE dtsen_stage_people (nik text, kk text, nama text, jk text,"
    " tgl date, hub text, dis boolean, programs text[]) ON COMMIT DROP",
    "CREATE TEMPORARY TABLE dtsen_stage_households (no_kk text, alamat text, rt text,"
    " rw text, kel text, kec text, desil smallint) ON COMMIT DROP",
)
_PG_PEOPLE_COLS = ("nik", "kk", "nama", "jk", "tgl", "hub", "dis", "programs")
_PG_HH_COLS = ("no_kk", "alamat", "rt", "rw", "kel", "kec", "desil")
_PG_HOUSEHOLDS = sa.text(
    "INSERT INTO households AS h (no_kk, alamat, rt, rw, kelurahan_code, kecamatan_code, desil,"
    " data_date, updated_at)"
    " SELECT DISTINCT ON (no_kk) no_kk, alamat, rt, rw, kel, kec, desil, :data_date, :now"
    " FROM dtsen_stage_households"
    " ON CONFLICT (no_kk) DO UPDATE SET alamat = EXCLUDED.alamat, rt = EXCLUDED.rt,"
    " rw = EXCLUDED.rw, kelurahan_code = EXCLUDED.kelurahan_code,"
    " kecamatan_code = EXCLUDED.kecamatan_code, desil = EXCLUDED.desil,"
    " data_date = EXCLUDED.data_date, updated_at = EXCLUDED.updated_at"
).bindparams(
    sa.bindparam("data_date", type_=sa.Date()), sa.bindparam("now", type_=sa.DateTime(True))
)
PG_WORK_MEM = "256MB"


def _pg_bulk_keys() -> tuple[list[Any], list[sa.Index]]:
    """What a first load drops and builds again (schema.py's own objects, so the names match
    the migrations): the foreign keys people -> households and program_memberships -> people,
    people's unique NIK and household index, program_memberships' primary key. Returns
    (constraints, indexes)."""
    constraints: list[Any] = [
        c
        for t in (people, program_memberships)
        for c in t.constraints
        if isinstance(c, sa.ForeignKeyConstraint)
    ]
    constraints += [
        c
        for c in people.constraints
        if isinstance(c, sa.UniqueConstraint) and [col.name for col in c.columns] == ["nik"]
    ]
    constraints.append(program_memberships.primary_key)
    indexes = [i for i in people.indexes if [c.name for c in i.columns] == ["household_id"]]
    return constraints, indexes


# A re-import: drop only the programmes a person no longer has (the insert below skips the
# ones they keep), so an unchanged extract rewrites no membership row.
_PG_DELETE_MEMBERSHIPS = sa.text(
    "DELETE FROM program_memberships pm USING people p, dtsen_stage_people s"
    " WHERE pm.person_id = p.id AND p.nik = s.nik AND pm.program_code <> ALL (s.programs)"
)
# One statement: upsert the people and insert the programmes of the rows it returned.
# The people: a person whose row would not change is not rewritten (updated_at is when the
# row last changed). LEFT JOIN: a staged KK without its household would be a NULL
# household_id, refused by NOT NULL, never a silently dropped person (it cannot happen: every
# KK is staged with its first row).
_PEOPLE_FROM_STAGE = (
    " (nik, household_id, nama, jenis_kelamin, tanggal_lahir, hubungan, disabilitas, updated_at)"
    " SELECT s.nik, h.id, s.nama, s.jk, s.tgl, s.hub, s.dis, :now"
    " FROM dtsen_stage_people s LEFT JOIN households h ON h.no_kk = s.kk ORDER BY s.nik"
)
_PG_PEOPLE = sa.text(
    "INSERT INTO people AS p"
    + _PEOPLE_FROM_STAGE
    + " ON CONFLICT (nik) DO UPDATE SET household_id = EXCLUDED.household_id,"
    " nama = EXCLUDED.nama, jenis_kelamin = EXCLUDED.jenis_kelamin,"
    " tanggal_lahir = EXCLUDED.tanggal_lahir, hubungan = EXCLUDED.hubungan,"
    " disabilitas = EXCLUDED.disabilitas, updated_at = EXCLUDED.updated_at"
    " WHERE (p.household_id, p.nama, p.jenis_kelamin, p.tanggal_lahir, p.hubungan,"
    " p.disabilitas) IS DISTINCT FROM (EXCLUDED.household_id, EXCLUDED.nama,"
    " EXCLUDED.jenis_kelamin, EXCLUDED.tanggal_lahir, EXCLUDED.hubungan, EXCLUDED.disabilitas)"
).bindparams(sa.bindparam("now", type_=sa.DateTime(True)))
# A first load (keys dropped, nothing to conflict with): the same rows, plain inserts.
_PG_PEOPLE_BULK = sa.text("INSERT INTO people" + _PEOPLE_FROM_STAGE).bindparams(
    sa.bindparam("now", type_=sa.DateTime(True))
)
_PG_MEMBERSHIPS_BULK = sa.text(
    "INSERT INTO program_memberships (person_id, program_code)"
    " SELECT p.id, c.code FROM dtsen_stage_people s JOIN people p ON p.nik = s.nik"
    " CROSS JOIN LATERAL unnest(s.programs) AS c(code)"
)
_PG_MEMBERSHIPS = sa.text(
    "INSERT INTO program_memberships (person_id, program_code)"
    " SELECT p.id, c.code FROM dtsen_stage_people s JOIN people p ON p.nik = s.nik"
    " CROSS JOIN LATERAL unnest(s.programs) AS c(code)"
    " ON CONFLICT (person_id, program_code) DO NOTHING"
)
PG_ANALYZE = "ANALYZE households, people, program_memberships"


def _pg_records(batches: Iterator[list[tuple]], v: DtsenValidator):
    """(people records, household records) per batch, ready for COPY. Runs in a thread.

    A household record is staged when a row's KK differs from the previous row's (the rows of
    a KK are usually adjacent; repeats are dropped by DISTINCT ON), so no set of all KKs is
    held in memory."""
    household = v.household
    last_kk = None
    for batch in batches:
        hh: list[tuple] = []
        recs: list[tuple] = []
        for kk, nik, nama, jk, born, hub, codes, dis in batch:
            if kk != last_kk:
                try:
                    hh.append((kk, *household(kk)))
                except (KeyError, TypeError):
                    raise _FileChanged from None  # a KK pass 1 never saw (or saw only bad)
                last_kk = kk
            recs.append((nik, kk, nama, jk, born, hub, dis, list(codes)))
        yield recs, hh


async def _pg_write(
    conn,
    *,
    data_date: date,
    now: datetime,
    v: DtsenValidator,
    batches: Iterator[list[tuple]],
    res: _WriteResult,
    record: dict[str, Any],
    progress: bool = False,
    on_progress: ProgressFn | None = None,
) -> None:
    """Pass 2 on PostgreSQL (an AsyncConnection inside the transaction). The file is read and
    converted in a worker thread, batch by batch; each batch is COPied into the staging
    tables while the next one is read."""
    raw = await conn.get_raw_connection()
    apg = raw.driver_connection  # asyncpg: COPY has no SQLAlchemy form
    # Hash joins and the sort by NIK of a million staged rows, in memory (this transaction only).
    await conn.execute(sa.text(f"SET LOCAL work_mem = '{PG_WORK_MEM}'"))
    for ddl in _PG_STAGE:
        await conn.execute(sa.text(ddl))
    people_before = (
        await conn.execute(sa.select(sa.func.count()).select_from(people))
    ).scalar_one()
    t0 = time.monotonic()
    records = _pg_records(batches, v)
    nxt = None
    try:
        nxt = asyncio.ensure_future(asyncio.to_thread(next, records, None))
        while True:
            item = await nxt
            if item is None:
                break
            nxt = asyncio.ensure_future(asyncio.to_thread(next, records, None))
            recs, hh = item
            if hh:
                await apg.copy_records_to_table(
                    "dtsen_stage_households", records=hh, columns=_PG_HH_COLS
                )
            await apg.copy_records_to_table(
                "dtsen_stage_people", records=recs, columns=_PG_PEOPLE_COLS
            )
            res.rows_imported += len(recs)
    except BaseException:
        if nxt is not None and not nxt.done():
            with suppress(BaseException):
                await nxt  # the thread is running the generator: let it finish first
        raise
    finally:
        records.close()
    res.timings["stage"] = time.monotonic() - t0
    steps = 4
    with _bar(progress, "saving", steps) as bar:

        def step(n: int) -> None:
            bar.update(1)
            if on_progress is not None:
                on_progress("saving", n, steps)

        await _pg_save(
            conn, data_date=data_date, now=now, res=res, step=step, fresh=people_before == 0
        )
        people_after = (
            await conn.execute(sa.select(sa.func.count()).select_from(people))
        ).scalar_one()
    res.people_new = people_after - people_before
    res.people_updated = res.rows_imported - res.people_new
    await conn.run_sync(
        lambda c: _record_import(c, res=res, now=now, data_date=data_date, **record)
    )


async def _pg_save(
    conn, *, data_date: date, now: datetime, res: _WriteResult, step, fresh: bool
) -> None:
    """The set-based statements from the staging tables into the real ones."""
    t = time.monotonic()

    def took(name: str) -> None:
        nonlocal t
        now_ = time.monotonic()
        res.timings[name] = now_ - t
        t = now_

    await conn.execute(sa.text("ANALYZE dtsen_stage_people, dtsen_stage_households"))
    res.households = (
        await conn.execute(_PG_HOUSEHOLDS, {"data_date": data_date, "now": now})
    ).rowcount
    took("households")
    step(1)
    # A first load (no people yet) is a bulk load: the foreign keys, people's NIK and
    # household indexes and program_memberships' primary key are dropped, the rows inserted
    # plainly, and all of it built again in this transaction (one sort per index and one
    # validating pass per key instead of per-row index inserts, ON CONFLICT probes and two
    # trigger calls a person: 33 s -> 15 s for the people of 1M rows on a loaded machine). A
    # duplicate that slipped in would fail the unique key: the transaction rolls back. It
    # locks people, program_memberships and households until the commit; there is nobody to
    # look up yet. A re-import keeps everything (the live service reads these tables).
    constraints, indexes = _pg_bulk_keys() if fresh else ([], [])
    for c in constraints:
        await conn.execute(DropConstraint(c))
    for i in indexes:
        await conn.execute(sa.schema.DropIndex(i))
    if not fresh:
        await conn.execute(_PG_DELETE_MEMBERSHIPS)
    step(2)
    await conn.execute(_PG_PEOPLE_BULK if fresh else _PG_PEOPLE, {"now": now})
    if fresh:  # the memberships' join by NIK runs without people's index: plan it knowingly
        await conn.execute(sa.text("ANALYZE people"))
    took("people")
    await conn.execute(_PG_MEMBERSHIPS_BULK if fresh else _PG_MEMBERSHIPS)
    took("memberships")
    step(3)
    for i in indexes:
        await conn.execute(sa.schema.CreateIndex(i))
    for c in reversed(constraints):  # the primary key and unique NIK before the foreign keys
        await conn.execute(AddConstraint(c))
    took("keys")
    step(4)


def _pass2(
    *,
    path: Path,
    file_key,
    v: DtsenValidator,
    header: list[str],
    delimiter: str,
    reject_path: Path | None,
    rows_total: int,
    progress: bool,
    on_progress: ProgressFn | None,
    res: _WriteResult,
    size: int,
) -> Generator[list[tuple], None, None]:
    """Pass 2's reading: batches of `v.person` tuples (at most `size` each) of the rows whose
    KK passed; rejected rows go to the reject file. Streams: one batch in memory at a time.
    Raises _FileChanged when the file is not the one pass 1 checked."""
    rejected = v.rejected_kks
    reasons: dict[int, list[str]] = {}
    if rejected:
        for line, reason in v.errors:
            reasons.setdefault(line, []).append(reason)
    person = v.person
    kk_of = v.kk_of
    batch: list[tuple] = []
    if _file_key(path) != file_key:
        raise _FileChanged
    rf = rw = None
    seen_rows = 0
    try:
        with _gc_paused(), _bar(progress, "importing", rows_total) as bar:
            rows = _rows(path, delimiter)
            next(rows)  # header
            n = 0
            for line, cells in rows:
                n += 1
                seen_rows += 1
                if rejected:
                    bad = rejected.get(kk_of(cells))
                    if bad is not None:
                        if rw is None:
                            assert reject_path is not None  # rejected rows imply a path
                            rf, rw = _open_reject(reject_path, header, delimiter)
                        own = reasons.get(line)
                        if own:
                            why = f"baris {line}: " + "; ".join(own)
                        else:
                            why = (
                                f"baris {line}: {KK_REJECTED} (baris "
                                + ", ".join(map(str, bad[:10]))
                                + (", …" if len(bad) > 10 else "")
                                + ")"
                            )
                        rw.writerow([*cells, why])
                        res.rows_rejected += 1
                        continue
                try:
                    batch.append(person(cells))
                except (KeyError, ValueError, TypeError, IndexError):
                    raise _FileChanged from None  # a value pass 1 never saw
                if len(batch) >= size:
                    bar.update(n)
                    n = 0
                    if on_progress is not None:
                        on_progress("importing", seen_rows, rows_total)
                    yield batch
                    batch = []
            if batch:
                yield batch
            bar.update(n)
    finally:
        if rf is not None:
            rf.close()
    if seen_rows != rows_total or _file_key(path) != file_key:
        raise _FileChanged
    if on_progress is not None:
        on_progress("importing", seen_rows, rows_total)


def _write_rows(
    conn,
    *,
    v: DtsenValidator,
    data_date: date,
    now: datetime,
    batches: Iterator[list[tuple]],
    res: _WriteResult,
) -> None:
    """SQLite's writing (also used by nothing else): executemany batches of dialect upserts,
    household ids looked up by No. KK (cheap in SQLite: no network round trip)."""
    hh_upsert, people_upsert, pm_insert, pm_delete, hh_ids_q = _statements(conn.dialect.name)
    types = {c.name: c.type for c in (*households.c, *people.c)}
    types["code"] = types["nik"] = sa.String(16)
    put_households = _Executemany(
        conn, hh_upsert, HH_COLS, types, {"data_date": data_date, "updated_at": now}
    )
    put_people = _Executemany(conn, people_upsert, PEOPLE_COLS, types, {"updated_at": now})
    put_memberships = _Executemany(conn, pm_insert, PM_COLS, types, {})

    people_before = conn.execute(sa.select(sa.func.count()).select_from(people)).scalar_one()
    fresh = people_before == 0  # nothing to replace: skip the membership deletes
    hh_ids: dict[str, int] = {}
    household = v.household

    with _gc_paused():
        for batch in batches:
            new_kks: list[str] = []
            seen = set()
            for r in batch:
                kk = r[0]
                if kk not in hh_ids and kk not in seen:
                    seen.add(kk)
                    new_kks.append(kk)
            if new_kks:
                try:
                    hh_rows = [(kk, *household(kk)) for kk in new_kks]
                except (KeyError, TypeError):
                    raise _FileChanged from None  # a KK pass 1 never saw (or saw only bad)
                put_households(hh_rows)
                for i in range(0, len(new_kks), IN_CHUNK):
                    hh_ids.update(conn.execute(hh_ids_q, {"kks": new_kks[i : i + IN_CHUNK]}).all())
            # r = (kk, nik, nama, jenis_kelamin, tanggal_lahir, hubungan, programs, disabilitas);
            # in NIK order, so that consecutive inserts touch neighbouring index pages
            batch.sort(key=_by_nik)
            put_people([(r[1], hh_ids[r[0]], r[2], r[3], r[4], r[5], r[7]) for r in batch])
            if not fresh:
                niks = [r[1] for r in batch]
                for i in range(0, len(niks), IN_CHUNK):
                    conn.execute(pm_delete, {"niks": niks[i : i + IN_CHUNK]})
            put_memberships([(code, r[1]) for r in batch for code in r[6]])
            res.rows_imported += len(batch)

    res.households = len(hh_ids)
    people_after = conn.execute(sa.select(sa.func.count()).select_from(people)).scalar_one()
    res.people_new = people_after - people_before
    res.people_updated = res.rows_imported - res.people_new


def _record_import(
    conn,
    *,
    res: _WriteResult,
    file_name: str,
    data_date: date,
    rows_total: int,
    now: datetime,
    actor: str,
    detail_extra: dict[str, Any],
    job_id: int | None,
) -> None:
    """The data_imports row, the audit row and (for a dashboard job) the job's result, in the
    import's own transaction: an import is never committed without them."""
    res.import_id = conn.execute(
        data_imports.insert().returning(data_imports.c.id),
        {
            "file_name": file_name[:255],
            "data_date": data_date,
            "rows_total": rows_total,
            "rows_imported": res.rows_imported,
            "rows_rejected": res.rows_rejected,
            "households": res.households,
            "imported_at": now,
            "actor": actor[:64],
        },
    ).scalar_one()
    conn.execute(
        audit_log.insert(),
        {
            "at": now,
            "actor": actor[:128],
            "action": "import-dtsen",
            "subject": f"data_imports:{res.import_id}",
            "detail": {
                "file_name": file_name,
                "data_date": data_date.isoformat(),
                "rows_total": rows_total,
                "rows_imported": res.rows_imported,
                "rows_rejected": res.rows_rejected,
                "households": res.households,
                "people_new": res.people_new,
                "people_updated": res.people_updated,
                **detail_extra,
            },
        },
    )
    if job_id is not None:
        conn.execute(
            import_jobs.update()
            .where(import_jobs.c.id == job_id)
            .values(
                state="done",
                finished_at=datetime.now(UTC),
                heartbeat_at=datetime.now(UTC),
                rows_done=rows_total,
                rows_total=rows_total,
                rows_imported=res.rows_imported,
                rows_rejected=res.rows_rejected,
                households=res.households,
                people_new=res.people_new,
                people_updated=res.people_updated,
                import_id=res.import_id,
            )
        )


# --- entry point -----------------------------------------------------------------------------


async def import_dtsen(
    db: Database,
    path: Path,
    *,
    region: Region,
    programs: ProgramsConfig,
    data_date: date,
    skip_invalid: bool = False,
    reject_path: Path | None = None,
    progress: bool = False,
    on_progress: ProgressFn | None = None,
    actor: str = "cli:import-dtsen",
    today: date | None = None,
    job_id: int | None = None,
    file_name: str | None = None,
) -> ImportReport:
    """Check `path`, then import it (see the module docstring for the rules).

    `today` (default: the local date) is the reference for "birth date in the future".
    `progress` draws tqdm bars on a terminal; `on_progress(phase, rows_done, rows_total)` is
    called from a worker thread every BATCH rows (phase "checking", total 0 = not known yet;
    then "importing"). `job_id`: the import_jobs row marked done in the import's transaction.
    `file_name`: the name recorded (default: the path's; a dashboard upload is stored under
    another name).
    """
    started = time.monotonic()
    path = Path(path)
    today = today or date.today()
    name = file_name or path.name
    report = ImportReport(file_name=name, data_date=data_date)
    file_key = _file_key(path)  # pass 2 refuses a file that changed after this

    # Pass 1 is pure CPU: run it in a thread so a server's event loop keeps breathing.
    v, header, delimiter, fatal = await asyncio.to_thread(
        _check_file, path, region, programs, today, progress, on_progress
    )
    if fatal is not None:
        report.errors = [fatal]
        report.seconds = time.monotonic() - started
        return report

    assert v is not None
    report.timings["check"] = time.monotonic() - started
    report.rows_total = v.rows
    report.errors = [RowError(line, reason) for line, reason in v.errors]
    if report.errors and not skip_invalid:
        report.rows_rejected = len({e.line for e in report.errors})
        report.seconds = time.monotonic() - started
        return report

    if v.rejected_kks:
        reject_path = Path(reject_path) if reject_path else default_reject_path(path)
    now = datetime.now(UTC)
    res = _WriteResult()
    batches = _pass2(
        path=path,
        file_key=file_key,
        v=v,
        header=header,
        delimiter=delimiter,
        reject_path=reject_path,
        rows_total=v.rows,
        progress=progress,
        on_progress=on_progress,
        res=res,
        size=BATCH if db.is_sqlite else PG_BATCH,
    )
    record = {
        "file_name": name,
        "rows_total": v.rows,
        "actor": actor,
        "detail_extra": {"skip_invalid": skip_invalid, "errors": len(v.errors)},
        "job_id": job_id,
    }
    kw: dict[str, Any] = {
        "data_date": data_date,
        "now": now,
        "v": v,
        "batches": batches,
        "res": res,
    }
    try:
        if db.is_sqlite:
            side = db.sqlite_side_engine()
            if side is None:  # an in-memory database: one connection, on the loop
                async with db.tx() as conn:
                    await conn.run_sync(lambda c: _sqlite_write(c, record=record, **kw))
            else:
                await asyncio.to_thread(_in_side_tx, side, _sqlite_write, record=record, **kw)
        else:
            async with db.tx() as conn:
                await _pg_write(
                    conn, record=record, progress=progress, on_progress=on_progress, **kw
                )
    except BaseException as e:
        batches.close()
        if v.rejected_kks and reject_path is not None:
            reject_path.unlink(missing_ok=True)  # it would describe an import that did not happen
        if not isinstance(e, _FileChanged):
            raise
        report.errors = [RowError(0, FILE_CHANGED)]
        report.rows_rejected = 0
        report.seconds = time.monotonic() - started
        return report
    report.timings["write"] = time.monotonic() - started - report.timings["check"]
    if not db.is_sqlite:
        t_analyze = time.monotonic()
        await analyze(db)
        res.timings["analyze"] = time.monotonic() - t_analyze
    report.timings.update(res.timings)

    report.imported = True
    report.rows_imported = res.rows_imported
    report.rows_rejected = res.rows_rejected
    report.households = res.households
    report.people_new = res.people_new
    report.people_updated = res.people_updated
    report.reject_path = reject_path if res.rows_rejected else None
    report.seconds = time.monotonic() - started
    return report


def _in_side_tx(engine: sa.Engine, fn, **kw):
    """Run fn(conn, **kw) in one write transaction on a connection of `engine`, then drop it."""
    try:
        with engine.begin() as conn:
            return fn(conn, **kw)
    finally:
        engine.dispose()


SQLITE_ANALYZE = (
    # A sampled ANALYZE (a few hundred ms on a million rows) so the planner knows the sizes.
    "PRAGMA analysis_limit=1000",
    "ANALYZE households",
    "ANALYZE people",
    "ANALYZE program_memberships",
    "PRAGMA optimize",
)


def _sqlite_analyze(conn) -> None:
    for stmt in SQLITE_ANALYZE:
        conn.exec_driver_sql(stmt)


async def analyze(db: Database) -> None:
    """Refresh the planner's statistics of the imported tables (PostgreSQL: after the commit;
    SQLite does it in the import's transaction, in its worker thread). Without it PostgreSQL
    planned the programmes query as a sequential scan right after a big import (issue #14:
    76 ms a check until autovacuum came by)."""
    if db.is_sqlite:
        async with db.tx() as conn:
            await conn.run_sync(_sqlite_analyze)
    else:
        async with db.tx() as conn:
            await conn.execute(sa.text(PG_ANALYZE))
