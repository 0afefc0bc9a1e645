"""Which programmes a household receives and which it may join, by the rules in programs.toml.

The result is facts and reason codes, not sentences: the conversation layer turns each Reason
into words in the resident's language. Meeting a rule here is necessary, not sufficient; the
answer is always "may join", never a decision.

Reason codes and params (params are JSON-serialisable), in this order within a result:
    receiving      {}                                      the household already receives it
    desil_in       {"desil": d, "min": a, "max": b}
    desil_out      {"desil": d, "min": a, "max": b}
    component      {"which": [...]}                        present components the rule asks for
    no_component   {"child_max_age": n, "elder_min_age": m}
    head_age_in    {"age": n, "min": a, "max": b}          age of the KEPALA_KELUARGA
    head_age_out   {"age": n, "min": a, "max": b}
    no_head        {}                                      no KEPALA_KELUARGA in the household
    member_age_in  {"min": a, "max": b}                    at least one member in range
    member_age_out {"min": a, "max": b}
    not_joinable   {}                                      applied for elsewhere, not via Dinsos
Every condition of a rule is evaluated and reported, also after one has failed, so a reply can
explain all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.programs import ProgramRule, ProgramsConfig

HEAD = "KEPALA_KELUARGA"


@dataclass(frozen=True, slots=True)
class MemberFacts:
    birth_date: date
    hubungan: (
        str  # KEPALA_KELUARGA, ISTRI, SUAMI, ANAK, ORANG_TUA, MERTUA, CUCU, FAMILI_LAIN, LAINNYA
    )
    disabilitas: bool


@dataclass(frozen=True, slots=True)
class HouseholdFacts:
    desil: int  # 1..10
    members: tuple[MemberFacts, ...]
    programs_held: frozenset[str]  # codes from the DTSEN extract


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ProgramResult:
    code: str
    receiving: bool
    eligible: bool | None  # None: held-only programme with no rule, not evaluated
    reasons: tuple[Reason, ...]


def age_on(birth_date: date, today: date) -> int:
    """Whole years on `today` (someone born on 29 February turns a year older on 1 March)."""
    return (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )


def is_extreme_poverty(desil: int, cfg: ProgramsConfig) -> bool:
    low, high = cfg.extreme_poverty
    return low <= desil <= high


def evaluate(h: HouseholdFacts, cfg: ProgramsConfig, today: date) -> list[ProgramResult]:
    """One result per programme, in config order, that the household holds or that has a rule.

    Codes in `h.programs_held` that the config does not know are left out; the importer checks
    them against `cfg.known_codes()`.
    """
    if not 1 <= h.desil <= 10:
        raise ValueError(f"desil must be 1..10, got {h.desil}")
    results = []
    for rule in cfg.programs.values():
        receiving = rule.code in h.programs_held
        if rule.desil is None:
            if receiving:
                results.append(ProgramResult(rule.code, True, None, (Reason("receiving", {}),)))
            continue
        eligible, reasons = _check(rule, rule.desil, h, cfg, today)
        if receiving:
            reasons.insert(0, Reason("receiving", {}))
        if not rule.joinable:
            reasons.append(Reason("not_joinable", {}))
        results.append(ProgramResult(rule.code, receiving, eligible, tuple(reasons)))
    return results


def _check(
    rule: ProgramRule, desil: tuple[int, int], h: HouseholdFacts, cfg: ProgramsConfig, today: date
) -> tuple[bool, list[Reason]]:
    reasons: list[Reason] = []
    ok = True

    low, high = desil
    desil_ok = low <= h.desil <= high
    reasons.append(
        Reason("desil_in" if desil_ok else "desil_out", {"desil": h.desil, "min": low, "max": high})
    )
    ok &= desil_ok

    if rule.components:
        present = _components(h, cfg, today)
        which = [c for c in rule.components if c in present]
        if which:
            reasons.append(Reason("component", {"which": which}))
        else:
            reasons.append(
                Reason(
                    "no_component",
                    {"child_max_age": cfg.child_max_age, "elder_min_age": cfg.elder_min_age},
                )
            )
            ok = False

    if rule.head_age is not None:
        low, high = rule.head_age
        head = next((m for m in h.members if m.hubungan == HEAD), None)
        if head is None:
            reasons.append(Reason("no_head", {}))
            ok = False
        else:
            age = age_on(head.birth_date, today)
            head_ok = low <= age <= high
            reasons.append(
                Reason(
                    "head_age_in" if head_ok else "head_age_out",
                    {"age": age, "min": low, "max": high},
                )
            )
            ok &= head_ok

    if rule.member_age is not None:
        low, high = rule.member_age
        member_ok = any(low <= age_on(m.birth_date, today) <= high for m in h.members)
        reasons.append(
            Reason("member_age_in" if member_ok else "member_age_out", {"min": low, "max": high})
        )
        ok &= member_ok

    return ok, reasons


def _components(h: HouseholdFacts, cfg: ProgramsConfig, today: date) -> set[str]:
    present = set()
    for m in h.members:
        age = age_on(m.birth_date, today)
        if 0 <= age <= cfg.child_max_age:  # a birth date after `today` is bad data, not a child
            present.add("child")
        if age >= cfg.elder_min_age:
            present.add("elder")
        if m.disabilitas:
            present.add("disability")
    return present
