"""The Telegram channel (aiogram): parse.py (updates -> events), render.py (replies -> Bot API
messages), transport.py (the outbox's sender), media.py (photos), channel.py (webhook/polling)."""
from __future__ import annotations

from handlers.plugin import ChannelPlugin, Wiring
from handlers.telegram.channel import TelegramChannel
from handlers.telegram.parse import CHANNEL, fast_event, update_to_event, webhook_event
from handlers.telegram.render import render, render_json
from handlers.telegram.transport import TelegramTransport

__all__ = ["CHANNEL", "PLUGIN", "TelegramChannel", "TelegramTransport", "fast_event", "render",
           "render_json", "update_to_event", "webhook_event"]


def _build(w: Wiring) -> TelegramChannel:
    return TelegramChannel(w.settings, w.receive, db=w.db, clock=w.clock)


PLUGIN = ChannelPlugin(
    key=CHANNEL, label="Telegram", enabled=lambda s: s.telegram_enabled, build=_build,
    off_notice="TELEGRAM_BOT_TOKEN is not set, so Telegram is off")
