"""Translation and formatting for one locale. Text is rendered here, before an adapter sees it.

Message ids are English; `locales/<lang>/LC_MESSAGES/messages.po` holds the translations
(`make i18n` extracts, updates and compiles). Keywords the extractor knows:
  _("...")      translate now                 ngettext(s, p, n)  plural
  N_("...")     mark for later translation    L_("...")          a choice label (<= 20 chars)
Dates go through Babel in the resident's language (su_ID gives "1 Nopémber 2026"); numbers,
times and rupiah stay Indonesian (id_ID) for Sundanese and Javanese, times in Asia/Jakarta.
The registers chosen for Sundanese and Javanese are in docs/languages.md.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from pathlib import Path

from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations

from domain.clock import JAKARTA

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
LOCALES = ("id", "en", "su", "jv")
BABEL_LOCALE = {"id": "id_ID", "en": "en_GB", "su": "su_ID", "jv": "jv_ID"}
# Numbers and times: Indonesian for the regional languages (jv_ID would write 16:05, not 16.05).
NUMBER_LOCALE = {**BABEL_LOCALE, "su": "id_ID", "jv": "id_ID"}
# Each language named in itself (the language step's buttons); the order they are offered in.
LANGUAGE_NAMES = {
    "id": "Bahasa Indonesia",
    "su": "Basa Sunda",
    "jv": "Basa Jawa",
    "en": "English",
}
# Words that mark a message as written in Sundanese or Javanese (whole words or phrases), used
# before the resident has chosen a language to offer theirs. Words both languages share
# ("mangga") or that Indonesian also uses are left out.
LANGUAGE_MARKERS = {
    "su": (
        "punten",
        "hatur nuhun",
        "nuhun",
        "kumaha",
        "abdi",
        "teu",
        "sampurasun",
        "henteu",
        "naon",
        "hoyong",
        "parantos",
        "nyuhunkeun",
        "wilujeng",
        "damang",
        "atuh",
        "pisan",
    ),
    "jv": (
        "nuwun sewu",
        "matur nuwun",
        "kulo",
        "kula",
        "mboten",
        "ora",
        "piye",
        "sugeng",
        "nggih",
        "pripun",
        "nyuwun",
        "sampun",
        "dereng",
        "kepriye",
        "panjenengan",
        "sampeyan",
        "monggo",
        "opo",
        "niki",
        "wonten",
    ),
}
_WORDS = re.compile(r"[a-z]+")


def N_(s: str) -> str:
    return s


def L_(s: str) -> str:
    return s


@cache
def _translations(locale: str) -> NullTranslations:
    t = Translations.load(str(LOCALES_DIR), [locale], "messages")
    if locale in ("su", "jv"):
        # A string not yet translated into Sundanese or Javanese is shown in Indonesian, which
        # every resident reads, never in the English of the source.
        t.add_fallback(Translations.load(str(LOCALES_DIR), ["id"], "messages"))
    return t


def normalize_locale(value: str | None, default: str = "id") -> str:
    if value:
        value = value.lower()[:2]
        if value in LOCALES:
            return value
    return default


def guess_locale(text: str) -> str | None:
    """ "su" or "jv" when the text carries more marker words of that language than of the
    other, else None (Indonesian, English, or too little to tell)."""
    words = " " + " ".join(_WORDS.findall(text.lower())) + " "
    hits = {
        loc: sum(f" {m} " in words for m in markers) for loc, markers in LANGUAGE_MARKERS.items()
    }
    best = max(hits, key=lambda k: hits[k])
    if hits[best] == 0 or list(hits.values()).count(hits[best]) > 1:
        return None
    return best


class Texts:
    """Bound to one locale: `t._("Hello {name}", name=...)`."""

    __slots__ = ("locale", "_t", "_babel", "_num")

    def __init__(self, locale: str):
        self.locale = locale if locale in LOCALES else "id"
        self._t = _translations(self.locale)
        self._babel = BABEL_LOCALE[self.locale]
        self._num = NUMBER_LOCALE[self.locale]

    def _(self, msgid: str, **kw) -> str:
        s = self._t.gettext(msgid)
        return s.format(**kw) if kw else s

    def ngettext(self, singular: str, plural: str, n: int, **kw) -> str:
        s = self._t.ngettext(singular, plural, n)
        return s.format(n=n, **kw)

    def date(self, d: dt.date) -> str:
        return format_date(d, format="long", locale=self._babel)

    def datetime(self, when: dt.datetime) -> str:
        """e.g. '23 November 2026 pukul 16.05 WIB'."""
        local = when.astimezone(JAKARTA)
        return self._(
            "{date} at {time} WIB",
            date=self.date(local.date()),
            time=format_time(local, format="short", locale=self._num),
        )

    def time(self, when: dt.datetime) -> str:
        return format_time(when.astimezone(JAKARTA), format="short", locale=self._num)

    def number(self, n) -> str:
        return format_decimal(n, locale=self._num)

    def rupiah(self, amount) -> str:
        return format_currency(
            amount, "IDR", format="¤#,##0", locale="id_ID", currency_digits=False
        )


@cache
def texts(locale: str) -> Texts:
    return Texts(locale)
