"""The city's programme rules and office settings, loaded from `programs.toml`.

`load_programs` is the only function in `domain/` that reads a file. It checks the whole file and
raises one `ConfigError` listing every mistake (each naming its key path), so a clerk who edits the
file fixes everything in one round instead of one error per restart.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, fields
from datetime import date, datetime, time
from os import PathLike
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_LABEL = 20  # WhatsApp reply-button titles are cut at 20 characters
PLACEHOLDER_MARK = "ganti sebelum tayang"  # marks values to replace before launch
COMPONENTS = ("child", "elder", "disability")
KINDS = ("bansos", "pemberdayaan")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()

_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,15}$")  # fits program_memberships.program_code (16)
_OPTION_CODE_RE = re.compile(r"^[a-z0-9_]{1,32}$")  # short ASCII, safe inside choice ids
_HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ConfigError(Exception):
    """Every mistake found in a configuration file, one English message per mistake."""

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        count = len(self.problems)
        head = f"{where}{count} problem{'s' if count != 1 else ''} in programme configuration"
        super().__init__("\n  - ".join([head, *self.problems]))


@dataclass(frozen=True)
class ProgramRule:
    code: str
    name: str
    short: str
    kind: str  # "bansos" | "pemberdayaan"
    desil: tuple[int, int] | None  # inclusive; None: held-only, no joining rule
    components: tuple[str, ...]  # household needs at least one; empty: no component rule
    head_age: tuple[int, int] | None  # age of the KEPALA_KELUARGA, inclusive
    member_age: tuple[int, int] | None  # at least one member in range, inclusive
    source: str
    joinable: bool


@dataclass(frozen=True)
class Option:
    code: str
    label: str


@dataclass(frozen=True)
class OfficeHours:
    timezone: str
    days: frozenset[int]  # 0 = Monday, as date.weekday()
    open: time
    close: time
    holidays: frozenset[date]

    def is_open(self, at: datetime) -> bool:
        """Whether staff are at work at the aware instant `at` (compared in the office's timezone)."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("OfficeHours.is_open needs a timezone-aware datetime")
        local = at.astimezone(ZoneInfo(self.timezone))
        if local.weekday() not in self.days or local.date() in self.holidays:
            return False
        return self.open <= local.time().replace(tzinfo=None) < self.close


@dataclass(frozen=True)
class Sla:
    verification_days: int
    first_response_hours: int
    escalate_supervisor_hours: int
    escalate_head_hours: int
    rt_answer_days: int


@dataclass(frozen=True)
class Limits:
    """What one conversation may open in a day (WIB), against floods from one account; [limits]
    in programs.toml, optional, these defaults (docs/privacy.md)."""

    reports_per_day: int = 5
    tickets_per_day: int = 5


@dataclass(frozen=True)
class ProgramsConfig:
    city: str
    office: str
    office_address: str
    office_phone: str
    office_whatsapp: str
    office_email: str
    notice_version: str
    retention_months: int
    official_checks: tuple[str, ...]
    office_hours: OfficeHours
    sla: Sla
    desil_labels: dict[int, str]  # 1..10
    extreme_poverty: tuple[int, int]  # inclusive desil range
    desil_source_note: str
    child_max_age: int
    elder_min_age: int
    kube_min_members: int
    kube_max_members: int
    kube_member_age: tuple[int, int]
    business_types: tuple[Option, ...]
    training_sectors: tuple[Option, ...]
    training_dtsen_priority: bool
    programs: dict[str, ProgramRule]  # insertion order = display order
    desil_labels_en: dict[int, str] | None = None  # optional English labels for English replies
    official_checks_en: tuple[str, ...] | None = None  # optional, for English replies
    # How long a phone number a resident gave for a matter is kept (conversations/contact.py).
    contact_retention_months: int = 6
    limits: Limits = Limits()

    def known_codes(self) -> frozenset[str]:
        return frozenset(self.programs)

    def placeholders(self) -> list[str]:
        """Names of the [service] fields that still hold a "ganti sebelum tayang" placeholder."""
        names = ("office_address", "office_phone", "office_whatsapp", "office_email")
        return [
            f"service.{n}"
            for n in names
            if PLACEHOLDER_MARK in getattr(self, n).lower().replace("-", " ")
        ]


# --- loading -----------------------------------------------------------------------------------


def load_programs(path: str | PathLike[str]) -> ProgramsConfig:
    """Read and check `programs.toml`; raise ConfigError listing every problem found."""
    name = str(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError([f"{name}: cannot read file: {e.strerror or e}"], source=name) from None
    except UnicodeDecodeError as e:
        raise ConfigError(
            [f"{name}: not valid UTF-8 text ({e.reason} at byte {e.start})"], source=name
        ) from None
    except tomllib.TOMLDecodeError as e:
        # Python 3.11 puts the position in the message: "... (at line 3, column 7)".
        raise ConfigError([f"{name}: TOML syntax error: {e}"], source=name) from None
    return _parse(data, name)


_TOP = (
    "service",
    "office_hours",
    "sla",
    "desil",
    "components",
    "kube",
    "training",
    "programs",
    "limits",
)
_LIMITS = tuple(f.name for f in fields(Limits))
_SERVICE = (
    "city",
    "office",
    "office_address",
    "office_phone",
    "office_whatsapp",
    "office_email",
    "notice_version",
    "retention_months",
    "official_checks",
    "official_checks_en",
)
_OFFICE_HOURS = ("timezone", "days", "open", "close", "holidays")
_SLA = tuple(f.name for f in fields(Sla))
_DESIL = ("labels", "labels_en", "extreme_poverty", "source_note")
_COMPONENTS = ("child_max_age", "elder_min_age")
_KUBE = ("min_members", "max_members", "member_age", "business_types")
_TRAINING = ("sectors", "dtsen_priority")
_PROGRAM_REQUIRED = ("name", "short", "kind", "source", "joinable")
_PROGRAM_OPTIONAL = ("desil", "components", "head_age", "member_age")


def _parse(data: dict[str, Any], source: str) -> ProgramsConfig:
    c = _Checker()
    top = c.table(data, "", _TOP, optional=("limits",))

    def section(name: str, keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, Any]:
        # A missing section was reported by the top-level check; its keys are then not listed.
        return c.table(top[name], name, keys, optional) if name in top else {}

    service = section(
        "service",
        (*_SERVICE, "contact_retention_months"),
        optional=("official_checks_en", "contact_retention_months"),
    )
    hours = section("office_hours", _OFFICE_HOURS)
    sla = section("sla", _SLA)
    desil = section("desil", _DESIL, optional=("labels_en",))
    comp = section("components", _COMPONENTS)
    kube = section("kube", _KUBE)
    training = section("training", _TRAINING)

    values: dict[str, Any] = {}
    for key in (
        "city",
        "office",
        "office_address",
        "office_phone",
        "office_whatsapp",
        "notice_version",
    ):
        values[key] = c.text(service, "service", key)
    values["office_email"] = c.email(service, "service", "office_email")
    values["retention_months"] = c.integer(service, "service", "retention_months", 1, 240)
    if "contact_retention_months" in service:
        months = c.integer(service, "service", "contact_retention_months", 1, 240)
        if months is not None:
            values["contact_retention_months"] = months
    values["official_checks"] = c.text_list(service, "service", "official_checks")
    if "official_checks_en" in service:
        values["official_checks_en"] = c.text_list(service, "service", "official_checks_en")
    values["office_hours"] = _office_hours(c, hours)
    values["sla"] = _sla(c, sla)

    values["desil_labels"] = _desil_labels(c, desil.get("labels"))
    if "labels_en" in desil:
        values["desil_labels_en"] = _desil_labels(c, desil["labels_en"], "desil.labels_en")
    values["extreme_poverty"] = c.int_range(desil, "desil", "extreme_poverty", 1, 10)
    values["desil_source_note"] = c.text(desil, "desil", "source_note")

    values["child_max_age"] = c.integer(comp, "components", "child_max_age", 0, 120)
    values["elder_min_age"] = c.integer(comp, "components", "elder_min_age", 0, 120)
    if (
        None not in (values["child_max_age"], values["elder_min_age"])
        and values["child_max_age"] >= values["elder_min_age"]
    ):
        c.problem("components.child_max_age", "must be lower than components.elder_min_age")

    values["kube_min_members"] = c.integer(kube, "kube", "min_members", 1, 1000)
    values["kube_max_members"] = c.integer(kube, "kube", "max_members", 1, 1000)
    if (
        None not in (values["kube_min_members"], values["kube_max_members"])
        and values["kube_min_members"] > values["kube_max_members"]
    ):
        c.problem("kube.max_members", "must be at least kube.min_members")
    values["kube_member_age"] = c.int_range(kube, "kube", "member_age", 0, 120)
    values["business_types"] = c.options(kube, "kube", "business_types")

    values["training_sectors"] = c.options(training, "training", "sectors")
    values["training_dtsen_priority"] = c.boolean(training, "training", "dtsen_priority")

    values["programs"] = _programs(c, top.get("programs"))
    if "limits" in top:
        limits = section("limits", _LIMITS, optional=_LIMITS)
        given = {k: c.integer(limits, "limits", k, 1, 1000) for k in _LIMITS if k in limits}
        values["limits"] = Limits(**{k: v for k, v in given.items() if v is not None})

    if c.problems:
        raise ConfigError(c.problems, source=source)
    return ProgramsConfig(**values)


def _office_hours(c: _Checker, t: dict[str, Any]) -> OfficeHours | None:
    tz = c.text(t, "office_hours", "timezone")
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            c.problem(
                "office_hours.timezone",
                f'unknown time zone {tz!r}; use an IANA name such as "Asia/Jakarta"',
            )
            tz = None

    days: frozenset[int] | None = None
    raw = t.get("days")
    if raw is not None:
        if not isinstance(raw, list) or not raw or not all(isinstance(d, str) for d in raw):
            c.problem(
                "office_hours.days",
                f'expected a non-empty list such as ["mon", "tue"], got {_show(raw)}',
            )
        else:
            bad = [d for d in raw if d.lower() not in DAY_NAMES]
            if bad:
                c.problem(
                    "office_hours.days", f"unknown day {_show(bad)}; use {', '.join(DAY_NAMES)}"
                )
            elif len({d.lower() for d in raw}) != len(raw):
                c.problem("office_hours.days", "a day is listed twice")
            else:
                days = frozenset(DAY_NAMES.index(d.lower()) for d in raw)

    opens = c.clock(t, "office_hours", "open")
    closes = c.clock(t, "office_hours", "close")
    if opens is not None and closes is not None and opens >= closes:
        c.problem(
            "office_hours.close", f"must be later than open ({opens:%H:%M}), got {closes:%H:%M}"
        )

    holidays: frozenset[date] | None = None
    raw = t.get("holidays")
    if raw is not None:
        if not isinstance(raw, list):
            c.problem(
                "office_hours.holidays",
                f"expected a list of dates such as [2026-12-25], got {_show(raw)}",
            )
        else:
            parsed: list[date] = []
            for i, item in enumerate(raw):
                d = _as_date(item)
                if d is None:
                    c.problem(
                        f"office_hours.holidays[{i}]",
                        f"expected a date such as 2026-12-25, got {_show(item)}",
                    )
                else:
                    parsed.append(d)
            holidays = frozenset(parsed)

    if tz is None or days is None or opens is None or closes is None or holidays is None:
        return None
    return OfficeHours(timezone=tz, days=days, open=opens, close=closes, holidays=holidays)


def _sla(c: _Checker, t: dict[str, Any]) -> Sla | None:
    vals = {key: c.integer(t, "sla", key, 1, 10_000) for key in _SLA}
    sup, head = vals["escalate_supervisor_hours"], vals["escalate_head_hours"]
    if sup is not None and head is not None and head <= sup:
        c.problem(
            "sla.escalate_head_hours",
            f"must be later than escalate_supervisor_hours ({sup}), got {head}",
        )
    checked = {key: v for key, v in vals.items() if v is not None}
    if len(checked) < len(vals):
        return None
    return Sla(**checked)


def _desil_labels(c: _Checker, raw: Any, path: str = "desil.labels") -> dict[int, str] | None:
    if raw is None:
        return None  # reported as a missing key already
    if not isinstance(raw, dict):
        c.problem(path, f"expected a table with keys 1 to 10, got {_show(raw)}")
        return None
    wanted = [str(d) for d in range(1, 11)]
    for key in raw:
        if key not in wanted:
            c.problem(f"{path}.{key}", "unknown key; desil runs from 1 to 10")
    labels: dict[int, str] = {}
    for key in wanted:
        if key not in raw:
            c.problem(f"{path}.{key}", "missing label")
            continue
        value = c.text(raw, path, key)
        if value is not None:
            labels[int(key)] = value
    return labels if len(labels) == 10 else None


def _programs(c: _Checker, raw: Any) -> dict[str, ProgramRule] | None:
    if raw is None:
        return None  # reported as a missing table already
    if not isinstance(raw, dict) or not raw:
        c.problem("programs", "expected at least one [programs.CODE] table")
        return None
    rules: dict[str, ProgramRule] = {}
    ok = True
    for code, body in raw.items():
        path = f"programs.{code}"
        if not _CODE_RE.match(code):
            c.problem(
                path,
                "programme code must be capital letters, digits or _ (at most 16), starting with a letter",
            )
            ok = False
        if not isinstance(body, dict):
            c.problem(path, f"expected a table, got {_show(body)}")
            ok = False
            continue
        rule = _program(c, code, body)
        if rule is None:
            ok = False
        else:
            rules[code] = rule
    return rules if ok else None


def _program(c: _Checker, code: str, t: dict[str, Any]) -> ProgramRule | None:
    path = f"programs.{code}"
    before = len(c.problems)
    c.table(t, path, _PROGRAM_REQUIRED + _PROGRAM_OPTIONAL, optional=_PROGRAM_OPTIONAL)
    name = c.text(t, path, "name")
    short = c.text(t, path, "short", max_len=MAX_LABEL)
    kind = c.text(t, path, "kind")
    if kind is not None and kind not in KINDS:
        c.problem(f"{path}.kind", f'expected "bansos" or "pemberdayaan", got {_show(kind)}')
    source = c.text(t, path, "source")
    joinable = c.boolean(t, path, "joinable")

    desil = c.int_range(t, path, "desil", 1, 10) if "desil" in t else None
    head_age = c.int_range(t, path, "head_age", 0, 120) if "head_age" in t else None
    member_age = c.int_range(t, path, "member_age", 0, 120) if "member_age" in t else None
    components: tuple[str, ...] = ()
    if "components" in t:
        raw = t["components"]
        if not isinstance(raw, list) or not raw or not all(isinstance(x, str) for x in raw):
            c.problem(
                f"{path}.components",
                f'expected a non-empty list of "child", "elder", "disability", got {_show(raw)}',
            )
        elif bad := [x for x in raw if x not in COMPONENTS]:
            c.problem(
                f"{path}.components",
                f'unknown component {_show(bad)}; use "child", "elder" or "disability"',
            )
        elif len(set(raw)) != len(raw):
            c.problem(f"{path}.components", "a component is listed twice")
        else:
            components = tuple(raw)

    if "desil" not in t:
        # Without a desil range there is no rule; other conditions would never be checked.
        for key in ("components", "head_age", "member_age"):
            if key in t:
                c.problem(
                    f"{path}.{key}",
                    "only allowed together with desil (a programme without desil has no rule)",
                )
        if joinable is True:
            c.problem(
                f"{path}.desil",
                "required when joinable = true (residents need a rule to see whether they may join)",
            )

    if len(c.problems) > before:
        return None
    # No new problem means every required value was read (each accessor records one for None).
    if name is None or short is None or kind is None or source is None or joinable is None:
        return None
    return ProgramRule(
        code=code,
        name=name,
        short=short,
        kind=kind,
        desil=desil,
        components=components,
        head_age=head_age,
        member_age=member_age,
        source=source,
        joinable=joinable,
    )


class _Checker:
    """Collects problems; each accessor returns the checked value, or None after a problem."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def table(
        self, raw: Any, path: str, allowed: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Check a table's keys: unknown keys (with a suggestion) and missing required keys."""
        if raw is None:
            self.problem(path, "missing table")
            return {}
        if not isinstance(raw, dict):
            self.problem(path, f"expected a table, got {_show(raw)}")
            return {}
        prefix = f"{path}." if path else ""
        for key in raw:
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                extra = (
                    f"; did you mean {hint[0]!r}?"
                    if hint
                    else f"; expected one of: {', '.join(allowed)}"
                )
                self.problem(f"{prefix}{key}", f"unknown key{extra}")
        for key in allowed:
            if key not in raw and key not in optional:
                self.problem(
                    f"{prefix}{key}", "missing required key" if path else "missing required table"
                )
        return raw

    def text(
        self, t: dict[str, Any], path: str, key: str, max_len: int | None = None
    ) -> str | None:
        raw = t.get(key)
        if raw is None:
            return None
        where = f"{path}.{key}"
        if not isinstance(raw, str) or not raw.strip():
            self.problem(where, f"expected non-empty text, got {_show(raw)}")
            return None
        if max_len is not None and len(raw) > max_len:
            self.problem(where, f"at most {max_len} characters, got {len(raw)}: {raw!r}")
            return None
        return raw.strip()

    def email(self, t: dict[str, Any], path: str, key: str) -> str | None:
        value = self.text(t, path, key)
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            self.problem(f"{path}.{key}", f"expected an e-mail address, got {value!r}")
            return None
        return value

    def text_list(self, t: dict[str, Any], path: str, key: str) -> tuple[str, ...] | None:
        raw = t.get(key)
        if raw is None:
            return None
        if (
            not isinstance(raw, list)
            or not raw
            or not all(isinstance(x, str) and x.strip() for x in raw)
        ):
            self.problem(
                f"{path}.{key}", f"expected a non-empty list of non-empty texts, got {_show(raw)}"
            )
            return None
        return tuple(x.strip() for x in raw)

    def integer(self, t: dict[str, Any], path: str, key: str, lo: int, hi: int) -> int | None:
        raw = t.get(key)
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int) or not lo <= raw <= hi:
            self.problem(
                f"{path}.{key}", f"expected a whole number from {lo} to {hi}, got {_show(raw)}"
            )
            return None
        return raw

    def boolean(self, t: dict[str, Any], path: str, key: str) -> bool | None:
        raw = t.get(key)
        if raw is None:
            return None
        if not isinstance(raw, bool):
            self.problem(f"{path}.{key}", f"expected true or false, got {_show(raw)}")
            return None
        return raw

    def int_range(
        self, t: dict[str, Any], path: str, key: str, lo: int, hi: int
    ) -> tuple[int, int] | None:
        raw = t.get(key)
        if raw is None:
            return None
        good = (
            isinstance(raw, list)
            and len(raw) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in raw)
            and lo <= raw[0] <= raw[1] <= hi
        )
        if not good:
            self.problem(
                f"{path}.{key}",
                f"expected [min, max] with {lo} <= min <= max <= {hi}, got {_show(raw)}",
            )
            return None
        return raw[0], raw[1]

    def clock(self, t: dict[str, Any], path: str, key: str) -> time | None:
        raw = t.get(key)
        if raw is None:
            return None
        if isinstance(raw, time) and raw.tzinfo is None:
            return raw  # a TOML local time such as 08:00:00 is accepted too
        m = _HHMM_RE.match(raw) if isinstance(raw, str) else None
        if m is None:
            self.problem(
                f"{path}.{key}",
                f'expected a 24-hour time "HH:MM" such as "08:00", got {_show(raw)}',
            )
            return None
        return time(int(m[1]), int(m[2]))

    def options(self, t: dict[str, Any], path: str, key: str) -> tuple[Option, ...] | None:
        raw = t.get(key)
        if raw is None:
            return None
        where = f"{path}.{key}"
        if not isinstance(raw, list) or not raw:
            self.problem(
                where,
                f'expected a non-empty list of {{ code = "...", label = "..." }}, got {_show(raw)}',
            )
            return None
        before = len(self.problems)
        result: list[Option] = []
        seen: set[str] = set()
        for i, item in enumerate(raw):
            item_path = f"{where}[{i}]"
            if not isinstance(item, dict):
                self.problem(
                    item_path, f'expected {{ code = "...", label = "..." }}, got {_show(item)}'
                )
                continue
            self.table(item, item_path, ("code", "label"))
            code = self.text(item, item_path, "code")
            label = self.text(item, item_path, "label", max_len=MAX_LABEL)
            if code is not None and not _OPTION_CODE_RE.match(code):
                self.problem(
                    f"{item_path}.code",
                    f"use lowercase letters, digits and _ only (at most 32), got {code!r}",
                )
            elif code is not None and code in seen:
                self.problem(f"{item_path}.code", f"duplicate code {code!r}")
            if code is not None:
                seen.add(code)
            if code is not None and label is not None:
                result.append(Option(code, label))
        return tuple(result) if len(self.problems) == before else None


def _as_date(value: Any) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _show(value: Any) -> str:
    """A value as the clerk wrote it, near enough: lists as [0, 4], texts quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "a table"
    return str(value)
