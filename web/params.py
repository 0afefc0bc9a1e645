"""What the dashboard reads from a URL or a form, made safe to hand to the database
(docs/security.md, "Bad input"): ids within a BIGINT, text without NUL or control characters.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from domain.cleaning import clean_text, db_id


def path_id(request: web.Request, name: str = "id") -> int:
    """The integer id in the URL (`/inbox/{id}`): 404 unless it is ASCII digits within
    1 .. 2^63-1 (a larger number would make PostgreSQL fail, not find nothing)."""
    value = db_id(request.match_info.get(name, ""))
    if value is None:
        raise web.HTTPNotFound()
    return value


def text(value: Any, limit: int | None = None) -> str:
    """A form or query value as text: no NUL (PostgreSQL refuses it), no control characters
    other than tab and line feed (CR LF from a textarea becomes LF), cut to `limit`."""
    if value is None:
        return ""
    return clean_text(str(value), limit)


def form_text(form: Any, key: str, limit: int | None = None, default: str = "") -> str:
    """`text` of a form field (a file field counts as empty)."""
    value = form.get(key, default)
    return text(value if isinstance(value, str) else default, limit)
