"""Bad input made harmless at the edges (docs/security.md, "Bad input").

- `clean_text`: what a resident or an officer typed, without NUL (U+0000, which PostgreSQL
  refuses in text and JSON), other control characters (line breaks and tabs stay; CR LF
  becomes LF), lone surrogates (not encodable as UTF-8), capped in length.
- `scrub_json`: a decoded webhook body with `clean_text` applied to every string (and key),
  refused when nested deeper than a real update ever is, or when it holds NaN or Infinity.
- `decimal_number`: a typed number in any script's digits ("3", "³", "①", "３", "٣") as an int,
  or None: `str.isdigit()` is True for "²" and "①" but `int()` refuses them.
- `db_id`: an id from a URL or a form, as an int that fits a BIGINT column (1 .. 2^63-1), or None.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

# C0 controls except tab and line feed, DEL, C1 controls, and lone surrogates.
_BAD = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Deeper than any Telegram update or WhatsApp delivery (about 10 levels).
MAX_DEPTH = 32
MAX_ID = 2**63 - 1
# The longest typed number that can pick a button, a rating or a page.
_NUMBER_MAX_LEN = 9


def clean_text(value: str, limit: int | None = None) -> str:
    """`value` without NUL, control characters (except tab and line feed) and lone surrogates;
    CR LF and lone CR become LF. Cut to `limit` characters when given."""
    if limit is not None and len(value) > limit:
        value = value[:limit]
    if _BAD.search(value) is None:
        return value
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _BAD.sub("", value)


class BadJson(ValueError):
    """The body is JSON, but not one a channel sends: too deep, or NaN/Infinity."""


def _no_constants(name: str) -> Any:
    raise BadJson(f"{name} is not JSON")


def loads(body: bytes | str) -> Any:
    """`json.loads` for a webhook body, then `scrub_json`. Raises ValueError (JSONDecodeError,
    UnicodeDecodeError, BadJson) for anything a channel would not send; never RecursionError."""
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except RecursionError as e:
        raise BadJson("nested too deeply") from e
    return scrub_json(data)


def scrub_json(data: Any, max_depth: int = MAX_DEPTH, limit: int | None = None) -> Any:
    """A copy of decoded JSON with every string (and key) cleaned (`clean_text`, string values
    cut to `limit`). Raises BadJson when it nests deeper than `max_depth`. Iterative: no
    recursion limit to hit."""
    if isinstance(data, str):
        return clean_text(data, limit)
    if not isinstance(data, (dict, list)):
        return data
    root: list[Any] = [None]
    # (container to fill, its key in the parent, the source value, depth)
    stack: list[tuple[Any, Any, Any, int]] = [(root, 0, data, 1)]
    while stack:
        parent, key, src, depth = stack.pop()
        if depth > max_depth:
            raise BadJson("nested too deeply")
        if isinstance(src, dict):
            out: Any = {}
            parent[key] = out
            for k, v in src.items():
                k = clean_text(k)
                if isinstance(v, (dict, list)):
                    out[k] = None
                    stack.append((out, k, v, depth + 1))
                else:
                    out[k] = clean_text(v, limit) if isinstance(v, str) else v
        else:
            out = [None] * len(src)
            parent[key] = out
            for i, v in enumerate(src):
                if isinstance(v, (dict, list)):
                    stack.append((out, i, v, depth + 1))
                else:
                    out[i] = clean_text(v, limit) if isinstance(v, str) else v
    return root[0]


def decimal_number(word: str) -> int | None:
    """A short typed number as an int, in any script's digits after NFKC ("²" -> 2, "①" -> 1,
    "３" -> 3, "٣" -> 3); None for anything else."""
    if not word or len(word) > _NUMBER_MAX_LEN:
        return None
    if not (word.isascii() and word.isdigit()):
        word = unicodedata.normalize("NFKC", word)
        if not word.isdecimal() or len(word) > _NUMBER_MAX_LEN:
            return None
    return int(word)


def db_id(value: Any) -> int | None:
    """An id typed into a URL or sent in a form: ASCII digits within 1 .. 2^63-1, else None."""
    s = str(value)
    if not (0 < len(s) <= 19 and s.isascii() and s.isdigit()):
        return None
    n = int(s)
    return n if 1 <= n <= MAX_ID else None
