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

The validator keeps only what the cross-row rules and the second pass need, in flat arrays
rather than objects (docs/benchmarks.md, "Import memory": ~80 bytes a person at 1M rows, 241
with a dict and an object per KK): each NIK's first line until finish() (an open-addressing
int table), per row its line and its KK's ordinal until finish() (a KK's lines are gathered
from them only for the KKs an error message lists), and per KK its household fields (alamat
in one UTF-8 blob, the repeated values as indexes of one shared list), head line and
first-good-row line, so it streams a file of 10,000,000 rows. Lookups that depend on a value
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
from array import array
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


class _IntMap:
    """A map of positive ints (< 2**64) to ints (< 2**32) in two flat arrays: open addressing,
    linear probing, at most 3/4 full. About 16-32 bytes an entry where a dict of int objects
    takes ~100 (the 16-digit key object, the value object and the dict's slot); this is what
    lets the check hold 10,000,000 NIKs (docs/benchmarks.md, "Import memory")."""

    __slots__ = ("keys", "limit", "mask", "shift", "size", "vals")

    def __init__(self, bits: int = 14):
        n = 1 << bits
        self.keys = array("Q", bytes(8 * n))  # 0 = empty slot
        self.vals = array("I", bytes(4 * n))
        self.mask = n - 1
        self.shift = 64 - bits
        self.size = 0
        self.limit = n * 3 // 4

    def setdefault(self, key: int, value: int) -> int:
        """The value of `key`, storing `value` first when the key is new."""
        keys = self.keys
        mask = self.mask
        i = ((key * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) >> self.shift
        while True:
            k = keys[i]
            if k == key:
                return self.vals[i]
            if not k:
                break
            i = (i + 1) & mask
        keys[i] = key
        self.vals[i] = value
        self.size += 1
        if self.size > self.limit:
            self._grow()
        return value

    def get(self, key: int) -> int | None:
        keys = self.keys
        mask = self.mask
        i = ((key * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) >> self.shift
        while True:
            k = keys[i]
            if k == key:
                return self.vals[i]
            if not k:
                return None
            i = (i + 1) & mask

    def _grow(self) -> None:
        old_keys, old_vals, size = self.keys, self.vals, self.size
        self.__init__(64 - self.shift + 1)  # type: ignore[misc]
        self.size = size
        keys, vals, mask, shift = self.keys, self.vals, self.mask, self.shift
        for k, v in zip(old_keys, old_vals, strict=True):
            if k:  # the keys are distinct: find the first free slot
                i = ((k * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) >> shift
                while keys[i]:
                    i = (i + 1) & mask
                keys[i] = k
                vals[i] = v


def _kk_int(key: str) -> int:
    """A KK key of exactly 16 ASCII digits as an int + 1 (0 marks "not such a key")."""
    return int(key) + 1 if len(key) == 16 and key.isascii() and key.isdigit() else 0


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
        # Per KK, in parallel flat arrays indexed by the KK's ordinal (order of first row),
        # not one object each: 10,000,000 people (2,500,000 KK) must fit in well under 1 GiB.
        self._kk_ids = _IntMap()  # int(key) + 1 -> ordinal, for keys of 16 digits
        self._kk_odd: dict[str, int] = {}  # other keys (malformed No. KK) -> ordinal
        self._kk_num = array("Q")  # ordinal -> int(key) + 1, or 0 (then in _kk_odd_key)
        self._kk_odd_key: dict[int, str] = {}
        self._kk_problem: dict[int, str] = {}  # reason if the No. KK itself is malformed
        self._hh_line = array("I")  # line that set the household fields (0: none yet)
        self._head_line = array("I")  # first KEPALA_KELUARGA line (0: none)
        self._hub_bad = bytearray()  # a row had an unknown hubungan ("no head" not claimed)
        # household fields of the first good row: alamat as UTF-8 in one blob (offset,
        # length), rt, rw and (kelurahan_code, kecamatan_code) as indexes into _values (the
        # few distinct values, shared), desil (0 = no good row yet)
        self._alamat = bytearray()
        self._alamat_at = array("Q")
        self._alamat_len = array("H")  # <= MAX_ALAMAT characters, <= 4 bytes each
        self._hh_rt = array("I")
        self._hh_rw = array("I")
        self._hh_place = array("I")
        self._hh_desil = bytearray()
        self._values: list = []
        self._value_ix: dict[object, int] = {}
        self._bad: dict[int, list[int]] = {}  # ordinal -> lines with problems
        # per row, in file order: its line and its KK's ordinal (finish() finds a KK's
        # lines here, only for the KKs an error message needs them for)
        self._row_line = array("I")
        self._row_kk = array("I")
        self._last_kk: tuple[str, int] | None = None  # rows of one KK are usually adjacent
        self._last_key: tuple[str, str] | None = None  # the same for kk_of / person
        # household cells of the last row, its KK and their problems: checked once per run
        self._hh_raw: tuple | None = None
        self._hh_st = -1
        self._hh_problems: list[str] = []
        self._nik_line = _IntMap()  # int(nik) -> first line
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

    def _kk(self, kk_raw: str) -> int:
        """The ordinal of a row's KK (a new one for a KK not seen before)."""
        last = self._last_kk
        if last is not None and last[0] == kk_raw:
            return last[1]
        key = kk_key(kk_raw)
        num = _kk_int(key)
        new = len(self._kk_num)
        st = self._kk_ids.setdefault(num, new) if num else self._kk_odd.setdefault(key, new)
        if st == new:
            self._kk_num.append(num)
            if not num:
                self._kk_odd_key[new] = key
            self._hh_line.append(0)
            self._head_line.append(0)
            self._hub_bad.append(0)
            self._alamat_at.append(0)
            self._alamat_len.append(0)
            self._hh_rt.append(0)
            self._hh_rw.append(0)
            self._hh_place.append(0)
            self._hh_desil.append(0)
            info = check_kk(kk_raw.strip().lstrip("'"), self.today)
            if type(info) is IdProblem:
                self._kk_problem[new] = _id_reason(_KK_REASON, "No. KK", info)
        self._last_kk = (kk_raw, st)
        return st

    def _value(self, value: object) -> int:
        """The index of a (shared) household value in _values."""
        ix = self._value_ix.get(value)
        if ix is None:
            ix = self._value_ix[value] = len(self._values)
            self._values.append(value)
        return ix

    def _hh(self, st: int) -> tuple[str, str, str, str, str, int]:
        """The household fields of KK `st` (which has them: _hh_desil[st] != 0)."""
        at = self._alamat_at[st]
        values = self._values
        kel, kec = values[self._hh_place[st]]
        return (
            self._alamat[at : at + self._alamat_len[st]].decode(),
            values[self._hh_rt[st]],
            values[self._hh_rw[st]],
            kel,
            kec,
            self._hh_desil[st],
        )

    def _ordinal(self, key: str) -> int | None:
        num = _kk_int(key)
        return self._kk_ids.get(num) if num else self._kk_odd.get(key)

    def _key(self, st: int) -> str:
        num = self._kk_num[st]
        return str(num - 1).zfill(16) if num else self._kk_odd_key[st]

    def _key_of(self, kk_raw: str) -> str:
        last = self._last_key
        if last is not None and last[0] == kk_raw:
            return last[1]
        key = kk_key(kk_raw)
        self._last_key = (kk_raw, key)
        return key

    # -- one row ------------------------------------------------------------------------------

    def check_row(self, line: int, cells: Sequence[str]) -> list[str]:
        """Check one row; record and return its problems ([] if it is fine so far)."""
        self.rows += 1
        n = len(cells)
        kk_raw = cells[self._kk_index] if n > self._kk_index else ""
        last = self._last_kk
        st = last[1] if last is not None and last[0] == kk_raw else self._kk(kk_raw)
        self._row_line.append(line)
        self._row_kk.append(st)

        if n != self.columns.count:
            problems: list[str] = [
                f"jumlah kolom {n}, seharusnya {self.columns.count}"
                " (periksa tanda koma atau tanda kutip di baris ini)"
            ]
            return self._record(line, st, problems)

        (_, nik, nama, jk, tgl, hub, alamat, rt, rw, kel, kec, desil, prog, dis) = self._get(cells)
        problems = []
        kk_problem = self._kk_problem.get(st) if self._kk_problem else None
        if kk_problem:
            problems.append(kk_problem)

        # NIK, and its agreement with jenis_kelamin and tanggal_lahir
        nik_info: NikInfo | IdProblem | None
        nik_info = check_nik(nik if len(nik) == 16 else nik.strip().lstrip("'"), self.today)
        if isinstance(nik_info, IdProblem):
            problems.append(_id_reason(_NIK_REASON, "NIK", nik_info))
            nik_info = None
        else:
            # _IntMap.setdefault(int(nik) + 1, line), inlined (it runs for every row)
            nl = self._nik_line
            key = int(nik_info.nik) + 1
            keys = nl.keys
            i = ((key * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) >> nl.shift
            while True:
                k = keys[i]
                if not k:
                    keys[i] = key
                    nl.vals[i] = first = line
                    nl.size += 1
                    if nl.size > nl.limit:
                        nl._grow()
                    break
                if k == key:
                    first = nl.vals[i]
                    break
                i = (i + 1) & nl.mask
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
            self._hub_bad[st] = 1
            problems.append(
                f"hubungan{_shown(hub) or ' kosong'} tidak dikenal; isi salah satu: "
                + ", ".join(HUBUNGAN)
            )
        elif role == HEAD:
            head_line = self._head_line[st]
            if head_line:
                problems.append(
                    f"KEPALA_KELUARGA lebih dari satu dalam satu KK"
                    f" (kepala keluarga sudah ada di baris {head_line})"
                )
            else:
                self._head_line[st] = line

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
                if not self._hh_desil[st]:
                    alamat_b = hh[0].encode()
                    self._alamat_at[st] = len(self._alamat)
                    self._alamat_len[st] = len(alamat_b)
                    self._alamat += alamat_b
                    self._hh_rt[st] = self._value(hh[1])
                    self._hh_rw[st] = self._value(hh[2])
                    self._hh_place[st] = self._value((hh[3], hh[4]))
                    self._hh_desil[st] = hh[5]
                    self._hh_line[st] = line
                else:
                    fields = _differences(hh, self._hh(st))
                    if fields:
                        kk_text = self._key(st)
                        hh_problems = [
                            f"{', '.join(fields)} berbeda dengan baris {self._hh_line[st]}"
                            f" padahal No. KK sama ({mask(kk_text) if kk_text else 'kosong'}); alamat,"
                            " RT, RW, kelurahan, kecamatan dan desil harus sama untuk satu KK"
                        ]
            self._hh_st, self._hh_raw, self._hh_problems = st, raw_hh, hh_problems
        if self._hh_problems:
            problems.extend(self._hh_problems)

        if problems:
            self._record(line, st, problems)
        return problems

    def _record(self, line: int, st: int, problems: list[str]) -> list[str]:
        bad = self._bad.get(st)
        if bad is None:
            bad = self._bad[st] = []
        bad.append(line)
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

        hub_bad, kk_problem, bad = self._hub_bad, self._kk_problem, self._bad
        headless = [
            st
            for st, head in enumerate(self._head_line)
            if not head and not hub_bad[st] and st not in kk_problem
        ]
        wanted = {line for line, _ in marks}
        lines_of: dict[int, list[int]] = {st: [] for st in headless}
        if lines_of or wanted:  # a KK's lines, from the rows (only when a message needs them)
            for st, line in zip(self._row_kk, self._row_line, strict=True):
                lines = lines_of.get(st)
                if lines is not None:
                    lines.append(line)
                if line in wanted:
                    bad.setdefault(st, []).append(line)
        for st in headless:
            key = self._key(st)
            lines = lines_of[st]
            extra.append(
                (
                    lines[0],
                    f"KK {mask(key) if key else '(kosong)'} tidak punya "
                    f"KEPALA_KELUARGA (baris {_lines(lines)}); tiap KK harus punya"
                    " tepat satu",
                )
            )
            bad.setdefault(st, []).append(lines[0])
        extra.extend(marks)

        if extra:
            self.errors.extend(extra)
            self.errors.sort(key=lambda e: e[0])  # stable: a row's own problems stay in order
        self.rejected_kks = {self._key(st): sorted(set(bad[st])) for st in sorted(bad) if bad[st]}
        # not needed any more; free the memory before the second pass
        self._nik_line = _IntMap(1)
        self._row_line = array("I")
        self._row_kk = array("I")
        return self.errors

    @property
    def households(self) -> int:
        return len(self._kk_num)

    def kk_of(self, cells: Sequence[str]) -> str:
        """The KK key of a raw row (how rows are grouped)."""
        return self._key_of(cells[self._kk_index]) if len(cells) > self._kk_index else ""

    # -- second pass --------------------------------------------------------------------------

    def household(self, key: str) -> tuple[str, str, str, str, str, int]:
        """(alamat, rt, rw, kelurahan_code, kecamatan_code, desil) of a KK that passed."""
        st = self._ordinal(key)
        if st is None or not self._hh_desil[st]:
            raise KeyError("a KK that did not pass the check")
        return self._hh(st)

    def person(self, cells: Sequence[str]) -> tuple:
        """(kk key, nik, nama, jenis_kelamin, tanggal_lahir, hubungan, programs, disabilitas)
        of a row that passed check_row; cached lookups only, nothing checked again."""
        (kk, nik, nama, jk, tgl, hub, _, _, _, _, _, _, prog, dis) = self._get(cells)
        return (
            self._key_of(kk),
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
