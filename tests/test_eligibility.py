"""Eligibility against the shipped Kota Bogor rules: one table of households, one row per case."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from domain.eligibility import (
    HouseholdFacts,
    MemberFacts,
    ProgramResult,
    Reason,
    age_on,
    evaluate,
    is_extreme_poverty,
)
from domain.programs import load_programs

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "data" / "programs.toml"
TODAY = date(2026, 11, 23)
CFG = load_programs(REAL)
RULED = ["PKH", "BPNT", "PBI", "KUBE", "UEP", "PELATIHAN", "KIPK"]  # programmes with a desil rule


def born(age: int, days_to_birthday: int = 0) -> date:
    """A birth date giving exactly `age` on TODAY; days_to_birthday > 0 means the next birthday is
    that many days away (so the person is still `age`, e.g. 69 turning 70 tomorrow)."""
    return TODAY.replace(year=TODAY.year - age - (1 if days_to_birthday else 0)) + timedelta(
        days=days_to_birthday
    )


def m(
    age: int, hubungan: str = "ANAK", disabilitas: bool = False, days_to_birthday: int = 0
) -> MemberFacts:
    return MemberFacts(born(age, days_to_birthday), hubungan, disabilitas)


def head(age: int, **kw) -> MemberFacts:
    return m(age, "KEPALA_KELUARGA", **kw)


def hh(desil: int, *members: MemberFacts, held: tuple[str, ...] = ()) -> HouseholdFacts:
    return HouseholdFacts(desil, tuple(members), frozenset(held))


def by_code(h: HouseholdFacts) -> dict[str, ProgramResult]:
    return {r.code: r for r in evaluate(h, CFG, TODAY)}


# household, {code: (eligible, [reason codes in order])}; codes not listed are not checked.
CASES = [
    pytest.param(
        hh(1, head(35), m(30, "ISTRI"), m(5)),
        {
            "PKH": (True, ["desil_in", "component"]),
            "BPNT": (True, ["desil_in"]),
            "PBI": (True, ["desil_in"]),
            "KUBE": (True, ["desil_in", "head_age_in"]),
            "UEP": (True, ["desil_in"]),
            "PELATIHAN": (True, ["desil_in", "member_age_in"]),
            "KIPK": (True, ["desil_in", "not_joinable"]),
        },
        id="desil1-with-child-pkh-yes",
    ),
    pytest.param(
        hh(3, head(45), m(40, "ISTRI")),
        {
            "PKH": (False, ["desil_in", "no_component"]),
            "BPNT": (True, ["desil_in"]),
            "PBI": (True, ["desil_in"]),
        },
        id="desil3-no-component-pkh-no-bpnt-yes",
    ),
    pytest.param(
        hh(5, head(40), m(38, "ISTRI"), m(10)),
        {
            "PKH": (False, ["desil_out", "component"]),
            "BPNT": (True, ["desil_in"]),
            "PBI": (True, ["desil_in"]),
            "KUBE": (False, ["desil_out", "head_age_in"]),
            "UEP": (False, ["desil_out"]),
            "PELATIHAN": (True, ["desil_in", "member_age_in"]),
            "KIPK": (False, ["desil_out", "not_joinable"]),
        },
        id="desil5-sembako-pbi-pelatihan-only",
    ),
    pytest.param(
        hh(5, head(75), m(72, "ISTRI")),
        {"PELATIHAN": (False, ["desil_in", "member_age_out"]), "BPNT": (True, ["desil_in"])},
        id="desil5-nobody-18-60-no-pelatihan",
    ),
    pytest.param(
        hh(9, head(40, disabilitas=True), m(8), m(75, "ORANG_TUA")),
        {code: (False, None) for code in RULED},
        id="desil9-all-no",
    ),
    pytest.param(
        hh(2, head(70)), {"PKH": (True, ["desil_in", "component"])}, id="elder-exactly-70-counts"
    ),
    pytest.param(
        hh(2, head(69, days_to_birthday=1)),
        {"PKH": (False, ["desil_in", "no_component"])},
        id="elder-69-turning-70-tomorrow-does-not",
    ),
    pytest.param(
        hh(2, head(40), m(17, days_to_birthday=1)),
        {"PKH": (True, ["desil_in", "component"])},
        id="child-17-counts",
    ),
    pytest.param(
        hh(2, head(40), m(18)),
        {"PKH": (False, ["desil_in", "no_component"])},
        id="child-18-today-does-not",
    ),
    pytest.param(
        hh(4, head(50), m(20, disabilitas=True)),
        {"PKH": (True, ["desil_in", "component"])},
        id="disability-counts",
    ),
    pytest.param(
        hh(2, head(61), m(30)),
        {
            "KUBE": (False, ["desil_in", "head_age_out"]),
            "PELATIHAN": (True, ["desil_in", "member_age_in"]),
        },
        id="head-61-kube-no",
    ),
    pytest.param(
        hh(2, head(60, days_to_birthday=1)),
        {"KUBE": (True, ["desil_in", "head_age_in"])},
        id="head-60-kube-yes",
    ),
    pytest.param(
        hh(2, head(17, days_to_birthday=1), m(12)),
        {
            "KUBE": (False, ["desil_in", "head_age_out"]),
            "PELATIHAN": (False, ["desil_in", "member_age_out"]),
        },
        id="head-17-kube-no",
    ),
    pytest.param(
        hh(2, m(40, "ISTRI"), m(10)),
        {"KUBE": (False, ["desil_in", "no_head"])},
        id="no-kepala-keluarga",
    ),
    pytest.param(
        hh(6, head(40), m(10), held=("PKH",)),
        {"PKH": (False, ["receiving", "desil_out", "component"])},
        id="receiving-pkh-at-desil6",
    ),
    pytest.param(
        hh(2, head(40), m(10), held=("BLT",)), {"BLT": (None, ["receiving"])}, id="held-only-blt"
    ),
]


@pytest.mark.parametrize("household, expected", CASES)
def test_evaluate(household, expected):
    results = by_code(household)
    for code, (eligible, reasons) in expected.items():
        r = results[code]
        assert r.eligible is eligible, (code, r)
        assert r.receiving is (code in household.programs_held), (code, r)
        if reasons is not None:
            assert [x.code for x in r.reasons] == reasons, (code, r)


def test_reason_params_are_exact_and_json_serialisable():
    results = by_code(hh(5, head(61), m(75, "ORANG_TUA"), held=("PKH",)))
    assert results["PKH"].reasons == (
        Reason("receiving", {}),
        Reason("desil_out", {"desil": 5, "min": 1, "max": 4}),
        Reason("component", {"which": ["elder"]}),
    )
    assert results["KUBE"].reasons == (
        Reason("desil_out", {"desil": 5, "min": 1, "max": 4}),
        Reason("head_age_out", {"age": 61, "min": 18, "max": 60}),
    )
    assert results["PELATIHAN"].reasons == (
        Reason("desil_in", {"desil": 5, "min": 1, "max": 5}),
        Reason("member_age_out", {"min": 18, "max": 60}),
    )
    no_component = by_code(hh(3, head(45)))["PKH"].reasons[1]
    assert no_component == Reason("no_component", {"child_max_age": 17, "elder_min_age": 70})
    for r in evaluate(
        hh(1, head(40, disabilitas=True), m(3), m(80), held=("PKH", "BLT")), CFG, TODAY
    ):
        json.dumps([{"code": x.code, "params": x.params} for x in r.reasons])


def test_component_lists_every_present_component_in_rule_order():
    pkh = by_code(hh(1, head(80, disabilitas=True), m(9, "CUCU")))["PKH"]
    assert pkh.reasons[1] == Reason("component", {"which": ["child", "elder", "disability"]})


def test_results_follow_config_order_and_skip_unheld_programmes_without_rule():
    codes = [r.code for r in evaluate(hh(2, head(40), held=("BLT", "XYZ")), CFG, TODAY)]
    assert codes == [
        "PKH",
        "BPNT",
        "PBI",
        "KUBE",
        "UEP",
        "PELATIHAN",
        "KIPK",
        "BLT",
    ]  # no KIP, no XYZ


def test_birth_date_after_today_is_not_a_child():
    h = hh(1, head(30), MemberFacts(TODAY + timedelta(days=30), "ANAK", False))
    assert by_code(h)["PKH"].eligible is False


@pytest.mark.parametrize(
    "birth, today, age",
    [
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
        (date(1956, 11, 23), date(2026, 11, 23), 70),
        (date(1956, 11, 24), date(2026, 11, 23), 69),
    ],
)
def test_age_on(birth, today, age):
    assert age_on(birth, today) == age


def test_evaluate_rejects_a_desil_outside_1_to_10():
    with pytest.raises(ValueError):
        evaluate(hh(0, head(40)), CFG, TODAY)


@pytest.mark.parametrize("desil, expected", [(1, True), (2, True), (3, False), (10, False)])
def test_is_extreme_poverty(desil, expected):
    assert is_extreme_poverty(desil, CFG) is expected


def test_is_extreme_poverty_follows_the_config(tmp_path):
    text = REAL.read_text(encoding="utf-8")
    assert "extreme_poverty = [1, 2]" in text
    path = tmp_path / "programs.toml"
    path.write_text(
        text.replace("extreme_poverty = [1, 2]", "extreme_poverty = [1, 1]"), encoding="utf-8"
    )
    cfg = load_programs(path)
    assert is_extreme_poverty(1, cfg) is True
    assert is_extreme_poverty(2, cfg) is False
