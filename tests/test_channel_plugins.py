"""A channel is one folder with a `PLUGIN` plus one line in handlers/__init__.py: bot.py's
Runtime builds it, registers its transport with the outbox, its webhook as a public route, its
label for the dashboard, and starts and stops it. Here a fake channel goes through all of that."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import handlers
from core.health import Health
from core.model import Event
from handlers.plugin import ChannelPlugin, Route, Wiring
from tests.chatkit import running
from web.auth import PUBLIC
from web.keys import CHANNEL_LABELS


class FakeTransport:
    channel = "fk"
    rate_global = 1e9
    rate_per_chat = 1e9

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    async def send(self, address: str, payload: dict) -> str:
        self.sent.append((address, payload))
        return str(len(self.sent))


class FakeChannel:
    def __init__(self, w: Wiring):
        self.w, self.transport, self.calls = w, FakeTransport(), []

    def routes(self) -> list[Route]:
        return [Route("POST", "/fk/webhook", self.webhook)]

    def describe(self, web_url: str) -> str:
        return f"webhook at {web_url}/fk/webhook"

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        await self.w.receive(
            Event(
                "fk",
                f"fk:{body['from']}",
                str(body["id"]),
                "command",
                {"command": "start", "args": ""},
                str(body["from"]),
                "id",
            )
        )
        return web.Response(status=200)

    async def start(self):
        self.calls.append("start")

    async def stop_receiving(self):
        self.calls.append("stop_receiving")

    async def stop(self):
        self.calls.append("stop")

    def health(self) -> Health:
        return Health("start" in self.calls, "fake")


FAKE = ChannelPlugin(key="fk", label="Kanal Palsu", enabled=lambda s: True, build=FakeChannel)


async def test_a_new_channel_is_one_plugin(db_url, monkeypatch):
    monkeypatch.setattr(handlers, "PLUGINS", (*handlers.PLUGINS, FAKE))
    async with running(db_url, csv=None) as rt:
        channel = rt.channels["fk"]
        assert rt.outbox.transports["fk"] is channel.transport
        assert "/fk/webhook" in rt.web[PUBLIC]  # no staff login: the channel authenticates
        assert rt.web[CHANNEL_LABELS]["fk"] == "Kanal Palsu"
        assert rt.web[CHANNEL_LABELS]["tg"] == "Telegram"
        assert channel.calls == ["start"]
        client = TestClient(TestServer(rt.web))
        await client.start_server()
        try:
            assert (await client.post("/fk/webhook", json={"id": 1, "from": 42})).status == 200
        finally:
            await client.close()
        await rt.service.idle()
        await rt.outbox.idle()
        assert channel.transport.sent and channel.transport.sent[0][0] == "42"
        assert "GRATIS" in channel.transport.sent[0][1]["text"]
    assert channel.calls == ["start", "stop_receiving", "stop"]
