"""Translation and formatting for one locale. Text is rendered here, before an adapter sees it.

Message ids are English; `locales/<lang>/LC_MESSAGES/messages.po` holds the translations
(`make i18n` extracts, updates and compiles). Keywords the extractor knows:
  _("...")      translate now                 ngettext(s, p, n)  plural
  N_("...")     mark for later translation    L_("...")          a choice label (<= 20 chars)
Dates and numbers go through Babel (id_ID for Indonesian), times in Asia/Jakarta.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations

from domain.clock import JAKARTA

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
LOCALES = ("id", "en")
BABEL_LOCALE = {"id": "id_ID", "en": "en_GB"}


def N_(s: str) -> str:
    return s


def L_(s: str) -> str:
    return s


@cache
def _translations(locale: str) -> NullTranslations:
    t = Translations.load(str(LOCALES_DIR), [locale], "messages")
    return t


def normalize_locale(value: str | None, default: str = "id") -> str:
    if value:
        value = value.lower()[:2]
        if value in LOCALES:
            return value
    return default


class Texts:
    """Bound to one locale: `t._("Hello {name}", name=...)`."""

    __slots__ = ("locale", "_t", "_babel")

    def __init__(self, locale: str):
        self.locale = locale if locale in LOCALES else "id"
        self._t = _translations(self.locale)
        self._babel = BABEL_LOCALE[self.locale]

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
            time=format_time(local, format="short", locale=self._babel),
        )

    def time(self, when: dt.datetime) -> str:
        return format_time(when.astimezone(JAKARTA), format="short", locale=self._babel)

    def number(self, n) -> str:
        return format_decimal(n, locale=self._babel)

    def rupiah(self, amount) -> str:
        return format_currency(
            amount, "IDR", format="¤#,##0", locale="id_ID", currency_digits=False
        )


@cache
def texts(locale: str) -> Texts:
    return Texts(locale)
