"""Reply payloads become Bot API messages: the one renderer of the channel.

`render_json` builds the text and the keyboard as plain Bot API JSON (what the transport sends);
`render` gives the same keyboard as aiogram models, for callers that use aiogram's methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.model import SHARE_CONTACT

if TYPE_CHECKING:  # aiogram is imported by `render` only (the service sends JSON)
    from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup

# Fallback label of the "send my location" button; the core normally passes request_label.
DEFAULT_LOCATION_LABEL = "Kirim lokasi"
# Up to this many choices with labels up to this long share one row of buttons.
ONE_ROW_MAX_CHOICES = 3
ONE_ROW_MAX_LABEL = 12


def render_json(payload: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """Text and reply_markup for a reply payload {"text", "choices": [[id, label], ...],
    "request"}."""
    text: str = payload["text"]
    choices: list[list[str]] = payload.get("choices") or []
    if payload.get("request") == "location":
        # A message carries one keyboard: the location button wins, and the choices are listed
        # as numbers the resident can type (the engine resolves typed numbers).
        if choices:
            text += "\n\n" + "\n".join(f"{n}. {label}" for n, (_, label) in enumerate(choices, 1))
        label = payload.get("request_label") or DEFAULT_LOCATION_LABEL
        return text, {
            "keyboard": [[{"text": label, "request_location": True}]],
            "resize_keyboard": True,
            "one_time_keyboard": True,
        }
    if not choices:
        return text, None  # request "photo" needs no keyboard: the resident attaches one
    if any(cid == SHARE_CONTACT for cid, _ in choices):
        # Asking for the resident's phone number: a reply keyboard whose first button shares
        # their own contact (Telegram asks them to confirm, and the reply is a contact message);
        # the other choices are keyboard buttons that send their label, which the engine
        # resolves like a typed label.
        return text, {
            "keyboard": [
                [{"text": label, "request_contact": True}]
                if cid == SHARE_CONTACT
                else [{"text": label}]
                for cid, label in choices
            ],
            "resize_keyboard": True,
            "one_time_keyboard": True,
        }
    buttons = [{"text": label, "callback_data": cid} for cid, label in choices]
    short = all(len(label) <= ONE_ROW_MAX_LABEL for _, label in choices)
    rows = (
        [buttons] if short and 2 <= len(buttons) <= ONE_ROW_MAX_CHOICES else [[b] for b in buttons]
    )
    return text, {"inline_keyboard": rows}


def render(
    payload: dict[str, Any],
) -> tuple[str, InlineKeyboardMarkup | ReplyKeyboardMarkup | None]:
    """`render_json` with the keyboard as aiogram models."""
    from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup

    text, markup = render_json(payload)
    if markup is None:
        return text, None
    if "keyboard" in markup:
        return text, ReplyKeyboardMarkup.model_validate(markup)
    return text, InlineKeyboardMarkup.model_validate(markup)
