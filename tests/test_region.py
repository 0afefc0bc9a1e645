"""Region file and lookups (domain/region.py, data/region/kota_bogor.toml); see domain.md section 8."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.region import Kecamatan, Kelurahan, Region, RegionError, load_region

BOGOR_FILE = Path(__file__).resolve().parent.parent / "data" / "region" / "kota_bogor.toml"

# domain.md section 8, in Kemendagri order.
EXPECTED = {
    ("327101", "Bogor Selatan"): [
        "Batu Tulis",
        "Bondongan",
        "Empang",
        "Lawanggintung",
        "Pamoyanan",
        "Rangga Mekar",
        "Mulya Harja",
        "Cikaret",
        "Bojong Kerta",
        "Rancamaya",
        "Kertamaya",
        "Harjasari",
        "Muara Sari",
        "Genteng",
        "Pakuan",
        "Cipaku",
    ],
    ("327102", "Bogor Timur"): [
        "Sukasari",
        "Baranangsiang",
        "Katulampa",
        "Sindangsari",
        "Sindangrasa",
        "Tajur",
    ],
    ("327103", "Bogor Tengah"): [
        "Gudang",
        "Paledang",
        "Pabaton",
        "Cibogor",
        "Babakan",
        "Sempur",
        "Tegallega",
        "Babakan Pasar",
        "Panaragan",
        "Ciwaringin",
        "Kebon Kalapa",
    ],
    ("327104", "Bogor Barat"): [
        "Menteng",
        "Sindang Barang",
        "Bubulak",
        "Margajaya",
        "Balumbang Jaya",
        "Situ Gede",
        "Semplak",
        "Cilendek Barat",
        "Cilendek Timur",
        "Curug Mekar",
        "Curug",
        "Pasir Jaya",
        "Pasir Kuda",
        "Pasir Mulya",
        "Gunung Batu",
        "Loji",
    ],
    ("327105", "Bogor Utara"): [
        "Bantarjati",
        "Tegal Gundil",
        "Kedung Halang",
        "Ciparigi",
        "Cibuluh",
        "Ciluar",
        "Tanah Baru",
        "Cimahpar",
    ],
    ("327106", "Tanah Sareal"): [
        "Tanah Sareal",
        "Kebon Pedes",
        "Kedung Badak",
        "Sukaresmi",
        "Kedung Waringin",
        "Kedung Jaya",
        "Sukadamai",
        "Mekar Wangi",
        "Kencana",
        "Kayu Manis",
        "Cibadak",
    ],
}


@pytest.fixture(scope="module")
def bogor() -> Region:
    return load_region(BOGOR_FILE)


# --- the real file ------------------------------------------------------------


def test_city(bogor):
    assert (bogor.code, bogor.name, bogor.province) == ("3271", "Kota Bogor", "Jawa Barat")
    assert len(bogor.kecamatan) == 6
    assert len(bogor.kelurahan) == 68


@pytest.mark.parametrize(
    ("code", "name", "count"),
    [
        ("327101", "Bogor Selatan", 16),
        ("327102", "Bogor Timur", 6),
        ("327103", "Bogor Tengah", 11),
        ("327104", "Bogor Barat", 16),
        ("327105", "Bogor Utara", 8),
        ("327106", "Tanah Sareal", 11),
    ],
)
def test_kelurahan_per_kecamatan(bogor, code, name, count):
    assert bogor.kecamatan_by_code(code) == Kecamatan(code, name)
    assert len(bogor.kelurahan_of(code)) == count


def test_file_matches_domain_md(bogor):
    assert [(k.code, k.name) for k in bogor.kecamatan] == list(EXPECTED)
    for (kec_code, _), names in EXPECTED.items():
        expected = [
            Kelurahan(f"{kec_code}1{i:03d}", name, kec_code) for i, name in enumerate(names, 1)
        ]
        assert list(bogor.kelurahan_of(kec_code)) == expected


def test_unknown_kecamatan_has_no_kelurahan(bogor):
    assert bogor.kelurahan_of("327107") == ()
    assert bogor.kecamatan_by_code("327107") is None
    assert bogor.kelurahan_by_code("3271071001") is None


# --- lookups ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Batu Tulis", "3271011001"),
        ("Batutulis", "3271011001"),
        ("BATU-TULIS", "3271011001"),
        ("batu.tulis", "3271011001"),
        ("Kel. Batu Tulis", "3271011001"),
        ("Kel.Batu Tulis", "3271011001"),
        ("Kelurahan  batu tulis ", "3271011001"),
        ("Mulyaharja", "3271011007"),
        ("Mulya Harja", "3271011007"),
        ("Ranggamekar", "3271011006"),
        ("Lawang Gintung", "3271011004"),
        ("Lawanggintung", "3271011004"),
        ("Muarasari", "3271011013"),
        ("Baranang Siang", "3271021002"),
        ("Tegal Lega", "3271031007"),
        ("Babakanpasar", "3271031008"),
        ("Babakan", "3271031005"),
        ("Kebon Kelapa", "3271031011"),
        ("Kebon Kalapa", "3271031011"),
        ("Sindangbarang", "3271041002"),
        ("Situgede", "3271041006"),
        ("Balungbang Jaya", "3271041005"),
        ("Cilendek Barat", "3271041008"),
        ("cilendek-timur", "3271041009"),
        ("Pasir Kude", "3271041013"),
        ("Tegalgundil", "3271051002"),
        ("Kedunghalang", "3271051003"),
        ("Tanahbaru", "3271051007"),
        ("Kebonpedes", "3271061002"),
        ("Kedungbadak", "3271061003"),
        ("Tanah Sereal", "3271061001"),
        ("Ｃｉｂａｄａｋ", "3271061011"),  # full-width letters (NFKC)
        ("3271011001", "3271011001"),
        ("32.71.01.1001", "3271011001"),
        ("3271 06 1011", "3271061011"),
    ],
)
def test_find_kelurahan(bogor, text, code):
    found = bogor.find_kelurahan(text)
    assert found is not None, text
    assert found.code == code


@pytest.mark.parametrize(
    "text", ["", "   ", "Kelurahan", "Cilendek", "Bogor", "Batu", "3271011017", "Depok"]
)
def test_find_kelurahan_misses(bogor, text):
    assert bogor.find_kelurahan(text) is None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Bogor Selatan", "327101"),
        ("bogor selatan", "327101"),
        ("BOGOR-TIMUR", "327102"),
        ("Kec. Bogor Tengah", "327103"),
        ("Kec.Bogor Tengah", "327103"),
        ("kec bogor barat", "327104"),
        ("Kecamatan Bogor Utara", "327105"),
        ("Tanah Sareal", "327106"),
        ("Tanah Sereal", "327106"),
        ("tanahsareal", "327106"),
        ("327104", "327104"),
        ("32.71.04", "327104"),
    ],
)
def test_find_kecamatan(bogor, text, code):
    found = bogor.find_kecamatan(text)
    assert found is not None, text
    assert found.code == code


@pytest.mark.parametrize("text", ["", "Bogor", "Kecamatan", "327107", "Bogor Pusat"])
def test_find_kecamatan_misses(bogor, text):
    assert bogor.find_kecamatan(text) is None


@pytest.mark.parametrize(
    ("text", "kecamatan", "code"),
    [
        ("Tanah Sareal", "327106", "3271061001"),
        ("Tanah Sareal", "Kec. Tanah Sareal", "3271061001"),
        ("Tanah Sareal", Kecamatan("327106", "Tanah Sareal"), "3271061001"),
        ("Tanah Sareal", "Bogor Utara", None),
        ("Batutulis", "Bogor Selatan", "3271011001"),
        ("Batutulis", "Bogor Timur", None),
        ("3271011001", "327101", "3271011001"),
        ("3271011001", "327102", None),  # a code outside the kecamatan
        ("Batutulis", "Kecamatan Entah", None),  # unknown kecamatan
    ],
)
def test_find_kelurahan_in_kecamatan(bogor, text, kecamatan, code):
    found = bogor.find_kelurahan(text, kecamatan)
    assert (found.code if found else None) == code


@pytest.mark.parametrize(
    ("code", "name"), [("3271011001", "Batu Tulis"), ("3271061011", "Cibadak")]
)
def test_kelurahan_by_code(bogor, code, name):
    kel = bogor.kelurahan_by_code(code)
    assert kel == Kelurahan(code, name, code[:6])


# --- other region files -------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "region.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_name_in_two_kecamatan_is_ambiguous_without_kecamatan(tmp_path):
    region = load_region(
        write(
            tmp_path,
            """
[city]
code = "3299"
name = "Kota Contoh"
province = "Jawa Barat"

[[kecamatan]]
code = "329901"
name = "Utara"
kelurahan = [{ code = "3299011001", name = "Babakan" }, { code = "3299011002", name = "Sukamaju" }]

[[kecamatan]]
code = "329902"
name = "Selatan"
kelurahan = [{ code = "3299021001", name = "Babakan" }]
""",
        )
    )
    assert region.find_kelurahan("Babakan") is None
    assert region.find_kelurahan("Babakan", "Utara").code == "3299011001"
    assert region.find_kelurahan("Babakan", "329902").code == "3299021001"
    assert region.find_kelurahan("Suka Maju").code == "3299011002"
    assert region.find_kelurahan("3299021001").name == "Babakan"


BROKEN = """
surprise = 1

[city]
code = "3271"
name = "Kota Contoh"
province = ""

[[kecamatan]]
code = "327101"
name = "Utara"
kelurahan = [
  { code = "3271011001", name = "Satu" },
  { code = "3271011001", name = "Dua" },
  { code = "327101100", name = "Tiga" },
  { code = "3271011004", name = "Sa-tu" },
  { code = "3271011005", name = "Lima", alias = ["Five"] },
  { code = 3271011006, name = "Enam" },
  { code = "3271011007" },
]

[[kecamatan]]
code = "327107"
name = "Kec. UTARA"
kelurahan = [
  { code = "3271021001", name = "Tujuh" },
]

[[kecamatan]]
code = "337108"
name = "Delapan"
kelurahan = []

[[kecamatan]]
code = "32.71.09"
name = "Sembilan"
aliases = "Nine"
kelurahan = [{ code = "3271091001", name = "Sepuluh" }]
"""


def test_broken_file_lists_every_problem(tmp_path):
    path = write(tmp_path, BROKEN)
    with pytest.raises(RegionError) as info:
        load_region(path)
    assert info.value.problems == [
        "top level: unknown key 'surprise' (expected city, kecamatan)",
        "[city]: province must be a non-empty text, got ''",
        "kecamatan 327101: kelurahan code 3271011001 is used twice (also in kecamatan 327101)",
        "kecamatan 327101: kelurahan 327101100: code '327101100' must be exactly 10 digits (no dots)",
        "kecamatan 327101: 'Sa-tu' (kelurahan 3271011004) matches 'Satu' (kelurahan 3271011001); "
        "names and aliases must differ after ignoring case, spaces and punctuation",
        "kecamatan 327101: kelurahan 3271011005: unknown key 'alias' (expected aliases, code, name)",
        "kecamatan 327101: kelurahan #6: code must be written in quotes as 10 digits, "
        'e.g. "3271011006", got 3271011006',
        "kecamatan 327101: kelurahan 3271011007: name is missing",
        "kecamatan 327107: 'Kec. UTARA' (kecamatan 327107) matches 'Utara' (kecamatan 327101); "
        "names and aliases must differ after ignoring case, spaces and punctuation",
        "kecamatan 327107: kelurahan code 3271021001 does not start with 327107",
        "kecamatan 337108: code 337108 does not start with the city code 3271",
        "kecamatan 337108: has no kelurahan (kelurahan = [ ... ] is missing or empty)",
        "kecamatan 32.71.09: code '32.71.09' must be exactly 6 digits (no dots)",
        "kecamatan 32.71.09: aliases must be a list of non-empty texts, got 'Nine'",
    ]
    message = str(info.value)
    assert str(path) in message
    assert "14 problems" in message
    assert all(problem in message for problem in info.value.problems)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the [city] table with code, name and province is missing"),
        ('[city]\ncode = 3271\nname = "X"\nprovince = "Y"\n', "there are no [[kecamatan]] entries"),
        (
            '[city]\ncode = "32.71"\nname = "X"\nprovince = "Y"\n',
            "[city]: code '32.71' must be exactly 4 digits (no dots)",
        ),
        ("[city\n", "not valid TOML"),
    ],
)
def test_other_broken_files(tmp_path, text, problem):
    with pytest.raises(RegionError) as info:
        load_region(write(tmp_path, text))
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems


def test_unquoted_city_code(tmp_path):
    with pytest.raises(RegionError) as info:
        load_region(write(tmp_path, '[city]\ncode = 3271\nname = "X"\nprovince = "Y"\n'))
    assert info.value.problems[0] == (
        '[city]: code must be written in quotes as 4 digits, e.g. "3271", got 3271'
    )


def test_missing_file(tmp_path):
    with pytest.raises(RegionError) as info:
        load_region(tmp_path / "nope.toml")
    assert info.value.problems[0].startswith("cannot read the file")
