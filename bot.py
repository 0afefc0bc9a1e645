#!/usr/bin/env python3
"""Jaring: the composition root. Settings, wiring (`Runtime`), `main()`; the commands are in
cli/ (`python bot.py --help`), the channels in handlers/ (one plugin each, handlers/__init__.py).
"""

from __future__ import annotations

import sys
from dataclasses import replace

import cli
from config import Settings, load_settings


class Runtime:
    """Everything `run`, `chat` and the tests start: database, core, outbox, web, channels.
    `channels=False` builds none of the channels the settings enable (`chat` adds the terminal)."""

    def __init__(self, settings: Settings, *, clock=None, channels: bool = True):
        from conversations.registry import JOBS, build_engine
        from core.deps import Deps
        from core.inbox import Service
        from core.outbox import Outbox
        from core.reference import load_reference
        from core.scheduler import Scheduler
        from db.database import Database
        from domain.clock import utcnow
        from handlers import PLUGINS
        from handlers.plugin import Wiring
        from web.app import build_app

        self.settings = settings
        self.programs, self.region = load_reference(
            settings.jaring_programs, settings.jaring_region
        )
        self.db = Database(settings.database_url)
        self.deps = Deps(
            self.programs,
            self.region,
            settings.jaring_default_locale,
            settings.jaring_hash_key.get_secret_value().encode(),
        )
        self.clock = clock = clock or utcnow
        self.outbox = Outbox(self.db, clock=clock)
        self.service = Service(self.db, build_engine(), self.deps, self.outbox, clock=clock)
        self.scheduler = Scheduler(self.db, self.deps, self.outbox, clock=clock, jobs=JOBS)
        self.labels = {p.key: p.label for p in PLUGINS}
        self.web = build_app(
            settings=settings,
            db=self.db,
            deps=self.deps,
            clock=clock,
            service=self.service,
            outbox=self.outbox,
            channel_labels=self.labels,
        )
        self._plugins = PLUGINS
        self._wiring = Wiring(
            settings, self.service.receive, self._idle, self.db, self.outbox, clock
        )
        self.channels: dict = {}
        self.off_notices = [
            p.off_notice for p in PLUGINS if p.off_notice and not (channels and p.enabled(settings))
        ]
        for p in PLUGINS:
            if channels and not p.terminal and p.enabled(settings):
                self._add(p, self._wiring)
        self._runner = None

    def _add(self, plugin, wiring):
        from web.auth import mark_public

        channel = self.channels[plugin.key] = plugin.build(wiring)
        self.outbox.register(channel.transport)
        for r in channel.routes():  # webhooks: open to the world, they check their signatures
            self.web.router.add_route(r.method, r.path, r.handler)
            mark_public(self.web, r.path)
        return channel

    def add_terminal(self, user: str):
        """The terminal channel, chatting as `user`; before start()."""
        plugin = next(p for p in self._plugins if p.terminal)
        return self._add(plugin, replace(self._wiring, terminal_user=user))

    async def _idle(self) -> None:
        await self.service.idle()
        await self.outbox.idle()

    async def start(self, *, web: bool = True) -> None:
        from aiohttp import web as aioweb

        await self.db.ping()
        if web:
            self._runner = aioweb.AppRunner(self.web, access_log=None)
            await self._runner.setup()
            site = aioweb.TCPSite(self._runner, self.settings.web_host, self.settings.web_port)
            await site.start()
        await self.outbox.start()
        await self.service.recover()
        await self.scheduler.start()
        for channel in self.channels.values():
            await channel.start()

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
        for channel in self.channels.values():
            await channel.stop_receiving()
        await self.service.idle()
        await self.scheduler.stop()
        await self.outbox.stop()
        for channel in self.channels.values():
            await channel.stop()  # e.g. closes the HTTP session the outbox sent through
        await self.db.dispose()


def main(argv: list[str] | None = None) -> int:
    args = cli.parse(argv, make_runtime=Runtime)
    try:
        settings = load_settings()
    except Exception as e:  # noqa: BLE001 - pydantic's errors name each mistake
        print(f"Configuration error:\n{e}", file=sys.stderr)
        return 2
    return cli.dispatch(args, settings)


if __name__ == "__main__":
    sys.exit(main())
