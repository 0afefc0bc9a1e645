"""The city's kecamatan and kelurahan, loaded from a region file (TOML).

One deployment serves one city (kota). Its region file lists the kecamatan and
kelurahan with their Kemendagri codes, written without dots:

- city (kota/kabupaten): 4 digits, e.g. "3271" for Kota Bogor (32.71)
- kecamatan: 6 digits, e.g. "327101" (32.71.01)
- kelurahan: 10 digits, e.g. "3271011001" (32.71.01.1001); kelurahan use 1xxx,
  desa 2xxx

Lookups by name forgive what people type: case, spaces, hyphens, dots and other
punctuation are ignored, and so is a leading "Kec."/"Kecamatan" (for kecamatan)
or "Kel."/"Kelurahan"/"Desa" (for kelurahan). So "Batutulis", "Batu Tulis",
"BATU-TULIS" and "Kel. Batu Tulis" are the same. The keys are computed once, in
Region.__post_init__, so every lookup is one normalisation plus a dict lookup.

This module only reads the region file in load_region; it does no other I/O.
"""

from __future__ import annotations

import os
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Kecamatan", "Kelurahan", "Region", "RegionError", "load_region"]


@dataclass(frozen=True, slots=True)
class Kecamatan:
    code: str  # 6 digits, e.g. "327101"
    name: str


@dataclass(frozen=True, slots=True)
class Kelurahan:
    code: str  # 10 digits, e.g. "3271011001"
    name: str
    kecamatan_code: str  # 6 digits


class RegionError(Exception):
    """The region file cannot be used. ``problems`` has one English sentence per mistake."""

    def __init__(self, problems: list[str], path: str | os.PathLike | None = None):
        self.problems = list(problems)
        self.path = None if path is None else str(path)
        where = f"region file {self.path}" if self.path else "region file"
        count = len(self.problems)
        head = f"{where} has {count} problem{'s' if count != 1 else ''}:"
        super().__init__("\n- ".join([head, *self.problems]))


_NON_ALNUM = re.compile(r"[\W_]+")
# A prefix word is only stripped when a non-alphanumeric character or the end
# follows it, so "Kecapi" or "Kelapa Dua" keep their first letters.
_KEC_PREFIX = re.compile(r"^[\W_]*(?:kecamatan|kec)(?![^\W_])")
_KEL_PREFIX = re.compile(r"^[\W_]*(?:kelurahan|kel|desa)(?![^\W_])")


def _key(text: str, prefix: re.Pattern[str]) -> str:
    """Normalised lookup key: NFKC, casefolded, prefix word dropped, only letters and digits."""
    s = unicodedata.normalize("NFKC", text).casefold()
    s = prefix.sub("", s, count=1)
    return _NON_ALNUM.sub("", s)


def _kec_key(text: str) -> str:
    return _key(text, _KEC_PREFIX)


def _kel_key(text: str) -> str:
    return _key(text, _KEL_PREFIX)


@dataclass(frozen=True)
class Region:
    """One city's kecamatan and kelurahan, with precomputed lookup tables.

    Build it with load_region, which validates the data first. ``aliases`` maps a
    kecamatan or kelurahan code to other spellings of its name.
    """

    code: str
    name: str
    province: str
    kecamatan: tuple[Kecamatan, ...]
    kelurahan: tuple[Kelurahan, ...]
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)

    # Lookup tables, filled in __post_init__.
    _kec_by_code: dict[str, Kecamatan] = field(init=False, repr=False, compare=False)
    _kec_by_key: dict[str, Kecamatan | None] = field(init=False, repr=False, compare=False)
    _kel_by_code: dict[str, Kelurahan] = field(init=False, repr=False, compare=False)
    _kel_by_key: dict[str, Kelurahan | None] = field(init=False, repr=False, compare=False)
    _kel_by_kec_key: dict[tuple[str, str], Kelurahan | None] = field(
        init=False, repr=False, compare=False
    )
    _kel_of: dict[str, tuple[Kelurahan, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        aliases = {code: tuple(names) for code, names in self.aliases.items()}
        kec_by_code = {k.code: k for k in self.kecamatan}
        kel_by_code = {k.code: k for k in self.kelurahan}

        # A key that points to two different places maps to None (ambiguous).
        def put(index: dict, key: Any, value: Any) -> None:
            if key in index and index[key] is not value:
                index[key] = None
            else:
                index[key] = value

        kec_by_key: dict[str, Kecamatan | None] = {}
        for kec in self.kecamatan:
            put(kec_by_key, kec.code, kec)
            for text in (kec.name, *aliases.get(kec.code, ())):
                key = _kec_key(text)
                if key:
                    put(kec_by_key, key, kec)

        kel_by_key: dict[str, Kelurahan | None] = {}
        kel_by_kec_key: dict[tuple[str, str], Kelurahan | None] = {}
        kel_of: dict[str, list[Kelurahan]] = {k.code: [] for k in self.kecamatan}
        for kel in self.kelurahan:
            kel_of.setdefault(kel.kecamatan_code, []).append(kel)
            keys = {kel.code} | {_kel_key(t) for t in (kel.name, *aliases.get(kel.code, ()))}
            keys.discard("")
            for key in keys:
                put(kel_by_key, key, kel)
                put(kel_by_kec_key, (kel.kecamatan_code, key), kel)

        set_ = object.__setattr__
        set_(self, "aliases", aliases)
        set_(self, "_kec_by_code", kec_by_code)
        set_(self, "_kec_by_key", kec_by_key)
        set_(self, "_kel_by_code", kel_by_code)
        set_(self, "_kel_by_key", kel_by_key)
        set_(self, "_kel_by_kec_key", kel_by_kec_key)
        set_(self, "_kel_of", {code: tuple(kels) for code, kels in kel_of.items()})

    def find_kecamatan(self, text: str) -> Kecamatan | None:
        """The kecamatan with this code ("327101", "32.71.01"), name or alias, or None."""
        if not isinstance(text, str):
            return None
        found = self._kec_by_code.get(text)
        if found is not None:
            return found
        return self._kec_by_key.get(_kec_key(text))

    def find_kelurahan(
        self, text: str, kecamatan: Kecamatan | str | None = None
    ) -> Kelurahan | None:
        """The kelurahan with this code, name or alias, or None.

        With ``kecamatan`` (a Kecamatan, or its code or name), only kelurahan of
        that kecamatan match. Without it, a name used in several kecamatan gives
        None, because the caller must ask which one is meant.
        """
        if not isinstance(text, str):
            return None
        if kecamatan is None:
            found = self._kel_by_code.get(text)
            if found is not None:
                return found
            return self._kel_by_key.get(_kel_key(text))
        if isinstance(kecamatan, Kecamatan):
            kec_code = kecamatan.code
        else:
            kec = self.find_kecamatan(kecamatan)
            if kec is None:
                return None
            kec_code = kec.code
        return self._kel_by_kec_key.get((kec_code, _kel_key(text)))

    def kelurahan_of(self, kecamatan_code: str) -> tuple[Kelurahan, ...]:
        """The kelurahan of a kecamatan, in file order; () for an unknown code."""
        return self._kel_of.get(kecamatan_code, ())

    def kecamatan_by_code(self, code: str) -> Kecamatan | None:
        return self._kec_by_code.get(code)

    def kelurahan_by_code(self, code: str) -> Kelurahan | None:
        return self._kel_by_code.get(code)


# ---------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------

_CITY_KEYS = {"code", "name", "province"}
_KECAMATAN_KEYS = {"code", "name", "aliases", "kelurahan"}
_KELURAHAN_KEYS = {"code", "name", "aliases"}


def _unknown_keys(where: str, table: dict, allowed: set[str], problems: list[str]) -> None:
    for key in table:
        if key not in allowed:
            expected = ", ".join(sorted(allowed))
            problems.append(f"{where}: unknown key {key!r} (expected {expected})")


def _code(where: str, what: str, value: Any, digits: int, problems: list[str]) -> str | None:
    """The code if it is a string of `digits` digits, else None after recording a problem."""
    if value is None:
        problems.append(f"{where}: {what} is missing")
        return None
    if not isinstance(value, str):
        problems.append(
            f'{where}: {what} must be written in quotes as {digits} digits, e.g. "{value}", '
            f"got {value!r}"
        )
        return None
    if not (len(value) == digits and value.isascii() and value.isdigit()):
        problems.append(f"{where}: {what} {value!r} must be exactly {digits} digits (no dots)")
        return None
    return value


def _text(where: str, what: str, value: Any, problems: list[str]) -> str | None:
    if value is None:
        problems.append(f"{where}: {what} is missing")
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: {what} must be a non-empty text, got {value!r}")
        return None
    return value.strip()


def _aliases(where: str, value: Any, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(a, str) and a.strip() for a in value):
        problems.append(f"{where}: aliases must be a list of non-empty texts, got {value!r}")
        return ()
    return tuple(a.strip() for a in value)


def _names_unique(
    where: str,
    owner: str,
    texts: tuple[str, ...],
    keyfunc,
    seen: dict[str, tuple[str, str]],
    problems: list[str],
) -> None:
    """Record each normalised name of `owner`; report one that another owner already uses."""
    for text in texts:
        key = keyfunc(text)
        if not key:
            problems.append(f"{where}: name {text!r} has no letters or digits")
            continue
        other = seen.get(key)
        if other is None:
            seen[key] = (owner, text)
        elif other[0] != owner:
            problems.append(
                f"{where}: {text!r} ({owner}) matches {other[1]!r} ({other[0]}); "
                f"names and aliases must differ after ignoring case, spaces and punctuation"
            )


def _validate(data: dict) -> tuple[Region | None, list[str]]:
    problems: list[str] = []
    _unknown_keys("top level", data, {"city", "kecamatan"}, problems)

    city = data.get("city")
    city_code = city_name = province = None
    if not isinstance(city, dict):
        problems.append("the [city] table with code, name and province is missing")
    else:
        _unknown_keys("[city]", city, _CITY_KEYS, problems)
        city_code = _code("[city]", "code", city.get("code"), 4, problems)
        city_name = _text("[city]", "name", city.get("name"), problems)
        province = _text("[city]", "province", city.get("province"), problems)

    raw_kecamatan = data.get("kecamatan")
    if not isinstance(raw_kecamatan, list) or not raw_kecamatan:
        problems.append("there are no [[kecamatan]] entries")
        raw_kecamatan = []

    kecamatan: list[Kecamatan] = []
    kelurahan: list[Kelurahan] = []
    aliases: dict[str, tuple[str, ...]] = {}
    kec_codes: dict[str, int] = {}  # code -> position, for duplicate messages
    kec_names: dict[str, tuple[str, str]] = {}
    kel_codes: dict[str, str] = {}  # kelurahan code -> kecamatan label

    for i, raw in enumerate(raw_kecamatan, start=1):
        if not isinstance(raw, dict):
            problems.append(f"kecamatan #{i}: must be a [[kecamatan]] table, got {raw!r}")
            continue
        raw_code = raw.get("code")
        label = (
            f"kecamatan {raw_code}" if isinstance(raw_code, str) and raw_code else f"kecamatan #{i}"
        )
        _unknown_keys(label, raw, _KECAMATAN_KEYS, problems)
        code = _code(label, "code", raw_code, 6, problems)
        if code is not None:
            if city_code is not None and not code.startswith(city_code):
                problems.append(
                    f"{label}: code {code} does not start with the city code {city_code}"
                )
            if code in kec_codes:
                problems.append(f"{label}: code {code} is used by kecamatan #{kec_codes[code]} too")
            else:
                kec_codes[code] = i
        name = _text(label, "name", raw.get("name"), problems)
        kec_aliases = _aliases(label, raw.get("aliases"), problems)
        owner = f"kecamatan {code or f'#{i}'}"
        _names_unique(
            label, owner, ((name,) if name else ()) + kec_aliases, _kec_key, kec_names, problems
        )
        if code and name:
            kecamatan.append(Kecamatan(code, name))
            if kec_aliases:
                aliases[code] = kec_aliases

        raw_kelurahan = raw.get("kelurahan")
        if not isinstance(raw_kelurahan, list) or not raw_kelurahan:
            problems.append(f"{label}: has no kelurahan (kelurahan = [ ... ] is missing or empty)")
            continue
        kel_names: dict[str, tuple[str, str]] = {}
        for j, kraw in enumerate(raw_kelurahan, start=1):
            if not isinstance(kraw, dict):
                problems.append(
                    f"{label}: kelurahan #{j} must be {{ code = ..., name = ... }}, got {kraw!r}"
                )
                continue
            kraw_code = kraw.get("code")
            klabel = (
                f"{label}: kelurahan {kraw_code}"
                if isinstance(kraw_code, str) and kraw_code
                else f"{label}: kelurahan #{j}"
            )
            _unknown_keys(klabel, kraw, _KELURAHAN_KEYS, problems)
            kcode = _code(klabel, "code", kraw_code, 10, problems)
            if kcode is not None:
                if code is not None and not kcode.startswith(code):
                    problems.append(f"{label}: kelurahan code {kcode} does not start with {code}")
                if kcode in kel_codes:
                    problems.append(
                        f"{label}: kelurahan code {kcode} is used twice "
                        f"(also in {kel_codes[kcode]})"
                    )
                else:
                    kel_codes[kcode] = label
            kname = _text(klabel, "name", kraw.get("name"), problems)
            kel_aliases = _aliases(klabel, kraw.get("aliases"), problems)
            kowner = f"kelurahan {kcode or f'#{j}'}"
            _names_unique(
                label,
                kowner,
                ((kname,) if kname else ()) + kel_aliases,
                _kel_key,
                kel_names,
                problems,
            )
            if code and kcode and kname:
                kelurahan.append(Kelurahan(kcode, kname, code))
                if kel_aliases:
                    aliases[kcode] = kel_aliases

    # No problem means every city field was read (each reader records one when it gives None).
    if problems or city_code is None or city_name is None or province is None:
        return None, problems
    region = Region(
        code=city_code,
        name=city_name,
        province=province,
        kecamatan=tuple(kecamatan),
        kelurahan=tuple(kelurahan),
        aliases=aliases,
    )
    return region, []


def load_region(path: str | os.PathLike) -> Region:
    """Read and validate a region file; raise RegionError listing every problem found."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise RegionError([f"cannot read the file: {e.strerror or e}"], path) from e
    except tomllib.TOMLDecodeError as e:
        raise RegionError([f"not valid TOML: {e}"], path) from e
    region, problems = _validate(data)
    if problems:
        raise RegionError(problems, path)
    assert region is not None
    return region
