"""Telegram updates become core `Event`s: the one parser of the channel.

Two entry points share the builders below: `fast_event` reads the two shapes that make up nearly
all traffic (a private text message, a button tap) straight from the webhook's JSON, and
`update_to_event` reads an aiogram `Update` (polling, and every other webhook shape after
`Update.model_validate`). `webhook_event` is the webhook's path through both.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from core.model import Event

if TYPE_CHECKING:  # aiogram's types take seconds to import: only when an Update is validated
    from aiogram.types import CallbackQuery, Message, Update

CHANNEL = "tg"
# The longest file_id a photo's ref may be (report_photos.ref); Telegram's are about 90.
FILE_ID_MAX = 160

# "/start", "/start@jaring_bot payload", "/Cek 3201..." (Telegram commands are [A-Za-z0-9_]).
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,64})(?:@\w+)?(?:\s+(.*))?\Z", re.DOTALL)


# --------------------------------------------------------------------- the shared builders


def _text_event(
    update_id: int, user_id: int, chat_id: int, text: str, language_code: str | None
) -> Event:
    """A private text message: a command ("/cek 3201...") or free text."""
    m = _COMMAND.match(text)
    if m:
        kind = "command"
        payload: dict[str, Any] = {
            "command": m.group(1).lower(),
            "args": (m.group(2) or "").strip(),
        }
    else:
        kind, payload = "text", {"text": text}
    return Event(
        CHANNEL,
        f"tg:{user_id}",
        str(update_id),
        kind,
        payload,
        str(chat_id),
        _locale(language_code),
    )


def _choice_event(
    update_id: int, user_id: int, address: int, data: str, language_code: str | None
) -> Event:
    """A button tap (callback query) in a private chat."""
    return Event(
        CHANNEL,
        f"tg:{user_id}",
        str(update_id),
        "choice",
        {"id": data},
        str(address),
        _locale(language_code),
    )


def _locale(language_code: str | None) -> str | None:
    return language_code[:2].lower() if language_code else None


# --------------------------------------------------------------------- aiogram updates


def update_to_event(update: Update) -> Event | None:
    """The core event for an update, or None for updates Jaring does not handle (edits, channel
    posts, group chats, service messages without a sender, ...)."""
    if update.message is not None:
        return _message_event(update.update_id, update.message)
    if update.callback_query is not None:
        return _callback_event(update.update_id, update.callback_query)
    return None


def _message_event(update_id: int, msg: Message) -> Event | None:
    user = msg.from_user
    # Private chats only: in a group, replies about a resident's household would be read by
    # everyone in it.
    if user is None or msg.chat.type != "private":
        return None
    if msg.text is not None:
        return _text_event(update_id, user.id, msg.chat.id, msg.text, user.language_code)
    if msg.location is not None:  # also venues and live locations
        kind, payload = "location", {"lat": msg.location.latitude, "lon": msg.location.longitude}
    elif msg.contact is not None:
        kind, payload = (
            "contact",
            contact_payload(user.id, msg.contact.user_id, msg.contact.phone_number),
        )
    elif msg.photo and all(len(p.file_id) <= FILE_ID_MAX for p in msg.photo):
        largest = max(msg.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        kind, payload = "photo", {"ref": largest.file_id}
    else:
        content_type = msg.content_type
        kind, payload = "other", {"type": getattr(content_type, "value", str(content_type))}
    return Event(
        channel=CHANNEL,
        user_key=f"tg:{user.id}",
        external_id=str(update_id),
        kind=kind,
        payload=payload,
        address=str(msg.chat.id),
        locale_hint=_locale(user.language_code),
    )


def contact_payload(sender_id: int, contact_user_id: int | None, phone: str | None) -> dict:
    """A shared contact: the number only when it is the sender's own (Telegram's
    contact.user_id is the sender), which the "share my number" button guarantees. Someone
    else's contact card is answered without its number ever being stored."""
    if contact_user_id is not None and contact_user_id == sender_id and phone:
        return {"phone": str(phone)[:32], "own": True, "seen": True}
    return {"own": False}


def _callback_event(update_id: int, cq: CallbackQuery) -> Event | None:
    if cq.data is None:  # game buttons; we never send them
        return None
    if cq.message is not None:
        if cq.message.chat.type != "private":
            return None
        address = cq.message.chat.id
    else:  # the message is gone from Telegram's side; the private chat id is the user id
        address = cq.from_user.id
    return _choice_event(update_id, cq.from_user.id, address, cq.data, cq.from_user.language_code)


# --------------------------------------------------------------------- webhook JSON


def fast_event(data: Any) -> Event | None:
    """`update_to_event` for the two shapes that make up nearly all traffic (a private text
    message, a button tap), read straight from the JSON: validating the whole Update with
    pydantic cost a tenth of the CPU per update (docs/benchmarks.md). Anything else, or anything
    not exactly of the expected types, returns None and goes through `Update.model_validate`."""
    if not isinstance(data, dict) or type(data.get("update_id")) is not int:
        return None
    msg = data.get("message")
    if isinstance(msg, dict) and len(data) == 2:
        chat, user, text = msg.get("chat"), msg.get("from"), msg.get("text")
        if not (
            isinstance(chat, dict)
            and chat.get("type") == "private"
            and type(chat.get("id")) is int
            and isinstance(user, dict)
            and type(user.get("id")) is int
            and isinstance(text, str)
            and type(msg.get("message_id")) is int
            and type(msg.get("date")) is int
        ):
            return None
        return _text_event(
            data["update_id"], user["id"], chat["id"], text, _str_or_none(user.get("language_code"))
        )
    cq = data.get("callback_query")
    if isinstance(cq, dict) and len(data) == 2:
        user, cdata, cmsg = cq.get("from"), cq.get("data"), cq.get("message")
        chat = cmsg.get("chat") if isinstance(cmsg, dict) else None
        if not (
            isinstance(user, dict)
            and type(user.get("id")) is int
            and isinstance(cdata, str)
            and isinstance(cq.get("id"), str)
            and isinstance(chat, dict)
            and chat.get("type") == "private"
            and type(chat.get("id")) is int
        ):
            return None
        return _choice_event(
            data["update_id"],
            user["id"],
            chat["id"],
            cdata,
            _str_or_none(user.get("language_code")),
        )
    return None


def webhook_event(data: Any, bot: Any = None) -> Event | None:
    """The event for a webhook body (already JSON-decoded): the fast path, else full validation.
    Raises pydantic's ValidationError for a body that is not an Update."""
    event = fast_event(data)
    if event is None:
        from aiogram.types import Update

        event = update_to_event(Update.model_validate(data, context={"bot": bot}))
    if event is not None and not _ids_fit(event):
        raise ValueError("an id beyond 64 bits is not Telegram's")
    return event


_INT64 = range(-(2**63), 2**63)


def _ids_fit(event: Event) -> bool:
    """Telegram's ids (update, user, chat) fit in 64 bits (they use 52); a body with a larger
    one is not from Telegram, and its ids would not fit the database."""
    try:
        return all(
            int(v) in _INT64
            for v in (event.external_id, event.user_key.removeprefix("tg:"), event.address)
        )
    except ValueError:
        return False


def _str_or_none(v: Any) -> str | None:
    return v if isinstance(v, str) else None
