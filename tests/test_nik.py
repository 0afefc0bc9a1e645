"""NIK and No. KK format checks (domain/nik.py); rules from domain.md section 6."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from stdnum import numdb
from stdnum.id import nik as stdnum_nik

from domain.nik import (
    PROVINCE_CODES,
    IdProblem,
    KkInfo,
    NikInfo,
    age_on,
    check_kk,
    check_nik,
    clean_number,
    mask,
)

TODAY = date(2025, 6, 1)


# --- valid NIKs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "gender", "birth", "region"),
    [
        ("3271051708850003", "L", date(1985, 8, 17), "327105"),  # man, 17 Aug 1985
        ("3271055708850003", "P", date(1985, 8, 17), "327105"),  # woman: day 17 + 40
        ("3271050101000001", "L", date(2000, 1, 1), "327105"),
        ("3271057112990001", "P", date(1999, 12, 31), "327105"),  # day 71 = 31 + 40
        ("3271052902000001", "L", date(2000, 2, 29), "327105"),  # 29 Feb 2000 (leap)
        ("3271056902000001", "P", date(2000, 2, 29), "327105"),
        ("3271051203150001", "L", date(2015, 3, 12), "327105"),  # child: 2015, not 1915
        ("3271050106250001", "L", date(2025, 6, 1), "327105"),  # born today: 20YY
        ("3271050206250001", "L", date(1925, 6, 2), "327105"),  # tomorrow in 20YY -> 19YY
        ("3171011708450001", "L", date(1945, 8, 17), "317101"),  # Jakarta: no 3271 required
        ("3299991708850003", "L", date(1985, 8, 17), "329999"),  # unknown kab/kec: accepted
        ("6501011708850003", "L", date(1985, 8, 17), "650101"),  # 65 Kalimantan Utara
        ("9601011708850003", "L", date(1985, 8, 17), "960101"),  # 96 Papua Barat Daya
    ],
)
def test_valid_nik(raw, gender, birth, region):
    assert check_nik(raw, today=TODAY) == NikInfo(raw, gender, birth, region)


@pytest.mark.parametrize(
    ("today", "birth"),
    [
        (date(2025, 6, 1), date(2015, 3, 12)),
        (date(2015, 3, 12), date(2015, 3, 12)),
        (date(2015, 3, 11), date(1915, 3, 12)),  # 2015 would be in the future
    ],
)
def test_century_follows_today(today, birth):
    info = check_nik("3271051203150001", today=today)
    assert isinstance(info, NikInfo)
    assert info.birth_date == birth


def test_today_defaults_to_current_date():
    info = check_nik("3271051708850003")
    assert isinstance(info, NikInfo)
    assert info.birth_date == date(1985, 8, 17)


@pytest.mark.parametrize(
    "raw",
    [
        "3271 0517 0885 0003",
        "3271.0517.0885.0003",
        "3271-0517-0885-0003",
        "32.71.05.170885.0003",
        "3271_0517/0885\\0003",
        " 3271051708850003 ",
        "3271\u00a00517\u00a00885\u00a00003",  # NBSP
        "3271\t0517\n0885\r\n0003",
        "3271\u200b0517\u20130885\u20140003",  # zero-width space, en/em dash
        "\ufeff3271051708850003",  # BOM pasted from a file
    ],
)
def test_separators_are_stripped(raw):
    assert check_nik(raw, today=TODAY) == NikInfo(
        "3271051708850003", "L", date(1985, 8, 17), "327105"
    )


# --- refused NIKs -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code", "params"),
    [
        ("", "empty", {}),
        ("   ", "empty", {}),
        (" - . / _ ", "empty", {}),
        ("32710517088500O3", "not_digits", {}),  # letter O for zero
        ("NIK: 3271051708850003", "not_digits", {}),
        ("327105170885000a", "not_digits", {}),
        ("3271051708850003\u0663", "not_digits", {}),  # Arabic-Indic digit: not ASCII
        ("327105170885000", "length", {"got": 15}),
        ("3271 0517 0885 000", "length", {"got": 15}),
        ("32710517088500031", "length", {"got": 17}),
        ("1", "length", {"got": 1}),
        ("9971011708450001", "province", {}),  # 99 is not a province
        ("2071011708450001", "province", {}),
        ("0071011708450001", "province", {}),
        ("9771011708450001", "province", {}),  # Papua provinces end at 96
        ("3271051713850003", "month", {}),  # month 13
        ("3271051700850003", "month", {}),  # month 00
        ("3271050008850003", "day", {}),  # day 00
        ("3271053208850003", "day", {}),  # day 32
        ("3271054008850003", "day", {}),  # day 40 (= 0 + 40)
        ("3271057208850003", "day", {}),  # day 72 (= 32 + 40)
        ("3271058108850003", "day", {}),  # day 81: stdnum would take it as the 1st
        ("3271052902010001", "date", {}),  # 29 Feb 2001 / 1901
        ("3271056902010001", "date", {}),  # same, female
        ("3271053104850003", "date", {}),  # 31 Apr
        ("3271057104850003", "date", {}),  # 31 Apr, female
        ("3271053002000001", "date", {}),  # 30 Feb
        ("3271051708850000", "serial", {}),
    ],
)
def test_refused_nik(raw, code, params):
    assert check_nik(raw, today=TODAY) == IdProblem(code, params)


def test_29_feb_00_before_2000_is_future():
    # 29 Feb 1900 does not exist, and 29 Feb 2000 is still ahead.
    assert check_nik("3271052902000001", today=date(1999, 1, 1)) == IdProblem("future", {})


def test_99_is_not_a_province():
    assert "99" not in PROVINCE_CODES
    assert len(PROVINCE_CODES) == 38
    assert {"11", "21", "31", "32", "36", "51", "65", "76", "82", "91", "96"} <= PROVINCE_CODES


def test_every_stdnum_province_is_known():
    stdnum_provinces = {low for _, low, _, _, _ in numdb.get("id/loc").prefixes}
    assert stdnum_provinces <= PROVINCE_CODES


@pytest.mark.parametrize(
    "raw",
    ["3271051708850003", "3271055708850003", "3171011708450001", "3271057112990001"],
)
def test_birth_date_agrees_with_stdnum_for_20th_century(raw):
    info = check_nik(raw, today=TODAY)
    assert info.birth_date == stdnum_nik.get_birth_date(raw)


def test_problem_params_are_json_serialisable():
    problem = check_nik("123", today=TODAY)
    assert json.loads(json.dumps(problem.params)) == {"got": 3}


# --- clean_number -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("3271051234560003", "3271051234560003"),
        ("3271 05-12.34_56/0003", "3271051234560003"),
        ("\u00a03271\u202f0512\u3000", "32710512"),
        ("NIK: 3271 abc", "NIK:3271abc"),  # other characters stay, to be reported
        ("", ""),
    ],
)
def test_clean_number(raw, cleaned):
    assert clean_number(raw) == cleaned


# --- No. KK -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "entry", "region"),
    [
        ("3271050101100002", date(2010, 1, 1), "327105"),
        ("3271 0515 0817 0002", date(2017, 8, 15), "327105"),
        ("3271052902200001", date(2020, 2, 29), "327105"),
        ("3171010106250001", date(2025, 6, 1), "317101"),  # entered today
    ],
)
def test_valid_kk(raw, entry, region):
    assert check_kk(raw, today=TODAY) == KkInfo(clean_number(raw), entry, region)


@pytest.mark.parametrize(
    ("raw", "code", "params"),
    [
        ("", "empty", {}),
        ("KK3271050101100002", "not_digits", {}),
        ("327105010110000", "length", {"got": 15}),
        ("9971050101100002", "province", {}),
        ("3271050113100002", "month", {}),
        ("3271050001100002", "day", {}),
        ("3271054101100002", "day", {}),  # no +40 in a KK
        ("3271052902210001", "date", {}),  # 29 Feb 2021
        ("3271050101100000", "serial", {}),
        ("3271050206250001", "future", {}),  # tomorrow
        ("3271050101300002", "future", {}),  # 2030
    ],
)
def test_refused_kk(raw, code, params):
    assert check_kk(raw, today=TODAY) == IdProblem(code, params)


def test_kk_today_defaults_to_current_date():
    assert isinstance(check_kk("3271050101100002"), KkInfo)
    assert check_kk("3271050101990002") == IdProblem("future", {})  # 2099


# --- age_on -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        (date(1985, 8, 17), date(2025, 8, 16), 39),
        (date(1985, 8, 17), date(2025, 8, 17), 40),
        (date(2015, 3, 12), date(2025, 6, 1), 10),
        (date(2000, 2, 29), date(2025, 2, 28), 24),
        (date(2000, 2, 29), date(2025, 3, 1), 25),
        (date(2000, 2, 29), date(2024, 2, 29), 24),
        (date(2025, 6, 1), date(2025, 6, 1), 0),
    ],
)
def test_age_on(birth, on, age):
    assert age_on(birth, on) == age


# --- mask -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("3271051234560003", "3271 05•• •••• 0003"),
        ("3271 0512 3456 0003", "3271 05•• •••• 0003"),
        ("327105123456000", "327• •••• •••• 000"),  # 15 digits: 3 + 3 shown
        ("32710512345600031", "3271 •••• •••• •003 1"),  # 17 digits: first and last 4
        ("12345678", "12•• ••78"),
        ("123", "•••"),
        ("", ""),
    ],
)
def test_mask(raw, masked):
    assert mask(raw) == masked


def test_mask_17_digits_shows_last_four():
    assert mask("32710512345600031").replace(" ", "").endswith("0031")


@pytest.mark.parametrize("length", range(0, 41))
def test_mask_never_reveals_more_than_eight_digits_except_full_nik(length):
    number = ("3271051234560003" * 3)[:length]
    shown = re.findall(r"\d", mask(number))
    if length == 16:
        assert len(shown) == 10  # region code + serial, as the agreed format
    else:
        assert len(shown) <= min(8, length // 2)
