"""Pure rules: KUBE membership and submission, join codes, names; training registration,
overlap, priority allocation, reminder times (Asia/Jakarta), and the session row checks."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest

from domain import kube as K
from domain import training as T

AGE = (18, 60)


def facts(**over) -> K.JoinFacts:
    base = dict(
        age=40,
        person_kelurahan="3271051002",
        household_eligible=True,
        in_active_group=False,
        household_in_active_group=False,
        group_kelurahan="3271051002",
        group_status=K.DRAFT,
        member_count=4,
    )
    base.update(over)
    return K.JoinFacts(**base)


@pytest.mark.parametrize(
    "over, expected",
    [
        ({}, None),
        ({"age": 18}, None),
        ({"age": 60}, None),
        ({"age": 17}, "age"),
        ({"age": 61}, "age"),
        ({"household_eligible": False}, "not_eligible"),
        ({"in_active_group": True}, "already_member"),
        ({"household_in_active_group": True}, "household_member"),
        ({"person_kelurahan": "3271051005"}, "other_kelurahan"),
        ({"group_status": K.SUBMITTED}, "not_open"),
        ({"group_status": K.REJECTED}, "not_open"),
        ({"member_count": 19}, None),
        ({"member_count": 20}, "full"),
        # the order of reasons: a closed group first, then the place, then the person, then room
        ({"group_status": K.APPROVED, "age": 70}, "not_open"),
        ({"person_kelurahan": "x", "age": 70}, "other_kelurahan"),
        ({"age": 70, "member_count": 20}, "age"),
    ],
)
def test_join_problem(over, expected):
    assert K.join_problem(facts(**over), AGE, 20) == expected


@pytest.mark.parametrize(
    "status, n, roles, expected",
    [
        (K.DRAFT, 5, ["ketua", "sekretaris", "bendahara", "anggota", "anggota"], None),
        (K.DRAFT, 4, ["ketua", "sekretaris", "bendahara", "anggota"], "too_few"),
        (K.DRAFT, 21, ["ketua", "sekretaris", "bendahara"] + ["anggota"] * 18, "too_many"),
        (K.DRAFT, 5, ["ketua", "bendahara", "anggota", "anggota", "anggota"], "no_sekretaris"),
        (K.DRAFT, 5, ["ketua", "sekretaris", "anggota", "anggota", "anggota"], "no_bendahara"),
        (K.SUBMITTED, 5, ["ketua", "sekretaris", "bendahara", "anggota", "anggota"], "not_draft"),
    ],
)
def test_submit_problem(status, n, roles, expected):
    assert K.submit_problem(status, n, roles, (5, 20)) == expected


def test_decide_only_submitted():
    assert [s for s in (K.DRAFT, K.SUBMITTED, K.APPROVED, K.REJECTED) if K.can_decide(s)] == [
        K.SUBMITTED
    ]


def test_join_codes_are_unambiguous_and_forgiving():
    rng = random.Random(4)
    codes = {K.new_code(choice=rng.choice) for _ in range(500)}
    assert all(len(c) == 6 and not set(c) & set("0O1IL") for c in codes)
    assert len(codes) == 500
    assert K.clean_code(" k7m-3qx ") == "K7M3QX"
    assert K.clean_code("K7M3Q") is None and K.clean_code("K7M3Q0") is None


@pytest.mark.parametrize(
    "nama, short",
    [
        ("Siti Rahmawati", "Siti R."),
        ("SITI RAHMAWATI", "Siti R."),
        ("Asep", "Asep"),
        ("Dewi  Lestari Putri", "Dewi L."),
        ("", ""),
    ],
)
def test_short_name(nama, short):
    assert K.short_name(nama) == short


def wib(y, m, d, h=8, mi=0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=T.JAKARTA)


@pytest.mark.parametrize(
    "a, ad, b, bd, expected",
    [
        (wib(2026, 12, 5), 3, wib(2026, 12, 7, 13), 1, True),
        (wib(2026, 12, 5), 3, wib(2026, 12, 8), 1, False),
        (wib(2026, 12, 5), 1, wib(2026, 12, 5, 18), 1, True),  # same day, other hours
        (wib(2026, 12, 10), 2, wib(2026, 12, 5), 6, True),
        (wib(2026, 12, 10), 2, wib(2026, 12, 5), 5, False),
        # 23.30 WIB on 4 Dec is 16.30 UTC: the Jakarta day counts, not the UTC one
        (wib(2026, 12, 4, 23, 30), 1, wib(2026, 12, 5, 7), 1, False),
    ],
)
def test_overlaps(a, ad, b, bd, expected):
    assert T.overlaps(a, ad, b, bd) is expected
    assert T.overlaps(b, bd, a, ad) is expected


@pytest.mark.parametrize(
    "over, expected",
    [
        ({}, None),
        ({"open_": False}, "closed"),
        ({"already": True}, "already"),
        ({"desil": 6}, "desil"),
        ({"age": 17}, "age"),
        ({"age": 61}, "age"),
        ({"overlap": True}, "overlap"),
        ({"desil": 5, "age": 18}, None),
    ],
)
def test_register_problem(over, expected):
    base = dict(
        desil=2, age=30, desil_max=5, age_range=(18, 60), open_=True, already=False, overlap=False
    )
    base.update(over)
    assert T.register_problem(**base) == expected


def test_registration_is_open_until_the_end_of_the_deadline_day_in_jakarta():
    start = wib(2026, 12, 5)
    assert T.is_open(date(2026, 12, 1), start, wib(2026, 12, 1, 23, 59))
    assert not T.is_open(date(2026, 12, 1), start, wib(2026, 12, 2, 0, 0))
    assert T.allocation_due(date(2026, 12, 1), wib(2026, 12, 2, 0, 0))
    assert not T.allocation_due(date(2026, 12, 1), wib(2026, 12, 1, 23, 59))


def _t(minute):
    return datetime(2026, 11, 23, 3, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    "applicants, quota, expected",
    [
        ([], 3, []),
        (
            [(1, 3, 0), (2, 2, 1), (3, 2, 2), (4, 1, 3)],
            2,
            [(4, "CONFIRMED", 1), (2, "CONFIRMED", 2), (3, "WAITLIST", 1), (1, "WAITLIST", 2)],
        ),
        ([(1, 2, 5), (2, 2, 1)], 5, [(2, "CONFIRMED", 1), (1, "CONFIRMED", 2)]),
        ([(7, 4, 1), (5, 4, 1)], 1, [(5, "CONFIRMED", 1), (7, "WAITLIST", 1)]),  # same time: by id
    ],
)
def test_allocate_by_desil_then_time(applicants, quota, expected):
    got = T.allocate([T.Applicant(i, d, _t(m)) for i, d, m in applicants], quota)
    assert got == expected


@pytest.mark.parametrize(
    "now, r3, r1, expected",
    [
        (wib(2026, 12, 2, 7, 59), False, False, None),
        (wib(2026, 12, 2, 8, 0), False, False, "3d"),
        (wib(2026, 12, 2, 8, 0), True, False, None),
        (wib(2026, 12, 3, 20, 0), True, False, None),
        (wib(2026, 12, 4, 8, 0), True, False, "1d"),
        (wib(2026, 12, 4, 8, 0), False, False, "1d"),  # registered late: the 1-day one only
        (wib(2026, 12, 4, 9, 0), True, True, None),
        (wib(2026, 12, 5, 8, 0), False, False, None),  # started
    ],
)
def test_reminder_due(now, r3, r1, expected):
    assert T.reminder_due(wib(2026, 12, 5, 8, 0), now, r3, r1) == expected


def _parse(**over):
    row = {
        "title": "Menjahit",
        "sector": "menjahit",
        "organiser": "LPK",
        "kecamatan": "Bogor Utara",
        "place": "Aula",
        "start": "2026-12-05 08:00",
        "days": "3",
        "quota": "20",
        "deadline": "2026-12-01",
        "desil_max": "5",
        "age": "18-60",
    }
    row.update(over)
    return T.parse_session(
        row,
        sectors=["menjahit", "barista"],
        find_kecamatan=lambda t: "327105" if t == "Bogor Utara" else None,
        today=date(2026, 11, 23),
    )


def test_parse_session_ok_in_jakarta_time():
    s = _parse(priority="ya", notes="Bawa KTP")
    assert s.starts_at == datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
    assert (s.kecamatan_code, s.age_min, s.age_max, s.priority, s.notes) == (
        "327105",
        18,
        60,
        True,
        "Bawa KTP",
    )


@pytest.mark.parametrize(
    "over, word",
    [
        ({"title": ""}, "title: wajib"),
        ({"sector": "sulap"}, "sector: 'sulap'"),
        ({"kecamatan": "Bogor Tenggara"}, "kecamatan"),
        ({"start": "5/12/2026"}, "start: format"),
        ({"days": "tiga"}, "days: harus angka"),
        ({"quota": "0"}, "quota: harus 1–1000"),
        ({"desil_max": "11"}, "desil_max"),
        ({"age": "60-18"}, "age: MIN lebih besar"),
        ({"age": "18"}, "age: format"),
        ({"deadline": "2026-12-05"}, "deadline: harus sebelum"),
        ({"deadline": "2026-11-01"}, "deadline: sudah lewat"),
        ({"priority": "mungkin"}, "priority"),
    ],
)
def test_parse_session_reports_every_problem(over, word):
    errors = _parse(**over)
    assert isinstance(errors, list) and any(word in e for e in errors), errors
