"""programs.toml: the shipped file loads, and a clerk's mistakes are all reported at once."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from domain.programs import MAX_LABEL, ConfigError, OfficeHours, Option, Sla, load_programs

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "data" / "programs.toml"
WIB = ZoneInfo("Asia/Jakarta")

# A small valid file; the mistake tests break it on purpose.
VALID = """
[service]
city = "Kota Contoh"
office = "Dinas Sosial Kota Contoh"
office_address = "Jl. Contoh No. 1"
office_phone = "(021) 1234567"
office_whatsapp = "0811-1111-1111"
office_email = "dinsos@contoh.go.id"
notice_version = "2026-11"
retention_months = 24
official_checks = ["Kantor kelurahan"]

[office_hours]
timezone = "Asia/Jakarta"
days = ["mon", "tue", "wed", "thu", "fri"]
open = "08:00"
close = "16:00"
holidays = [2026-12-25]

[sla]
verification_days = 14
first_response_hours = 24
escalate_supervisor_hours = 24
escalate_head_hours = 48
rt_answer_days = 3

[desil]
labels.1 = "sangat miskin"
labels.2 = "miskin"
labels.3 = "hampir miskin"
labels.4 = "rentan miskin"
labels.5 = "menengah bawah"
labels.6 = "mampu"
labels.7 = "mampu"
labels.8 = "mampu"
labels.9 = "mampu"
labels.10 = "mampu"
extreme_poverty = [1, 2]
source_note = "BPS"

[components]
child_max_age = 17
elder_min_age = 70

[kube]
min_members = 5
max_members = 20
member_age = [18, 60]
business_types = [{ code = "ternak", label = "Ternak" }]

[training]
sectors = [{ code = "menjahit", label = "Menjahit" }]
dtsen_priority = true

[programs.PKH]
name = "Program Keluarga Harapan"
short = "PKH"
kind = "bansos"
desil = [1, 4]
components = ["child", "elder", "disability"]
source = "Kepmensos 79/HUK/2025"
joinable = true

[programs.BPNT]
name = "Program Sembako"
short = "Sembako"
kind = "bansos"
desil = [1, 5]
source = "Kepmensos 79/HUK/2025"
joinable = true

[programs.BLT]
name = "Bantuan Langsung Tunai"
short = "BLT"
kind = "bansos"
source = "Kemensos"
joinable = false
"""


def write(tmp_path: Path, text: str, name: str = "programs.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def broken(text: str, *edits: tuple[str, str]) -> str:
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_programs(path)
    return info.value.problems


# --- the shipped Kota Bogor file --------------------------------------------------------------


def test_real_file_loads_with_every_code_in_display_order():
    cfg = load_programs(REAL)
    assert list(cfg.programs) == [
        "PKH",
        "BPNT",
        "PBI",
        "KUBE",
        "UEP",
        "PELATIHAN",
        "KIP",
        "KIPK",
        "BLT",
    ]
    assert cfg.known_codes() == frozenset(cfg.programs)


def test_real_file_service_and_settings():
    cfg = load_programs(REAL)
    assert (cfg.city, cfg.office) == ("Kota Bogor", "Dinas Sosial Kota Bogor")
    assert (cfg.notice_version, cfg.retention_months) == ("2026-11", 24)
    checks = " ".join(cfg.official_checks)
    assert "SIKS-NG" in checks and "Cek Bansos" in checks and "021-171" in checks
    assert cfg.official_checks_en is not None and len(cfg.official_checks_en) == 3
    assert cfg.office_hours == OfficeHours(
        "Asia/Jakarta", frozenset(range(5)), time(8), time(16), frozenset()
    )
    assert cfg.sla == Sla(
        verification_days=14,
        first_response_hours=24,
        escalate_supervisor_hours=24,
        escalate_head_hours=48,
        rt_answer_days=3,
    )
    assert set(cfg.desil_labels) == set(range(1, 11))
    assert cfg.desil_labels[1] == "kelompok paling membutuhkan bantuan"
    assert cfg.desil_labels[5] == "kelompok menengah bawah"
    assert all(cfg.desil_labels[d] == "kelompok menengah ke atas" for d in range(6, 11))
    # softer words than the media's (docs/wording.md): no label calls a family "miskin"
    assert not any("miskin" in label for label in cfg.desil_labels.values())
    assert cfg.extreme_poverty == (1, 2)
    assert (cfg.child_max_age, cfg.elder_min_age) == (17, 70)
    assert (cfg.kube_min_members, cfg.kube_max_members, cfg.kube_member_age) == (5, 20, (18, 60))
    assert len(cfg.business_types) == 6 and len(cfg.training_sectors) == 7
    assert cfg.training_dtsen_priority is True
    # Placeholders are still in the shipped file, and are listed so start-up can warn.
    assert "service.office_phone" in cfg.placeholders()


@pytest.mark.parametrize(
    "code, desil, components, head_age, member_age, joinable",
    [
        ("PKH", (1, 4), ("child", "elder", "disability"), None, None, True),
        ("BPNT", (1, 5), (), None, None, True),
        ("PBI", (1, 5), (), None, None, True),
        ("KUBE", (1, 4), (), (18, 60), None, True),
        ("UEP", (1, 4), (), None, None, True),
        ("PELATIHAN", (1, 5), (), None, (18, 60), True),
        ("KIPK", (1, 3), (), None, None, False),
        ("KIP", None, (), None, None, False),
        ("BLT", None, (), None, None, False),
    ],
)
def test_real_file_rules(code, desil, components, head_age, member_age, joinable):
    rule = load_programs(REAL).programs[code]
    assert (rule.desil, rule.components, rule.head_age, rule.member_age, rule.joinable) == (
        desil,
        components,
        head_age,
        member_age,
        joinable,
    )
    assert rule.kind in ("bansos", "pemberdayaan") and rule.name and rule.source


def test_real_file_labels_fit_whatsapp_buttons():
    cfg = load_programs(REAL)
    labels = [r.short for r in cfg.programs.values()]
    labels += [o.label for o in cfg.business_types + cfg.training_sectors]
    assert all(0 < len(label) <= MAX_LABEL for label in labels)


# --- mistakes ---------------------------------------------------------------------------------


def test_valid_sample_loads(tmp_path):
    cfg = load_programs(write(tmp_path, VALID))
    assert cfg.office_hours.holidays == frozenset({date(2026, 12, 25)})
    assert cfg.business_types == (Option("ternak", "Ternak"),)
    assert cfg.programs["BLT"].desil is None
    assert cfg.official_checks_en is None  # optional: English replies then show the Indonesian


def test_official_checks_en_is_checked_like_official_checks(tmp_path):
    text = VALID.replace(
        'official_checks = ["Kantor kelurahan"]',
        'official_checks = ["Kantor kelurahan"]\nofficial_checks_en = []',
    )
    with pytest.raises(ConfigError, match="service.official_checks_en: expected a non-empty list"):
        load_programs(write(tmp_path, text))


def test_every_mistake_is_listed_at_once(tmp_path):
    text = broken(
        VALID,
        ("desil = [1, 4]", "desil = [0, 4]"),  # PKH
        ('short = "Sembako"', 'short = "Bantuan Pangan Non Tunai!"'),  # 25 characters
        ("desil = [1, 5]", "desill = [1, 5]"),  # BPNT, typo
        ('timezone = "Asia/Jakarta"', 'timezone = "Asia/Bogor"'),
        *[(f'labels.{d} = "mampu"\n', "") for d in range(7, 11)],
    )
    problems = problems_of(write(tmp_path, text))
    assert problems == [
        "office_hours.timezone: unknown time zone 'Asia/Bogor'; use an IANA name such as \"Asia/Jakarta\"",
        "desil.labels.7: missing label",
        "desil.labels.8: missing label",
        "desil.labels.9: missing label",
        "desil.labels.10: missing label",
        "programs.PKH.desil: expected [min, max] with 1 <= min <= max <= 10, got [0, 4]",
        "programs.BPNT.desill: unknown key; did you mean 'desil'?",
        "programs.BPNT.short: at most 20 characters, got 25: 'Bantuan Pangan Non Tunai!'",
        "programs.BPNT.desil: required when joinable = true (residents need a rule to see whether they may join)",
    ]


def test_typo_in_a_table_name(tmp_path):
    problems = problems_of(write(tmp_path, broken(VALID, ("[desil]\n", "[desill]\n"))))
    assert problems == [
        "desill: unknown key; did you mean 'desil'?",
        "desil: missing required table",
    ]


def test_toml_syntax_error_names_file_and_line(tmp_path):
    path = write(
        tmp_path, '[service]\ncity = "Kota Bogor"\noffice = Dinas Sosial\n', name="rusak.toml"
    )
    problems = problems_of(path)
    assert len(problems) == 1
    assert (
        "rusak.toml" in problems[0]
        and "TOML syntax error" in problems[0]
        and "line 3" in problems[0]
    )


def test_missing_file(tmp_path):
    problems = problems_of(tmp_path / "nope.toml")
    assert len(problems) == 1 and "nope.toml: cannot read file" in problems[0]


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            ("retention_months = 24", 'retention_months = "24"'),
            'service.retention_months: expected a whole number from 1 to 240, got "24"',
        ),
        (("retention_months = 24\n", ""), "service.retention_months: missing required key"),
        (
            ('office_email = "dinsos@contoh.go.id"', 'office_email = "dinsos"'),
            "service.office_email: expected an e-mail address, got 'dinsos'",
        ),
        (
            ('days = ["mon",', 'days = ["mo",'),
            'office_hours.days: unknown day ["mo"]; use mon, tue, wed, thu, fri, sat, sun',
        ),
        (
            ('open = "08:00"', 'open = "8 pagi"'),
            'office_hours.open: expected a 24-hour time "HH:MM" such as "08:00", got "8 pagi"',
        ),
        (
            ('close = "16:00"', 'close = "07:00"'),
            "office_hours.close: must be later than open (08:00), got 07:00",
        ),
        (
            ("holidays = [2026-12-25]", 'holidays = ["25-12-2026"]'),
            'office_hours.holidays[0]: expected a date such as 2026-12-25, got "25-12-2026"',
        ),
        (
            ("escalate_head_hours = 48", "escalate_head_hours = 12"),
            "sla.escalate_head_hours: must be later than escalate_supervisor_hours (24), got 12",
        ),
        (
            ("extreme_poverty = [1, 2]", "extreme_poverty = [2, 1]"),
            "desil.extreme_poverty: expected [min, max] with 1 <= min <= max <= 10, got [2, 1]",
        ),
        (
            ('labels.10 = "mampu"', 'labels.10 = "mampu"\nlabels.11 = "kaya"'),
            "desil.labels.11: unknown key; desil runs from 1 to 10",
        ),
        (
            ("max_members = 20", "max_members = 3"),
            "kube.max_members: must be at least kube.min_members",
        ),
        (
            ('{ code = "ternak", label = "Ternak" }', '{ code = "Ternak Sapi", label = "Ternak" }'),
            "kube.business_types[0].code: use lowercase letters, digits and _ only (at most 32), got 'Ternak Sapi'",
        ),
        (
            (
                '{ code = "menjahit", label = "Menjahit" }',
                '{ code = "menjahit", lable = "Menjahit" }',
            ),
            "training.sectors[0].lable: unknown key; did you mean 'label'?",
        ),
        (
            ("dtsen_priority = true", 'dtsen_priority = "ya"'),
            'training.dtsen_priority: expected true or false, got "ya"',
        ),
        (
            ('kind = "bansos"', 'kind = "bantuan"'),
            'programs.PKH.kind: expected "bansos" or "pemberdayaan", got "bantuan"',
        ),
        (
            ('components = ["child",', 'components = ["kid",'),
            'programs.PKH.components: unknown component ["kid"]; use "child", "elder" or "disability"',
        ),
        (
            ("[programs.BLT]", "[programs.blt]"),
            "programs.blt: programme code must be capital letters, digits or _ (at most 16), starting with a letter",
        ),
        (
            ('source = "Kemensos"', 'source = "Kemensos"\nhead_age = [18, 60]'),
            "programs.BLT.head_age: only allowed together with desil (a programme without desil has no rule)",
        ),
    ],
)
def test_single_mistakes(tmp_path, edit, expected):
    problems = problems_of(write(tmp_path, broken(VALID, edit)))
    assert expected in problems, problems


def test_config_error_message_lists_problems():
    err = ConfigError(["a.b: one", "c: two"], source="programs.toml")
    assert (
        str(err) == "programs.toml: 2 problems in programme configuration\n  - a.b: one\n  - c: two"
    )


# --- office hours -----------------------------------------------------------------------------

HOURS = OfficeHours(
    "Asia/Jakarta", frozenset(range(5)), time(8), time(16), frozenset({date(2026, 12, 25)})
)


@pytest.mark.parametrize(
    "at, expected",
    [
        (datetime(2026, 11, 23, 8, 0, tzinfo=WIB), True),  # Monday, opening minute
        (datetime(2026, 11, 23, 7, 59, tzinfo=WIB), False),
        (datetime(2026, 11, 23, 15, 59, tzinfo=WIB), True),
        (datetime(2026, 11, 23, 16, 0, tzinfo=WIB), False),  # closing time is closed
        (datetime(2026, 11, 23, 1, 30, tzinfo=UTC), True),  # 08:30 WIB
        (datetime(2026, 11, 23, 0, 30, tzinfo=UTC), False),  # 07:30 WIB
        (datetime(2026, 11, 28, 10, 0, tzinfo=WIB), False),  # Saturday
        (datetime(2026, 12, 25, 10, 0, tzinfo=WIB), False),  # holiday (a Friday)
    ],
)
def test_is_open(at, expected):
    assert HOURS.is_open(at) is expected


def test_is_open_needs_an_aware_datetime():
    with pytest.raises(ValueError):
        HOURS.is_open(datetime(2026, 11, 23, 9, 0))
