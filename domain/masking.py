"""Masking what residents type before it is kept for staff to read (the misses of the
understanding layer): long numbers (a NIK, a No. KK, a phone number, with or without spaces,
dots, dashes or a leading +) and e-mail addresses are replaced, and the text is capped.

`mask_numbers` is the masking staff read and the inbox keeps (docs/privacy.md, "Masked where
staff read"): long numbers keep their shape, "3271 05•• •••• 0003", "0812****890"."""

from __future__ import annotations

import re

from domain.nik import mask

MAX_CHARS = 500
NUMBER = "[angka]"
EMAIL = "[email]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# 8 digits or more, with single spaces, dots, dashes or slashes between them (+62 812-3456-7890).
_NUMBER = re.compile(r"\+?\d(?:[ .\-/]{0,2}\d){7,}")


def mask_text(text: str, limit: int = MAX_CHARS) -> str:
    """`text` with e-mail addresses and runs of 8+ digits replaced, at most `limit` characters."""
    text = text[: limit * 4]
    text = _EMAIL.sub(EMAIL, text)
    text = _NUMBER.sub(NUMBER, text)
    return text.strip()[:limit]


# What staff read of a resident's words (the ticket page, a report's story, the simulator
# transcript) and what the inbox keeps after a step has read it: a number of 10 digits or more
# (a NIK, a No. KK, a phone number; single spaces, dots or dashes between the digits)
# keeps its shape but not its value. Shorter numbers (RT/RW, dates, amounts) stay as typed.
_LONG_NUMBER = re.compile(r"(?<!\d)\+?\d(?:[ .\-]?\d){9,}(?!\d)")
_ID_NUMBER = 16


def mask_number(raw: str) -> str:
    """One long number masked in the shape staff know: a 16-digit NIK or No. KK as
    domain.nik.mask ("3271 05•• •••• 0003": region and serial, never the date), any other
    number as a phone is shown ("0812****890")."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if len(digits) == _ID_NUMBER:
        return mask(digits)
    return digits[:4] + "****" + digits[-3:]


def mask_numbers(text: str) -> str:
    """`text` with every number of 10+ digits masked by `mask_number`; the rest unchanged."""
    if not text:
        return text
    return _LONG_NUMBER.sub(lambda m: mask_number(m.group()), text)


def has_long_number(text: str) -> bool:
    return bool(text) and _LONG_NUMBER.search(text) is not None


# The fields of a stored inbound event that hold the resident's own words (and a shared
# contact's number, when no step took it: the contact flow redacts the whole payload).
_WORD_FIELDS = ("text", "caption", "args", "phone")


def masked_payload(payload: dict | None) -> dict | None:
    """A copy of an inbound event's payload with long numbers masked in the resident's words,
    or None when there is nothing to mask (the stored row is then left as it is)."""
    if not payload:
        return None
    out = None
    for key in _WORD_FIELDS:
        value = payload.get(key)
        if isinstance(value, str) and has_long_number(value):
            out = out if out is not None else dict(payload)
            out[key] = mask_numbers(value)
    return out
