"""What a channel folder gives the composition root: one `ChannelPlugin`.

A channel is a folder under handlers/ whose `__init__.py` exposes `PLUGIN`; handlers/__init__.py
lists the plugins (one line per channel) and bot.py builds the enabled ones. bot.py hands the
factory a `Wiring` (the core's entry points), registers the channel's transport with the outbox,
adds the channel's `routes()` to the web app as public paths (webhooks check their own
signatures), and calls `start()`, `stop_receiving()` and `stop()`. No channel imports web/.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web

from config import Settings
from core.health import Health
from core.outbox import Transport

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    """A public HTTP route of a channel (a webhook): no staff login, the handler authenticates."""

    method: str
    path: str
    handler: Handler


@dataclass(frozen=True, slots=True)
class Wiring:
    """What bot.py hands a channel factory."""

    settings: Settings
    receive: Callable[..., Awaitable[bool]]  # core.inbox.Service.receive
    idle: Callable[[], Awaitable[None]]  # until the inbox and the outbox have nothing in hand
    db: Any  # db.database.Database
    outbox: Any  # core.outbox.Outbox
    clock: Callable[[], datetime]
    terminal_user: str = "local"  # the resident a terminal channel talks as
    # core.inbox.Service.receive_many: several events in one inbox transaction (polling)
    receive_many: Callable[..., Awaitable[list[bool]]] | None = None


class Channel(Protocol):
    transport: Transport

    def routes(self) -> list[Route]: ...

    def describe(self, web_url: str) -> str | None: ...  # for the start-up log, if anything

    async def start(self) -> None: ...

    async def stop_receiving(self) -> None: ...  # intake ends; sending still works

    async def stop(self) -> None: ...  # after the outbox has stopped

    # Whether it receives: a poller alive, a webhook registered (/readyz; the sender's state is
    # the outbox's, core/metrics.Senders). Cheap and without I/O: /readyz calls it often.
    def health(self) -> Health: ...


@dataclass(frozen=True, slots=True)
class ChannelPlugin:
    key: str  # the channel of its events and outbound rows: "tg", "wa", ...
    label: str  # how the dashboard names it
    enabled: Callable[[Settings], bool]
    build: Callable[[Wiring], Channel]
    # Printed by `run` when the channel is off (with --console-fallback the terminal chat starts).
    off_notice: str | None = None
    # A channel on this process's terminal: never enabled by settings, built on request (chat).
    terminal: bool = False


def add_routes(app: web.Application, routes: list[Route]) -> None:
    """Add routes to an aiohttp app (bot.py also marks their paths public)."""
    for r in routes:
        app.router.add_route(r.method, r.path, r.handler)


class LocalChannel:
    """A channel with only a transport (nothing to receive from, nothing to start)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def routes(self) -> list[Route]:
        return []

    def describe(self, web_url: str) -> str | None:
        return None

    async def start(self) -> None:
        pass

    async def stop_receiving(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def health(self) -> Health:
        return Health(True, "nothing to receive from")
