"""The Telegram channel (aiogram): parse.py (updates -> events), markup.py (replies -> Bot API
messages), transport.py (the outbox's sender), media.py (photos), channel.py (webhook/polling).

Importing this package is cheap: aiogram (seconds of imports) loads only when the channel is
built or one of its aiogram-based names is used."""

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

    return TelegramChannel(w.settings, w.receive, db=w.db, clock=w.clock)


PLUGIN = ChannelPlugin(
    key=CHANNEL,
    label="Telegram",
    enabled=lambda s: s.telegram_enabled,
    build=_build,
    off_notice="TELEGRAM_BOT_TOKEN is not set, so Telegram is off",
)
