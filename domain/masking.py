"""Masking what residents type before it is kept for staff to read (the misses of the
understanding layer): long numbers (a NIK, a No. KK, a phone number, with or without spaces,
dots, dashes or a leading +) and e-mail addresses are replaced, and the text is capped."""

from __future__ import annotations

import re

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
