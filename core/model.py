"""Channel-neutral inbound events and outbound replies.

Adapters translate a channel's update into an `Event` and render `Reply` objects; nothing here
knows about Telegram or WhatsApp.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["text", "choice", "location", "photo", "command", "contact", "other"]

# The id of a choice that asks for the resident's own phone number. A channel that can hand it
# over itself renders and answers it so: Telegram as a "share contact" keyboard button (the
# reply is a `contact` event), WhatsApp as a button whose tap becomes a `contact` event with the
# number the resident writes from. Elsewhere (the terminal, the simulator, WhatsApp when Meta
# gives no number) it stays a plain choice and the flow asks for the number to be typed.
SHARE_CONTACT = "contact:share"


@dataclass(frozen=True, slots=True)
class Event:
    channel: str  # "tg", "wa", "console", "web"
    user_key: str  # "tg:<user id>", "wa:<BSUID or wa_id>", "console:<name>"
    external_id: str  # Telegram update_id, WhatsApp wamid, console counter
    kind: Kind
    # text: {"text"}; choice: {"id"}; location: {"lat","lon"}; photo: {"ref"};
    # command: {"command", "args"}; other: {"type"};
    # contact: {"phone": as the channel gives it, or absent, "own": the channel checked that it
    # is the sender's own number, "seen": the resident saw the number when sharing it}
    payload: dict[str, Any]
    address: str  # where replies go: Telegram chat id, WhatsApp id
    locale_hint: str | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    id: str  # short ASCII, <= 64 bytes (Telegram callback_data)
    label: str  # already translated; <= 20 characters (WhatsApp button title)


@dataclass(slots=True)
class Reply:
    text: str  # already translated
    choices: list[Choice] = field(default_factory=list)
    request: Literal["location", "photo"] | None = None

    def to_payload(self, locale: str | None = None) -> dict[str, Any]:
        p = {
            "text": self.text,
            "choices": [[c.id, c.label] for c in self.choices],
            "request": self.request,
        }
        if locale:  # the conversation's locale, for an adapter's own few words ("Pilih", "Lainnya")
            p["locale"] = locale
        return p


class SendError(Exception):
    """Base of the typed send errors an adapter's transport raises; the outbox acts on the type."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason[:250]


class SendRetry(SendError):
    """Retryable: 429 (with retry_after), 5xx, timeouts, network errors."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class SendFinal(SendError):
    """Final: a bad request that will never succeed."""


class SendStopped(SendError):
    """The user blocked the bot or deleted the chat: stop sending to them."""


class SendHeld(SendError):
    """Not sendable now, but later (WhatsApp: outside the 24-hour window). The outbox marks the
    row `held`; the adapter re-queues held rows when sending becomes possible again."""
