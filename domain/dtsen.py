"""Checking a DTSEN extract, one CSV row at a time (pure rules, no I/O).

The extract has one row per person; a household is its No. KK. Columns (DESIGN.md, "Data"):

    no_kk, nik, nama, jenis_kelamin, tanggal_lahir, hubungan, alamat, rt, rw,
    kelurahan, kecamatan, desil, program, disabilitas

Use:

    columns = parse_header(first_row)          # a Columns, or a HeaderProblem for the clerk
    v = DtsenValidator(region, programs, today=..., columns=columns)
    for line, cells in rows:                   # line = physical CSV line of the row's start
        v.check_row(line, cells)
    v.finish()                                 # adds the cross-row errors
    v.errors                                   # [(line, reason), ...] sorted by line
    v.rejected_kks                             # {kk key: [lines with their own errors]}

    # second pass over the file, rows whose KK is not in rejected_kks:
    v.person(cells)        # (kk key, nik, nama, jenis_kelamin, tanggal_lahir, hubungan,
                           #  programs, disabilitas): cached lookups only, for bulk writes
    v.household(kk key)    # (alamat, rt, rw, kelurahan_code, kecamatan_code, desil)
    v.convert(cells)       # both as one CleanRow

The validator keeps only what the cross-row rules and the second pass need (each NIK's first
line until finish(), and per KK its household fields, head and line numbers: a few hundred
bytes per household), so it streams a file of 1,000,000 rows. Lookups that depend on a value
rather than on the person (kecamatan, kelurahan, RT/RW, desil, program lists, hubungan,
jenis_kelamin) are cached per distinct text, and the household fields are checked once per
run of rows that repeat them verbatim (the rows of a KK usually follow each other).

Policy for rows of one KK: alamat (compared ignoring case and extra spaces), RT, RW,
kelurahan, kecamatan and desil must agree; the first good row's values are the household's.

Reasons are in simple Indonesian, for Dinsos clerks ("NIK harus 16 angka, tertulis 15"). They
never contain an NIK or No. KK: a KK is shown masked ("3271 05•• •••• 0003"), other values only
when they hold no long run of digits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from operator import itemgetter

from domain.nik import IdProblem, NikInfo, check_kk, check_nik, clean_number, mask
from domain.programs import ProgramsConfig
from domain.region import Kecamatan, Region

__all__ = [
    "COLUMNS",
    "HEAD",
    "HUBUNGAN",
    "CleanRow",
    "Columns",
    "DtsenValidator",
    "HeaderProblem",
    "kk_key",
    "parse_header",
]

COLUMNS: tuple[str, ...] = (
    "no_kk",
    "nik",
    "nama",
    "jenis_kelamin",
    "tanggal_lahir",
    "hubungan",
    "alamat",
    "rt",
    "rw",
    "kelurahan",
    "kecamatan",
    "desil",
    "program",
    "disabilitas",
)
HEAD = "KEPALA_KELUARGA"
HUBUNGAN: tuple[str, ...] = (
    HEAD,
    "ISTRI",
    "SUAMI",
    "ANAK",
    "ORANG_TUA",
    "MERTUA",
    "CUCU",
    "FAMILI_LAIN",
    "LAINNYA",
)
MAX_NAMA = 120  # people.nama
MAX_ALAMAT = 255  # households.alamat
_MAX_LINES_SHOWN = 10

# Texts accepted for jenis_kelamin, after strip + casefold.
_GENDER = {
    "l": "L",
    "p": "P",
    "lk": "L",
    "pr": "P",
    "laki-laki": "L",
    "laki laki": "L",
    "lakilaki": "L",
    "perempuan": "P",
}
_MISSING = object()
_DIGIT_RUN = re.compile(r"\d{6,}")

_NIK_REASON = {
    "empty": "NIK kosong",
    "not_digits": "NIK hanya boleh berisi angka",
    "length": "NIK harus 16 angka, tertulis {got}",
    "province": "NIK: kode provinsi (2 angka pertama) tidak dikenal",
    "month": "NIK: bulan lahir (angka ke-9 dan ke-10) harus 01–12",
    "day": "NIK: tanggal lahir (angka ke-7 dan ke-8) harus 01–31, atau 41–71 untuk perempuan",
    "date": "NIK: tanggal lahir di NIK bukan tanggal yang ada di kalender",
    "serial": "NIK: nomor urut (4 angka terakhir) tidak boleh 0000",
    "future": "NIK: tanggal lahir di NIK belum terjadi",
}
_KK_REASON = {
    "empty": "No. KK kosong",
    "not_digits": "No. KK hanya boleh berisi angka",
    "length": "No. KK harus 16 angka, tertulis {got}",
    "province": "No. KK: kode provinsi (2 angka pertama) tidak dikenal",
    "month": "No. KK: bulan pencatatan (angka ke-9 dan ke-10) harus 01–12",
    "day": "No. KK: tanggal pencatatan (angka ke-7 dan ke-8) harus 01–31",
    "date": "No. KK: tanggal pencatatan bukan tanggal yang ada di kalender",
    "serial": "No. KK: nomor urut (4 angka terakhir) tidak boleh 0000",
    "future": "No. KK: tanggal pencatatan belum terjadi",
}


def _id_reason(table: dict[str, str], what: str, problem: IdProblem) -> str:
    text = table.get(problem.code)
    if text is None:
        return f"{what} tidak sesuai format"
    try:
        return text.format(**problem.params)
    except (KeyError, IndexError):
        return text.replace("{got}", "?")


def _shown(value: str) -> str:
    """A cell value safe to quote in a reason: never a long number (it could be an NIK)."""
    v = " ".join(value.split())
    if _DIGIT_RUN.search(v):
        return ""
    if len(v) > 40:
        v = v[:40] + "…"
    return f" '{v}'"


def _lines(lines: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:_MAX_LINES_SHOWN])
    more = len(lines) - _MAX_LINES_SHOWN
    return f"{shown}, dan {more} baris lain" if more > 0 else shown


def kk_key(raw: str) -> str:
    """How rows are grouped into a household: the No. KK without separators."""
    s = raw.strip().lstrip("'")  # Excel users force text with a leading apostrophe
    return s if (len(s) == 16 and s.isascii() and s.isdigit()) else clean_number(s)


def _nik_text(raw: str) -> str:
    s = raw.strip().lstrip("'")
    return s if (len(s) == 16 and s.isascii() and s.isdigit()) else clean_number(s)


# --- header ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeaderProblem:
    reason: str  # in Indonesian, for the clerk


@dataclass(frozen=True, slots=True)
class Columns:
    """Where each of COLUMNS is in the file (the file may order them differently)."""

    index: tuple[int, ...]  # position in the file of COLUMNS[i]
    count: int  # cells per row

    @classmethod
    def canonical(cls) -> Columns:
        return cls(tuple(range(len(COLUMNS))), len(COLUMNS))


def parse_header(cells: Sequence[str]) -> Columns | HeaderProblem:
    """Map the header row to COLUMNS (names compared trimmed and case-insensitively).

    A missing, unknown, unnamed or repeated column is a problem: the whole file is refused,
    because the clerk's export is then not the expected one."""
    names = [c.replace("\ufeff", "").strip().lower() for c in cells]
    parts = []
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        parts.append("kolom tidak ada: " + ", ".join(missing))
    unknown = [n for n in names if n and n not in COLUMNS]
    if unknown:
        parts.append("kolom tidak dikenal: " + ", ".join(_shown(n)[2:-1] or "?" for n in unknown))
    if "" in names:
        parts.append(f"ada {names.count('')} kolom tanpa nama")
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        parts.append("kolom ganda: " + ", ".join(repeated))
    if parts:
        return HeaderProblem(
            "baris judul (header) tidak sesuai — "
            + "; ".join(parts)
            + ". Kolom yang benar: "
            + ", ".join(COLUMNS)
        )
    return Columns(tuple(names.index(c) for c in COLUMNS), len(names))


# --- rows ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CleanRow:
    """One valid row, normalised for storage."""

    no_kk: str
    nik: str
    nama: str
    jenis_kelamin: str  # L | P
    tanggal_lahir: date
    hubungan: str  # one of HUBUNGAN
    alamat: str
    rt: str  # "003"
    rw: str
    kelurahan_code: str  # "3271011001"
    kecamatan_code: str  # "327101"
    desil: int
    programs: tuple[str, ...]  # known codes, upper case, no repeats
    disabilitas: bool


class _Kk:
    """What the cross-row rules (and the second pass) need to know about one No. KK.

    Kept small (one per household, 250,000 for a city of a million): the household fields
    are the normalised values of the first good row, sharing the cached strings."""

    __slots__ = ("key", "problem", "hh", "hh_line", "head_line", "hub_bad", "lines", "bad_lines")

    def __init__(self, key: str, problem: str | None):
        self.key = key
        self.problem = problem  # reason if the No. KK itself is malformed
        # (alamat, rt, rw, kelurahan_code, kecamatan_code, desil) of the first good row
        self.hh: tuple | None = None
        self.hh_line = 0  # line that set hh
        self.head_line = 0  # first KEPALA_KELUARGA line
        self.hub_bad = False  # a row had an unknown hubungan (then "no head" is not claimed)
        self.lines: list[int] = []
        self.bad_lines: list[int] | None = None


_HH_FIELDS = ("alamat", "RT", "RW", "kelurahan", "kecamatan", "desil")


def _differences(a: tuple, b: tuple) -> list[str]:
    """Names of the household fields that differ (alamat compared without case)."""
    if a == b:
        return []
    return [
        _HH_FIELDS[i]
        for i in range(6)
        if (a[i].casefold() != b[i].casefold() if i == 0 else a[i] != b[i])
    ]


class DtsenValidator:
    """Checks rows as they stream by; finish() adds the rules that need the whole file."""

    def __init__(
        self,
        region: Region,
        programs: ProgramsConfig,
        *,
        today: date,
        columns: Columns | None = None,
    ):
        self.region = region
        self.today = today
        self.columns = columns or Columns.canonical()
        self._get = itemgetter(*self.columns.index)
        self._kk_index = self.columns.index[0]
        self._known_programs = programs.known_codes()
        self.errors: list[tuple[int, str]] = []
        self.rows = 0
        self.finished = False
        self.rejected_kks: dict[str, list[int]] = {}
        self._kks: dict[str, _Kk] = {}
        self._last_kk: tuple[str, _Kk] | None = None  # rows of one KK are usually adjacent
        # household cells of the last row, its KK and their problems: checked once per run
        self._hh_raw: tuple | None = None
        self._hh_st: _Kk | None = None
        self._hh_problems: list[str] = []
        self._nik_line: dict[int, int] = {}
        self._dups: list[tuple[int, int]] = []  # (first line, later line)
        # per distinct text: (value, problem)
        self._c_kec: dict[str, tuple[Kecamatan | None, str | None]] = {}
        self._c_kel: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        self._c_rtrw: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        self._c_desil: dict[str, tuple[int | None, str | None]] = {}
        self._c_prog: dict[str, tuple[tuple[str, ...] | None, str | None]] = {}
        self._c_hub: dict[str, str | None] = {}
        self._c_gender: dict[str, str | None] = {}

    # -- cached field rules (each returns (value, problem)) -----------------------------------

    def _kecamatan(self, raw: str):
        hit = self._c_kec.get(raw)
        if hit is None:
            kec = self.region.find_kecamatan(raw.strip()) if raw.strip() else None
            if kec is not None:
                hit = (kec, None)
            elif not raw.strip():
                hit = (None, "kecamatan kosong")
            else:
                hit = (None, f"kecamatan{_shown(raw)} tidak dikenal di {self.region.name}")
            self._c_kec[raw] = hit
        return hit

    def _kelurahan(self, raw: str, kec: Kecamatan | None):
        key = (raw, kec.code if kec else "")
        hit = self._c_kel.get(key)
        if hit is None:
            text = raw.strip()
            if not text:
                hit = (None, "kelurahan kosong")
            else:
                kel = self.region.find_kelurahan(text, kecamatan=kec) if kec else None
                if kel is not None:
                    hit = (kel.code, None)
                else:
                    elsewhere = self.region.find_kelurahan(text)
                    if elsewhere is None:
                        hit = (None, f"kelurahan{_shown(raw)} tidak dikenal di {self.region.name}")
                    elif kec is None:
                        hit = (None, None)  # the kecamatan problem is reported already
                    else:
                        other = self.region.kecamatan_by_code(elsewhere.kecamatan_code)
                        hit = (
                            None,
                            f"kelurahan{_shown(raw)} tidak ada di kecamatan {kec.name}"
                            f" (ada di kecamatan {other.name if other else '?'})",
                        )
            self._c_kel[key] = hit
        return hit

    def _rtrw(self, raw: str, what: str):
        key = (raw, what)
        hit = self._c_rtrw.get(key)
        if hit is None:
            s = raw.strip()
            if s.isascii() and s.isdigit() and 1 <= int(s) <= 999:
                hit = (str(int(s)).zfill(3), None)
            elif not s:
                hit = (None, f"{what} kosong")
            else:
                shown = _shown(raw) or " angka yang terlalu panjang"
                hit = (None, f"{what} harus angka 1–999, tertulis{shown}")
            self._c_rtrw[key] = hit
        return hit

    def _desil(self, raw: str):
        hit = self._c_desil.get(raw)
        if hit is None:
            s = raw.strip()
            if s.isascii() and s.isdigit() and 1 <= int(s) <= 10:
                hit = (int(s), None)
            elif not s:
                hit = (None, "desil kosong")
            else:
                shown = _shown(raw) or " angka yang terlalu panjang"
                hit = (None, f"desil harus angka 1–10, tertulis{shown}")
            self._c_desil[raw] = hit
        return hit

    def _programs(self, raw: str):
        hit = self._c_prog.get(raw)
        if hit is None:
            codes: list[str] = []
            unknown: list[str] = []
            for part in raw.replace(",", ";").split(";"):
                code = part.strip().upper()
                if not code:
                    continue
                if code not in self._known_programs:
                    unknown.append(_shown(part).strip() or "?")
                elif code not in codes:
                    codes.append(code)
            if unknown:
                hit = (
                    None,
                    "program tidak dikenal: "
                    + ", ".join(unknown)
                    + " (yang dikenal: "
                    + ", ".join(sorted(self._known_programs))
                    + ")",
                )
            else:
                hit = (tuple(codes), None)
            self._c_prog[raw] = hit
        return hit

    def _hubungan(self, raw: str) -> str | None:
        try:
            return self._c_hub[raw]
        except KeyError:
            key = "_".join(raw.replace("-", " ").replace("_", " ").upper().split())
            value = key if key in HUBUNGAN else None
            self._c_hub[raw] = value
            return value

    def _gender(self, raw: str) -> str | None:
        try:
            return self._c_gender[raw]
        except KeyError:
            value = _GENDER.get(" ".join(raw.split()).casefold())
            self._c_gender[raw] = value
            return value

    def _household(self, alamat: str, rt: str, rw: str, kel: str, kec: str, desil: str):
        """(normalised household tuple or None, problems) for a row's household cells."""
        problems: list[str] = []
        a = " ".join(alamat.split())
        if len(a) > MAX_ALAMAT:
            problems.append(f"alamat terlalu panjang (paling banyak {MAX_ALAMAT} huruf)")
        rt_v, p = self._rtrw(rt, "RT")
        if p:
            problems.append(p)
        rw_v, p = self._rtrw(rw, "RW")
        if p:
            problems.append(p)
        kec_v, p = self._kecamatan(kec)
        if p:
            problems.append(p)
        kel_v, p = self._kelurahan(kel, kec_v)
        if p:
            problems.append(p)
        desil_v, p = self._desil(desil)
        if p:
            problems.append(p)
        if problems or kel_v is None or kec_v is None:
            return None, problems
        return (a, rt_v, rw_v, kel_v, kec_v.code, desil_v), problems

    def _kk(self, kk_raw: str) -> _Kk:
        last = self._last_kk
        if last is not None and last[0] == kk_raw:
            return last[1]
        key = kk_key(kk_raw)
        st = self._kks.get(key)
        if st is None:
            info = check_kk(kk_raw.strip().lstrip("'"), self.today)
            problem = _id_reason(_KK_REASON, "No. KK", info) if type(info) is IdProblem else None
            st = self._kks[key] = _Kk(key, problem)
        self._last_kk = (kk_raw, st)
        return st

    # -- one row ------------------------------------------------------------------------------

    def check_row(self, line: int, cells: Sequence[str]) -> list[str]:
        """Check one row; record and return its problems ([] if it is fine so far)."""
        self.rows += 1
        n = len(cells)
        kk_raw = cells[self._kk_index] if n > self._kk_index else ""
        last = self._last_kk
        st = last[1] if last is not None and last[0] == kk_raw else self._kk(kk_raw)
        st.lines.append(line)

        if n != self.columns.count:
            problems: list[str] = [
                f"jumlah kolom {n}, seharusnya {self.columns.count}"
                " (periksa tanda koma atau tanda kutip di baris ini)"
            ]
            return self._record(line, st, problems)

        (_, nik, nama, jk, tgl, hub, alamat, rt, rw, kel, kec, desil, prog, dis) = self._get(cells)
        problems = []
        if st.problem:
            problems.append(st.problem)

        # NIK, and its agreement with jenis_kelamin and tanggal_lahir
        nik_info: NikInfo | IdProblem | None
        nik_info = check_nik(nik if len(nik) == 16 else nik.strip().lstrip("'"), self.today)
        if isinstance(nik_info, IdProblem):
            problems.append(_id_reason(_NIK_REASON, "NIK", nik_info))
            nik_info = None
        else:
            first = self._nik_line.setdefault(int(nik_info.nik), line)
            if first != line:
                self._dups.append((first, line))
                problems.append(f"NIK sama dengan baris {first} (satu NIK hanya boleh satu baris)")

        if not nama or nama.isspace():
            problems.append("nama kosong")
        elif len(nama) > MAX_NAMA and len(" ".join(nama.split())) > MAX_NAMA:
            problems.append(f"nama terlalu panjang (paling banyak {MAX_NAMA} huruf)")

        gender = self._c_gender.get(jk, _MISSING)
        if gender is _MISSING:
            gender = self._gender(jk)
        if gender is None:
            problems.append(f"jenis_kelamin harus L atau P, tertulis{_shown(jk) or ' kosong'}")
        elif nik_info is not None and gender != nik_info.gender:
            problems.append("jenis kelamin tidak cocok dengan NIK")

        born = None
        t = tgl if len(tgl) == 10 else tgl.strip()
        if len(t) == 10 and t[4] == "-" and t[7] == "-":
            try:
                born = date.fromisoformat(t)
            except ValueError:
                pass
        if born is None:
            problems.append(
                "tanggal_lahir harus tanggal yang ada, dengan format TTTT-BB-HH (contoh 1985-07-21)"
            )
        elif born > self.today:
            problems.append("tanggal lahir belum terjadi (di masa depan)")
        elif nik_info is not None:
            b = nik_info.birth_date  # same DDMMYY, maybe another century: that is fine
            if b != born and (
                b.day != born.day or b.month != born.month or b.year % 100 != born.year % 100
            ):
                problems.append("tanggal lahir tidak cocok dengan NIK")

        role = self._c_hub.get(hub, _MISSING)
        if role is _MISSING:
            role = self._hubungan(hub)
        if role is None:
            st.hub_bad = True
            problems.append(
                f"hubungan{_shown(hub) or ' kosong'} tidak dikenal; isi salah satu: "
                + ", ".join(HUBUNGAN)
            )
        elif role == HEAD:
            if st.head_line:
                problems.append(
                    f"KEPALA_KELUARGA lebih dari satu dalam satu KK"
                    f" (kepala keluarga sudah ada di baris {st.head_line})"
                )
            else:
                st.head_line = line

        hit = self._c_prog.get(prog)
        if hit is None:
            hit = self._programs(prog)
        if hit[1]:
            problems.append(hit[1])
        if dis != "0" and dis != "1" and dis.strip() not in ("0", "1"):
            problems.append(f"disabilitas harus 0 atau 1, tertulis{_shown(dis) or ' kosong'}")

        # household fields: checked once per run of rows that repeat them verbatim
        raw_hh = (alamat, rt, rw, kel, kec, desil)
        if st is not self._hh_st or raw_hh != self._hh_raw:
            hh, hh_problems = self._household(*raw_hh)
            if hh is not None:
                if st.hh is None:
                    st.hh, st.hh_line = hh, line
                else:
                    fields = _differences(hh, st.hh)
                    if fields:
                        hh_problems = [
                            f"{', '.join(fields)} berbeda dengan baris {st.hh_line} padahal"
                            f" No. KK sama ({mask(st.key) if st.key else 'kosong'}); alamat, RT,"
                            " RW, kelurahan, kecamatan dan desil harus sama untuk satu KK"
                        ]
            self._hh_st, self._hh_raw, self._hh_problems = st, raw_hh, hh_problems
        if self._hh_problems:
            problems.extend(self._hh_problems)

        if problems:
            self._record(line, st, problems)
        return problems

    def _record(self, line: int, st: _Kk, problems: list[str]) -> list[str]:
        if st.bad_lines is None:
            st.bad_lines = []
        st.bad_lines.append(line)
        errors = self.errors
        for p in problems:
            errors.append((line, p))
        return problems

    # -- the whole file -----------------------------------------------------------------------

    def finish(self) -> list[tuple[int, str]]:
        """Add the rules that need every row, sort the errors by line, fill rejected_kks."""
        if self.finished:
            return self.errors
        self.finished = True
        extra: list[tuple[int, str]] = []
        marks: list[tuple[int, str]] = []  # (line, reason) for lines whose KK must be found

        if self._dups:
            later_of: dict[int, list[int]] = {}
            for first, later in self._dups:
                later_of.setdefault(first, []).append(later)
            for first, laters in later_of.items():
                marks.append((first, f"NIK yang sama tertulis lagi di baris {_lines(laters)}"))

        for key, st in self._kks.items():
            if not st.head_line and not st.hub_bad and st.problem is None:
                extra.append(
                    (
                        st.lines[0],
                        f"KK {mask(key) if key else '(kosong)'} tidak punya "
                        f"KEPALA_KELUARGA (baris {_lines(st.lines)}); tiap KK harus punya"
                        " tepat satu",
                    )
                )
                st.bad_lines = [*(st.bad_lines or ()), st.lines[0]]

        if marks:
            wanted = {line for line, _ in marks}
            for st in self._kks.values():
                for line in st.lines:
                    if line in wanted:
                        st.bad_lines = [*(st.bad_lines or ()), line]
            extra.extend(marks)

        if extra:
            self.errors.extend(extra)
            self.errors.sort(key=lambda e: e[0])  # stable: a row's own problems stay in order
        self.rejected_kks = {
            key: sorted(set(st.bad_lines)) for key, st in self._kks.items() if st.bad_lines
        }
        self._nik_line = {}  # not needed any more; free the memory before the second pass
        return self.errors

    @property
    def households(self) -> int:
        return len(self._kks)

    def kk_of(self, cells: Sequence[str]) -> str:
        """The KK key of a raw row (how rows are grouped)."""
        return self._kk(cells[self._kk_index]).key if len(cells) > self._kk_index else ""

    # -- second pass --------------------------------------------------------------------------

    def household(self, key: str) -> tuple[str, str, str, str, str, int]:
        """(alamat, rt, rw, kelurahan_code, kecamatan_code, desil) of a KK that passed."""
        hh = self._kks[key].hh
        if hh is None:
            raise KeyError(f"KK {key!r} did not pass the check")
        return hh

    def person(self, cells: Sequence[str]) -> tuple:
        """(kk key, nik, nama, jenis_kelamin, tanggal_lahir, hubungan, programs, disabilitas)
        of a row that passed check_row; cached lookups only, nothing checked again."""
        (kk, nik, nama, jk, tgl, hub, _, _, _, _, _, _, prog, dis) = self._get(cells)
        return (
            self._kk(kk).key,
            nik if len(nik) == 16 else _nik_text(nik),
            " ".join(nama.split()),
            self._c_gender[jk],
            date.fromisoformat(tgl if len(tgl) == 10 else tgl.strip()),
            self._c_hub[hub],
            self._c_prog[prog][0],
            dis == "1" or dis.strip() == "1",
        )

    def convert(self, cells: Sequence[str]) -> CleanRow:
        """Normalise a row of a KK that passed (after finish())."""
        kk, nik, nama, jk, born, hub, programs, dis = self.person(cells)
        alamat, rt, rw, kel, kec, desil = self.household(kk)
        return CleanRow(
            kk, nik, nama, jk, born, hub, alamat, rt, rw, kel, kec, desil, programs, dis
        )
