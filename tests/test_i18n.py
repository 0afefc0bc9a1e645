"""Catalog hygiene: everything extracted, translated, not fuzzy, compiled, and labels that fit."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from core.i18n import LOCALES, texts
from tools import i18n

LABEL_MAX = 20  # WhatsApp reply-button title; Telegram shows it whole
PLACEHOLDER = re.compile(r"{(\w*)}")


def catalog(locale):
    with i18n.po_path(locale).open("rb") as f:
        return read_po(f, locale=locale)


def test_catalogs_are_up_to_date_with_the_source():
    assert i18n.main(["--check"]) == 0, "run `make i18n` and commit the catalogs"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_translated_and_not_fuzzy(locale):
    cat = catalog(locale)
    bad = [m.id for m in cat if m.id and (not m.string or m.fuzzy)]
    assert bad == []


@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_catalog_matches_its_source(locale):
    """A .mo older than its .po (edited, not recompiled) fails here, whatever the file times."""
    cat = catalog(locale)
    with i18n.po_path(locale).with_suffix(".mo").open("rb") as f:
        mo = read_mo(f)
    want = {m.id: m.string for m in cat if m.id}
    got = {m.id: m.string for m in mo if m.id}
    assert got == want


@pytest.mark.parametrize("locale", LOCALES)
def test_choice_labels_fit(locale):
    t = texts(locale)
    too_long = {lbl: t._(lbl) for lbl in i18n.labels() if len(t._(lbl)) > LABEL_MAX}
    assert too_long == {}


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_survive_translation(locale):
    for m in catalog(locale):
        if m.id and isinstance(m.id, str):
            assert sorted(PLACEHOLDER.findall(m.string)) == sorted(PLACEHOLDER.findall(m.id)), m.id


def test_indonesian_is_the_default_and_formats_dates():
    from datetime import date

    t = texts("id")
    assert t._("Main menu") == "Menu utama"
    assert t.date(date(2026, 11, 1)) == "1 November 2026"
    assert t.rupiah(300000) == "Rp300.000"


def test_labels_are_found():
    assert {"Main menu", "Check aid status", "I agree"} <= i18n.labels()
    assert BytesIO  # keep import used


REGIONAL = ("su", "jv")


def _strings(locale):
    return {m.id: m.string for m in catalog(locale) if m.id}


def test_regional_catalogs_cover_the_template():
    ids = {m.id for m in i18n.extract() if m.id}
    for loc in REGIONAL:
        strings = _strings(loc)
        assert set(strings) == ids
        assert [i for i, s in strings.items() if not s or not str(s).strip()] == []


@pytest.mark.parametrize("locale", REGIONAL)
def test_regional_catalogs_are_translated_not_copied(locale):
    """Sundanese and Javanese are their own text: few strings equal Indonesian's (official
    terms, names, codes), and the two are not copies of each other."""
    ours, ind = _strings(locale), _strings("id")
    same = [i for i in ours if ours[i] == ind[i]]
    assert len(same) < 0.25 * len(ours), same[:20]
    other = _strings("jv" if locale == "su" else "su")
    assert sum(ours[i] == other[i] for i in ours) < 0.25 * len(ours)


@pytest.mark.parametrize("locale", REGIONAL)
def test_regional_catalogs_have_one_plural_form_and_keep_newlines(locale):
    cat = catalog(locale)
    assert cat.num_plurals == 1
    for m in cat:
        if m.id:
            assert m.string.endswith("\n") == m.id.endswith("\n"), m.id


@pytest.mark.parametrize("locale", REGIONAL)
def test_a_new_message_stays_untranslated_in_regional_catalogs(locale):
    """The en fill-from-ids logic must not touch su/jv: a new message waits for a translator."""
    template = i18n.extract()
    template.add("A brand new message for {name}")
    cat = i18n.updated(locale, template)
    assert not cat["A brand new message for {name}"].string
    assert i18n.updated("en", template)["A brand new message for {name}"].string


def test_official_terms_stay_indonesian():
    checks = {
        "Type your NIK (16 digits, printed on your KTP or family card).": "NIK",
        "Please type your No. KK as text: 16 digits.": "No. KK",
        "KUBE group": "KUBE",
        "UEP business aid": "UEP",
        "Check aid status": "bansos",
    }
    for loc in REGIONAL:
        t = texts(loc)
        for msgid, term in checks.items():
            assert t._(msgid) != msgid and term in t._(msgid), (loc, msgid)
