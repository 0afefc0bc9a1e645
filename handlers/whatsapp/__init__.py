"""WhatsApp Cloud API channel: one module per job (see channel.py's docstring).

Importing this package is cheap: pywa (and what it pulls in, several MiB of RSS) loads only
when the channel is built or one of its pywa-based names is used, so a service without
WhatsApp never loads it. The names other modules and the tests use are re-exported here."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from handlers.plugin import ChannelPlugin, Wiring
from handlers.whatsapp.parse import (
    CHANNEL,
    BadDelivery,
    Delivery,
    Inbound,
    Media,
    Status,
    parse_delivery,
    signature_ok,
)
from handlers.whatsapp.render import (
    BODY_MAX,
    BUTTON_TITLE_MAX,
    BUTTONS_MAX,
    LIST_BUTTON_MAX,
    LIST_ROWS_MAX,
    MORE_PREFIX,
    PAGE_ROWS,
    ROW_TITLE_MAX,
    TEXT_MAX,
    WORDS,
    render,
    split_pieces,
    words,
)

if TYPE_CHECKING:
    from handlers.whatsapp.channel import WhatsAppChannel

# name -> module, loaded on first use (these import pywa)
_LAZY = {
    "SIGNATURE_HEADER": "channel",
    "WEBHOOK_PATH": "channel",
    "WhatsAppChannel": "channel",
    "WhatsAppTransport": "channel",
    "PAIR_RATE_LIMIT": "graph",
    "RATE_LIMIT": "graph",
    "REENGAGEMENT": "graph",
    "RETRY_CODES": "graph",
    "GraphClient": "graph",
    "GraphHTTPError": "graph",
    "recipient": "graph",
    "send_error": "graph",
    "MEDIA_ATTEMPTS": "media",
    "MEDIA_MAX_BYTES": "media",
    "MEDIA_TYPES": "media",
    "MediaFetcher": "media",
    "WINDOW": "window",
    "WINDOW_MARGIN": "window",
    "Contact": "window",
    "Window": "window",
    "Windows": "window",
    "in_window": "window",
    "is_open": "window",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _build(w: Wiring) -> WhatsAppChannel:
    from handlers.whatsapp.channel import WhatsAppChannel

    return WhatsAppChannel(w.settings, w.receive, db=w.db, outbox=w.outbox, clock=w.clock)


PLUGIN = ChannelPlugin(
    key=CHANNEL, label="WhatsApp", enabled=lambda s: s.whatsapp_enabled, build=_build
)

__all__ = [
    "BODY_MAX", "BUTTONS_MAX", "BUTTON_TITLE_MAX", "CHANNEL", "LIST_BUTTON_MAX",
    "LIST_ROWS_MAX", "MORE_PREFIX", "PAGE_ROWS", "PLUGIN", "ROW_TITLE_MAX", "TEXT_MAX",
    "WORDS", "BadDelivery", "Delivery", "Inbound", "Media", "Status", "parse_delivery",
    "render", "signature_ok", "split_pieces", "words", *_LAZY,
]  # fmt: skip
