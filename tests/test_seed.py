"""The synthetic demo extract: deterministic, valid, covering Kota Bogor, with the demo cases."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest

from db.seed import database_is_empty, seed_demo, write_demo_csv
from domain.dtsen import COLUMNS, HEAD, DtsenValidator, parse_header
from domain.nik import age_on, check_kk, check_nik
from domain.programs import load_programs
from domain.region import load_region

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 23)
REGION = load_region(ROOT / "data" / "region" / "kota_bogor.toml")
PROGRAMS = load_programs(ROOT / "data" / "programs.toml")


def generate(path: Path, households: int = 500, seed: int = 7):
    return write_demo_csv(
        path, households=households, seed=seed, region=REGION, programs=PROGRAMS, today=TODAY
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("seed") / "demo.csv"
    cases = generate(path)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return path, cases, rows


def by_kk(rows) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in rows[1:]:
        out[r[0]].append(dict(zip(COLUMNS, r, strict=False)))
    return out


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, demo):
    path, cases, _ = demo
    again = tmp_path / "again.csv"
    assert generate(again) == cases
    assert again.read_bytes() == path.read_bytes()
    other = tmp_path / "other.csv"
    generate(other, seed=8)
    assert other.read_bytes() != path.read_bytes()


def test_every_row_passes_the_validator(demo):
    _, _, rows = demo
    assert rows[0] == list(COLUMNS)
    columns = parse_header(rows[0])
    v = DtsenValidator(REGION, PROGRAMS, today=TODAY, columns=columns)
    for line, cells in enumerate(rows[1:], start=2):
        v.check_row(line, cells)
    assert v.finish() == []
    assert v.households == 500
    assert 1500 < v.rows < 2500  # 1-7 people per household, about 3.9 on average


def test_all_68_kelurahan_and_rt_rw_ranges(demo):
    _, _, rows = demo
    kel_codes = set()
    for kk, members in by_kk(rows).items():
        m = members[0]
        kec = REGION.find_kecamatan(m["kecamatan"])
        kel_codes.add(REGION.find_kelurahan(m["kelurahan"], kecamatan=kec).code)
        assert 1 <= int(m["rt"]) <= 10 and 1 <= int(m["rw"]) <= 15
        assert kk[:6] == kec.code  # the KK is issued where the household lives
        assert 1 <= len(members) <= 7
        assert [p["hubungan"] for p in members].count(HEAD) == 1
    assert len(REGION.kelurahan) == 68
    assert kel_codes == {k.code for k in REGION.kelurahan}


def test_numbers_have_a_valid_structure(demo):
    _, _, rows = demo
    niks = [r[1] for r in rows[1:]]
    assert len(set(niks)) == len(niks)
    prefixes = Counter(n[:4] for n in niks)
    assert prefixes["3271"] / len(niks) > 0.85 and len(prefixes) > 1  # some moved in
    for r in rows[1:]:
        info = check_nik(r[1], TODAY)
        assert info.gender == r[3]
        born = date.fromisoformat(r[4])
        assert r[1][6:12] == f"{born.day + (40 if r[3] == 'P' else 0):02d}{born:%m%y}"
        kk = check_kk(r[0], TODAY)
        assert kk.entry_date < TODAY


def test_realistic_spread(demo):
    _, _, rows = demo
    households = by_kk(rows)
    desil = Counter(int(m[0]["desil"]) for m in households.values())
    assert set(desil) == set(range(1, 11))
    assert desil[1] + desil[2] > desil[9] + desil[10]  # the poor over-represented
    people = [p for members in households.values() for p in members]
    share = sum(p["disabilitas"] == "1" for p in people) / len(people)
    assert 0.01 < share < 0.06
    ages = [age_on(date.fromisoformat(p["tanggal_lahir"]), TODAY) for p in people]
    assert min(ages) >= 0 and sum(a >= 70 for a in ages) > 5

    def held(members):
        return {c for p in members for c in p["program"].split(";") if c}

    pkh_poor = [held(m) for m in households.values() if int(m[0]["desil"]) <= 4]
    assert sum("PKH" in h for h in pkh_poor) > len(pkh_poor) / 3
    # exclusion errors (poor, holding nothing) and inclusion errors (desil 6+ with BPNT)
    assert any(not h for h in pkh_poor)
    assert any("BPNT" in held(m) for m in households.values() if int(m[0]["desil"]) >= 6)
    assert not any("PKH" in held(m) for m in households.values() if int(m[0]["desil"]) >= 8)


def test_demo_cases(demo):
    _, cases, rows = demo
    assert [c.label for c in cases] == [
        "kemiskinan ekstrem (desil 1)",
        "desil 5",
        "desil 9",
        "lansia/disabilitas",
        "KK dengan anak",
    ]
    assert [c.desil for c in cases][:3] == [1, 5, 9]
    households = by_kk(rows)
    for case in cases:
        members = households[case.no_kk]
        head = next(p for p in members if p["nik"] == case.nik)
        assert head["hubungan"] == HEAD and int(head["desil"]) == case.desil
    ages = {
        c.label: [
            age_on(date.fromisoformat(p["tanggal_lahir"]), TODAY) for p in households[c.no_kk]
        ]
        for c in cases
    }
    elder = households[cases[3].no_kk]
    assert max(ages["lansia/disabilitas"]) >= 70 and any(p["disabilitas"] == "1" for p in elder)
    assert min(ages["KK dengan anak"]) < 18
    extreme = {c for p in households[cases[0].no_kk] for c in p["program"].split(";") if c}
    assert {"PKH", "BPNT", "PBI"} <= extreme


async def test_seed_demo_imports_the_extract(db, tmp_path):
    assert await database_is_empty(db)
    report, cases = await seed_demo(
        db, households=120, seed=3, region=REGION, programs=PROGRAMS, today=TODAY, data_dir=tmp_path
    )
    assert report.imported and report.errors == []
    assert report.households == 120 and report.rows_imported == report.rows_total
    assert (tmp_path / "dtsen_demo.csv").exists()
    assert len(cases) == 5
    assert not await database_is_empty(db)
