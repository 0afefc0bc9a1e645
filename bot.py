#!/usr/bin/env python3
"""Jaring: the composition root. Settings, wiring (`Runtime`), `main()`; the commands are in
cli/ (`python bot.py --help`), the channels in handlers/ (one plugin each, handlers/__init__.py).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING

import cli
from config import Settings, load_settings
from core.runtime import Core

if TYPE_CHECKING:
    from handlers.plugin import Channel, ChannelPlugin, Wiring


class Runtime(Core):
    """Everything `run`, `chat` and the tests start: the core, the web app, the channels.
    `channels=False` builds none of the channels the settings enable (`chat` adds the terminal)."""

    def __init__(self, settings: Settings, *, clock=None, channels: bool = True):
        # Channels and the web app load here, not at import: other commands start faster.
        from conversations.registry import JOBS, build_engine
        from handlers import PLUGINS
        from handlers.plugin import Wiring
        from web import observe
        from web.app import build_app

        super().__init__(
            database_url=settings.database_url,
            programs_path=settings.jaring_programs,
            region_path=settings.jaring_region,
            intents_path=settings.jaring_intents,
            engine=build_engine(),
            jobs=JOBS,
            default_locale=settings.jaring_default_locale,
            hash_key=settings.jaring_hash_key.get_secret_value().encode(),
            clock=clock,
            public_url=settings.jaring_public_url or "",
            send_horizon_hours=settings.jaring_send_horizon_hours,
            workers=settings.jaring_workers,
            redis_url=settings.jaring_redis_url,
            lease_seconds=settings.jaring_outbox_lease_seconds,
            scheduler_interval=settings.jaring_scheduler_interval,
        )
        self.settings = settings
        self._plugins = PLUGINS
        self.labels = {p.key: p.label for p in PLUGINS}
        self.web = build_app(
            settings=settings,
            db=self.db,
            deps=self.deps,
            clock=self.clock,
            service=self.service,
            outbox=self.outbox,
            channel_labels=self.labels,
            lexicon=self.lexicon,
        )
        observe.set_scheduler(self.web, self.scheduler)  # /readyz: leader or follower, alive
        self._wiring = Wiring(
            settings,
            self.service.receive,
            self.idle,
            self.db,
            self.outbox,
            self.clock,
            receive_many=self.service.receive_many,
        )
        on = [p for p in PLUGINS if channels and not p.terminal and p.enabled(settings)]
        self.off_notices = [p.off_notice for p in PLUGINS if p.off_notice and p not in on]
        self.channels: dict[str, Channel] = {}
        for p in on:
            self._add(p, self._wiring)
        self._site = None

    def _add(self, plugin: ChannelPlugin, wiring: Wiring) -> Channel:
        from web import observe
        from web.app import add_public_route

        channel = self.channels[plugin.key] = plugin.build(wiring)
        self.outbox.register(channel.transport)
        observe.add_channel(self.web, plugin.key, channel.health)  # /readyz
        for r in channel.routes():  # webhooks: open to the world, they check their signatures
            add_public_route(self.web, r.method, r.path, r.handler)
        return channel

    def add_terminal(self, user: str) -> Channel:
        """The terminal channel, chatting as `user`; before start()."""
        plugin = next(p for p in self._plugins if p.terminal)
        return self._add(plugin, replace(self._wiring, terminal_user=user))

    async def start(self, *, web: bool = True) -> None:
        if web:
            from web.app import serve

            self._site = await serve(
                self.web,
                self.settings.web_host,
                self.settings.web_port,
                reuse_port=self.settings.jaring_workers > 1,
            )
        await self.start_core()
        for channel in self.channels.values():
            await channel.start()

    async def stop(self) -> None:
        if self._site:
            await self._site.cleanup()
        for channel in self.channels.values():
            await channel.stop_receiving()
        await self.stop_core()
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
