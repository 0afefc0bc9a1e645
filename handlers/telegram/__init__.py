"""The Telegram channel (aiogram): parse.py (updates -> events), markup.py (replies -> Bot API
messages), transport.py (the outbox's sender), media.py (photos), channel.py (webhook/polling).

Importing this package is cheap. The channel speaks the Bot API as plain JSON (botapi.py):
aiogram (seconds of imports, ~80 MiB) loads only to validate an update shape the fast parser
does not read, or for `render`'s aiogram models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handlers.plugin import ChannelPlugin, Wiring
from handlers.telegram.parse import CHANNEL, fast_event, update_to_event, webhook_event

if TYPE_CHECKING:
    from handlers.telegram.channel import TelegramChannel
    from handlers.telegram.markup import render, render_json
    from handlers.telegram.transport import TelegramTransport

__all__ = [
    "CHANNEL",
    "PLUGIN",
    "TelegramChannel",
    "TelegramTransport",
    "fast_event",
    "render",
    "render_json",
    "update_to_event",
    "webhook_event",
]

_LAZY = {
    "TelegramChannel": "channel",
    "TelegramTransport": "transport",
    "render": "markup",
    "render_json": "markup",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _build(w: Wiring) -> TelegramChannel:
    from handlers.telegram.channel import TelegramChannel

    return TelegramChannel(
        w.settings, w.receive, receive_many=w.receive_many, db=w.db, clock=w.clock
    )


PLUGIN = ChannelPlugin(
    key=CHANNEL,
    label="Telegram",
    enabled=lambda s: s.telegram_enabled,
    build=_build,
    off_notice="TELEGRAM_BOT_TOKEN is not set, so Telegram is off",
)
