"""Phone numbers residents give so that an officer can call them (conversations/contact.py).

A small normaliser instead of the `phonenumbers` library (not in requirements; docs/privacy.md):
the numbers are Indonesian in nearly every case, and staff only need one canonical form to dial
and to compare.

- `normalize` turns what a resident types or a channel gives ("0812-3456-7890", "+62 812 3456
  7890", "6281234567890", "812 3456 7890", a Telegram contact's "6281234567890") into E.164
  ("+6281234567890"), or None. Indonesian numbers: after the country code 62, a national
  significant number of 8 to 12 digits that starts with 2-9 (mobile 8xx, landlines with an
  area code such as 251 for Bogor). Other countries (a resident working abroad writing from a
  foreign WhatsApp number) only with a leading + or as a channel's sender id: 8 to 15 digits.
- `national` is the form staff dial in Indonesia ("081234567890"), `masked` the form every
  message and list shows ("0812****890"). A full number is shown only to staff on demand.
"""

from __future__ import annotations

import re

COUNTRY = "62"
_SEPARATORS = re.compile(r"[\s.\-/()]+")
_ID_NSN = re.compile(r"[2-9]\d{7,11}\Z")  # national significant number, Indonesia
_E164 = re.compile(r"\+[1-9]\d{7,14}\Z")


def normalize(text: str | None, *, international: bool = False) -> str | None:
    """E.164 ("+6281234567890") for an Indonesian number typed in any usual way, else None.
    `international`: digits that are already a full international number (a channel's sender
    id, WhatsApp's wa_id) are accepted for any country."""
    if not text:
        return None
    s = _SEPARATORS.sub("", str(text).strip())
    if s.startswith("00"):
        s = "+" + s[2:]
    if s.startswith("+"):
        if not s[1:].isdigit():
            return None
        if s.startswith("+" + COUNTRY):
            nsn = s[1 + len(COUNTRY) :].removeprefix("0")
            return "+" + COUNTRY + nsn if _ID_NSN.match(nsn) else None
        return s if _E164.match(s) else None
    if not s.isdigit():
        return None
    if s.startswith(COUNTRY) and _ID_NSN.match(s[len(COUNTRY) :].removeprefix("0")):
        return "+" + COUNTRY + s[len(COUNTRY) :].removeprefix("0")
    if s.startswith("0") and not s.startswith("00") and _ID_NSN.match(s[1:]):
        return "+" + COUNTRY + s[1:]
    if s.startswith("8") and _ID_NSN.match(s):  # a mobile number typed without its 0
        return "+" + COUNTRY + s
    if international and _E164.match("+" + s):
        return "+" + s
    return None


def national(e164: str) -> str:
    """The form dialled in Indonesia: "+6281234567890" -> "081234567890"; foreign numbers
    stay international."""
    if e164.startswith("+" + COUNTRY):
        return "0" + e164[1 + len(COUNTRY) :]
    return e164


def masked(e164: str | None) -> str:
    """ "+6281234567890" -> "0812****890": enough for a resident or an officer to recognise the
    number, not enough to dial it."""
    if not e164:
        return ""
    n = national(e164)
    return n[:4] + "****" + n[-3:]


def looks_like_phone(text: str) -> bool:
    """The text is mostly a number (digits, spaces, dashes, a +): a try at a phone number, to be
    answered with "that is not a phone number" rather than "not understood"."""
    s = _SEPARATORS.sub("", text.strip())
    return len(s) >= 6 and s.lstrip("+").isdigit()
