"""The channels: one folder each (see handlers/plugin.py for what a folder gives). Adding a
channel: its folder, its settings in config.py, and one line in `PLUGINS` below."""

from __future__ import annotations

from handlers import console, simulator, telegram, whatsapp
from handlers.plugin import ChannelPlugin

PLUGINS: tuple[ChannelPlugin, ...] = (
    telegram.PLUGIN,
    whatsapp.PLUGIN,
    simulator.PLUGIN,
    console.PLUGIN,
)
