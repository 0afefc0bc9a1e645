"""Reply payload -> Graph API message objects: text, reply buttons, a list, a paged list (9 rows
and "Lainnya" per page), a location request; long bodies split at paragraph, line or word
boundaries to fit Meta's limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.i18n import L_, LOCALES, texts

# Meta's limits (channels.md §3).
TEXT_MAX = 4096
BODY_MAX = 1024  # interactive message body
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
LIST_ROWS_MAX = 10
ROW_TITLE_MAX = 24
LIST_BUTTON_MAX = 20

MORE_PREFIX = "wa:more:"  # list row id of "Lainnya" (next page), handled here, not in the core
PAGE_ROWS = LIST_ROWS_MAX - 1  # rows per page when a "Lainnya" row follows


def _words(locale: str) -> dict[str, str]:
    """The adapter's own few words, from the catalogs like every resident-facing text; labels
    fit every limit above (tests/test_whatsapp_render.py, tests/test_i18n.py)."""
    t = texts(locale)
    return {
        "choose": t._(L_("Choose")),
        "more": t._(L_("More")),
        "more_body": t._("More choices ({page}/{pages}):"),
    }


WORDS: dict[str, dict[str, str]] = {loc: _words(loc) for loc in LOCALES}


def words(locale: str | None) -> dict[str, str]:
    return WORDS.get((locale or "id")[:2], WORDS["id"])


def split_pieces(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut between paragraphs, else lines, else words;
    a single word longer than the limit (a URL, say) is the only thing ever cut inside."""
    text = text.strip("\n")
    if len(text) <= limit:
        return [text]
    for sep in ("\n\n", "\n", " "):
        parts = text.split(sep)
        if len(parts) == 1:
            continue
        out: list[str] = []
        cur = ""
        for part in parts:
            candidate = part if not cur else cur + sep + part
            if len(candidate) <= limit:
                cur = candidate
                continue
            if cur:
                out.append(cur)
            if len(part) <= limit:
                cur = part
            else:  # this part alone is too long: split it finer
                pieces = split_pieces(part, limit)
                out += pieces[:-1]
                cur = pieces[-1]
        if cur:
            out.append(cur)
        return [p for p in (x.strip("\n") for x in out) if p]
    return [text[i : i + limit] for i in range(0, len(text), limit)]


def _page_rows(choices: list[list[str]], page: int, more_label: str) -> tuple[list[dict], int]:
    """Rows of `page` (0-based) and the number of pages: 9 choices and "Lainnya" per page, the
    last page up to 10 choices."""
    pages, start = 1, 0
    while len(choices) - start > LIST_ROWS_MAX:
        start += PAGE_ROWS
        pages += 1
    page = max(0, min(page, pages - 1))
    start = page * PAGE_ROWS
    if page < pages - 1:
        rows = [{"id": cid, "title": label} for cid, label in choices[start : start + PAGE_ROWS]]
        rows.append({"id": f"{MORE_PREFIX}{page + 1}", "title": more_label})
    else:
        rows = [{"id": cid, "title": label} for cid, label in choices[start:]]
    return rows, pages


def render(payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The Graph API messages, as (type, object) pairs, for one reply payload
    {"text", "choices": [[id, label], ...], "request", "locale"?, "wa_page"?}."""
    text = str(payload.get("text") or "")
    choices = [[str(c[0]), str(c[1])] for c in payload.get("choices") or []]
    w = words(payload.get("locale"))
    page = int(payload.get("wa_page") or 0)
    labels = [label for _, label in choices]

    if payload.get("request") == "location":
        if choices:  # one interactive message: choices become numbers the resident can type
            text = (text + "\n\n" if text else "") + "\n".join(
                f"{n}. {label}" for n, label in enumerate(labels, 1)
            )
        return _with_body(
            text or w["choose"],
            lambda body: {
                "type": "location_request_message",
                "body": {"text": body},
                "action": {"name": "send_location"},
            },
        )
    if not choices:
        return [
            ("text", {"body": part, "preview_url": False})
            for part in split_pieces(text, TEXT_MAX)
            if part
        ]

    if (
        len(choices) <= BUTTONS_MAX
        and all(0 < len(x) <= BUTTON_TITLE_MAX for x in labels)
        and len(set(labels)) == len(labels)
    ):
        buttons = [
            {"type": "reply", "reply": {"id": cid, "title": label}} for cid, label in choices
        ]
        return _with_body(
            text or w["choose"],
            lambda body: {"type": "button", "body": {"text": body}, "action": {"buttons": buttons}},
        )
    if all(0 < len(x) <= ROW_TITLE_MAX for x in labels):
        rows, pages = _page_rows(choices, page, w["more"])
        if page > 0:
            text = w["more_body"].format(page=min(page, pages - 1) + 1, pages=pages)
        action = {"button": w["choose"], "sections": [{"rows": rows}]}
        return _with_body(
            text or w["choose"],
            lambda body: {"type": "list", "body": {"text": body}, "action": action},
        )
    # Labels that fit no WhatsApp control (the catalogs prevent this): a numbered list to type.
    numbered = (text + "\n\n" if text else "") + "\n".join(
        f"{n}. {label}" for n, label in enumerate(labels, 1)
    )
    return [
        ("text", {"body": part, "preview_url": False}) for part in split_pieces(numbered, TEXT_MAX)
    ]


def _with_body(text: str, make: Callable[[str], dict]) -> list[tuple[str, dict[str, Any]]]:
    """Long bodies: the leading pieces go as plain text, the last (<= 1024) carries the controls."""
    parts = split_pieces(text, BODY_MAX)
    head = split_pieces("\n\n".join(parts[:-1]), TEXT_MAX) if len(parts) > 1 else []
    return [("text", {"body": p, "preview_url": False}) for p in head if p] + [
        ("interactive", make(parts[-1]))
    ]
