"""TEMPORARY (re-cut merge): the WhatsApp plugin, wrapped around handlers/whatsapp.py's
`WhatsAppChannel` until the handlers/whatsapp/ package exposes its own `PLUGIN` (then
handlers/__init__.py imports that, and this file goes)."""
from __future__ import annotations

from typing import Any

from handlers.plugin import ChannelPlugin, Route, Wiring


class _WhatsApp:
    """WhatsAppChannel with `routes()` and `describe()` (everything else passes through)."""

    def __init__(self, w: Wiring) -> None:
        from handlers.whatsapp import WhatsAppChannel

        self._ch = WhatsAppChannel(w.settings, w.receive, db=w.db, outbox=w.outbox,
                                   clock=w.clock)
        self.transport = self._ch.transport

    def routes(self) -> list[Route]:
        from handlers.whatsapp import WEBHOOK_PATH

        return [Route("GET", WEBHOOK_PATH, self._ch.handle_verify),
                Route("POST", WEBHOOK_PATH, self._ch.handle_webhook)]

    def describe(self, web_url: str) -> str:
        return f"webhook at {web_url}/wa/webhook"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ch, name)


PLUGIN = ChannelPlugin(key="wa", label="WhatsApp", enabled=lambda s: s.whatsapp_enabled,
                       build=_WhatsApp)
