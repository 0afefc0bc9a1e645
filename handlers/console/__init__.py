"""The terminal channel ("console"): `python bot.py chat`, and `run --console-fallback`."""

from __future__ import annotations

from handlers.console.terminal import ConsoleChannel, ConsoleTransport, line_to_event, run_console
from handlers.plugin import ChannelPlugin

__all__ = ["PLUGIN", "ConsoleChannel", "ConsoleTransport", "line_to_event", "run_console"]

PLUGIN = ChannelPlugin(
    key="console", label="Terminal", enabled=lambda s: False, build=ConsoleChannel, terminal=True
)
