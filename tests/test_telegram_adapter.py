"""The Telegram adapter against real Bot API JSON and a fake Bot API server on loopback."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup, Update
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from config import Settings
from core.model import Choice, Event, Reply, SendFinal, SendRetry, SendStopped
from handlers.telegram import TelegramChannel, TelegramTransport, render, update_to_event
from handlers.telegram.botapi import BotApi
from tests.fakes.telegram_api import (
    BOT_TOKEN,
    FakeTelegramAPI,
    callback_update,
    location_update,
    message_update,
    photo_update,
    sticker_update,
    text_update,
    voice_update,
)

SECRET = "s3cret-Token_1"
USER = 1001


def settings(**kw) -> Settings:
    return Settings(_env_file=None, telegram_bot_token=BOT_TOKEN, **kw)


def parse(raw: dict) -> Update:
    return Update.model_validate(raw)


@pytest.fixture
async def fake():
    async with FakeTelegramAPI(BOT_TOKEN) as server:
        yield server


@pytest.fixture
async def bot(fake):
    b = BotApi(BOT_TOKEN, fake.base_url)
    yield b
    await b.close()


# --------------------------------------------------------------------- update_to_event


@pytest.mark.parametrize(
    ("raw", "kind", "payload"),
    [
        (text_update(7, USER, "halo, mau cek bansos"), "text", {"text": "halo, mau cek bansos"}),
        (text_update(7, USER, "/start"), "command", {"command": "start", "args": ""}),
        (
            text_update(7, USER, "/START@jaring_test_bot  kube-12 "),
            "command",
            {"command": "start", "args": "kube-12"},
        ),
        (
            text_update(7, USER, "/cek 3201012345678901"),
            "command",
            {"command": "cek", "args": "3201012345678901"},
        ),
        (text_update(7, USER, "/ bukan perintah"), "text", {"text": "/ bukan perintah"}),
        (callback_update(7, USER, "g:menu"), "choice", {"id": "g:menu"}),
        (location_update(7, USER, -6.5971, 106.806), "location", {"lat": -6.5971, "lon": 106.806}),
        (photo_update(7, USER, file_id="BIGPHOTO"), "photo", {"ref": "BIGPHOTO"}),
        (sticker_update(7, USER), "other", {"type": "sticker"}),
        (voice_update(7, USER), "other", {"type": "voice"}),
    ],
)
def test_update_to_event(raw, kind, payload):
    event = update_to_event(parse(raw))
    assert event == Event(
        channel="tg",
        user_key=f"tg:{USER}",
        external_id="7",
        kind=kind,
        payload=payload,
        address=str(USER),
        locale_hint="id",
    )


def test_locale_hint_is_two_letters_or_none():
    assert (
        update_to_event(parse(text_update(1, USER, "hi", language_code="en-US"))).locale_hint
        == "en"
    )
    assert (
        update_to_event(parse(text_update(1, USER, "hi", language_code=None))).locale_hint is None
    )


def test_callback_without_message_falls_back_to_user_id():
    raw = callback_update(3, USER, "c:1", chat_id=5555)
    assert update_to_event(parse(raw)).address == "5555"
    del raw["callback_query"]["message"]
    assert update_to_event(parse(raw)).address == str(USER)


@pytest.mark.parametrize(
    "raw",
    [
        message_update(1, USER, {"text": "diedit"}, update_type="edited_message"),
        {
            "update_id": 1,
            "channel_post": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": -100, "type": "channel"},
                "text": "x",
            },
        },
        text_update(1, USER, "halo grup", chat_id=-100123),  # group chat: replies would be public
        callback_update(1, USER, "c:1", chat_id=-100123),
        {
            "update_id": 1,
            "my_chat_member": {
                "chat": {"id": USER, "type": "private", "first_name": "W"},
                "from": {"id": USER, "is_bot": False, "first_name": "W"},
                "date": 0,
                "old_chat_member": {
                    "status": "member",
                    "user": {"id": 42, "is_bot": True, "first_name": "J"},
                },
                "new_chat_member": {
                    "status": "kicked",
                    "until_date": 0,
                    "user": {"id": 42, "is_bot": True, "first_name": "J"},
                },
            },
        },
    ],
)
def test_unhandled_updates_give_none(raw):
    assert update_to_event(parse(raw)) is None


# --------------------------------------------------------------------- rendering


def payload(text="Pilih:", choices=(), request=None, **extra):
    return {**Reply(text, [Choice(i, lbl) for i, lbl in choices], request).to_payload(), **extra}


def test_render_short_choices_share_a_row_long_ones_do_not():
    _, one_row = render(payload(choices=[("y", "Ya"), ("n", "Tidak"), ("m", "Menu")]))
    assert isinstance(one_row, InlineKeyboardMarkup) and len(one_row.inline_keyboard) == 1
    _, long_label = render(payload(choices=[("a", "Ya"), ("b", "Hubungi petugas")]))
    assert [len(r) for r in long_label.inline_keyboard] == [1, 1]
    _, single = render(payload(choices=[("a", "Ya")]))
    assert [len(r) for r in single.inline_keyboard] == [1]
    assert render(payload(text="Kirim foto KTP", request="photo")) == ("Kirim foto KTP", None)


def test_render_json_matches_render():
    from handlers.telegram import render_json

    for p in (
        payload(choices=[("y", "Ya"), ("n", "Tidak")]),
        payload(choices=[("a", "Hubungi petugas")]),
        payload(choices=[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]),
        payload(request="location", choices=[("k", "Ketik")]),
        payload(),
    ):
        text, markup = render(p)
        assert render_json(p) == (text, markup.model_dump(exclude_none=True) if markup else None)


def test_render_location_request_lists_choices_in_text():
    choices = [("k", "Ketik kelurahan"), ("g:menu", "Menu")]
    text, markup = render(
        payload(
            text="Di mana Anda?",
            choices=choices,
            request="location",
            request_label="Kirim lokasi saya",
        )
    )
    assert text == "Di mana Anda?\n\n1. Ketik kelurahan\n2. Menu"
    assert isinstance(markup, ReplyKeyboardMarkup)
    assert markup.one_time_keyboard and markup.resize_keyboard
    [[button]] = markup.keyboard
    assert button.text == "Kirim lokasi saya" and button.request_location
    _, default = render(payload(request="location"))
    assert default.keyboard[0][0].text == "Kirim lokasi"


# --------------------------------------------------------------------- transport


def transport(bot) -> TelegramTransport:
    return TelegramTransport(bot, settings(telegram_rate_global=100, telegram_rate_per_chat=5))


async def test_transport_two_short_choices_render_one_row(fake, bot):
    t = transport(bot)
    assert (t.channel, t.rate_global, t.rate_per_chat) == ("tg", 100, 5)
    text = "Lanjut? <b>x</b> https://x.id"
    message_id = await t.send(str(USER), payload(text, [("y", "Ya"), ("n", "Tidak")]))
    [sent] = fake.sent
    assert message_id == str(sent["message_id"])
    assert sent["chat_id"] == USER and sent["text"] == text
    assert sent["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Ya", "callback_data": "y"}, {"text": "Tidak", "callback_data": "n"}]
        ]
    }
    assert sent["params"]["link_preview_options"] == {"is_disabled": True}
    assert "parse_mode" not in sent["params"]
    # The transport posts JSON (see TelegramTransport.send for why not Bot.send_message).
    assert fake.calls_of("sendMessage")[0]["content_type"] == "application/json"


async def test_transport_four_choices_one_per_row(fake, bot):
    choices = [("a", "Satu"), ("b", "Dua"), ("c", "Tiga"), ("d", "Empat")]
    await transport(bot).send(str(USER), payload(choices=choices))
    rows = fake.sent[0]["reply_markup"]["inline_keyboard"]
    assert [[b["callback_data"] for b in row] for row in rows] == [["a"], ["b"], ["c"], ["d"]]


async def test_transport_location_request(fake, bot):
    await transport(bot).send(str(USER), payload("Bagikan lokasi", request="location"))
    markup = fake.sent[0]["reply_markup"]
    assert markup["keyboard"] == [[{"text": "Kirim lokasi", "request_location": True}]]
    assert markup["one_time_keyboard"] is True and markup["resize_keyboard"] is True


async def test_transport_429_is_retry_with_retry_after(fake, bot):
    fake.fail_next("sendMessage", status=429, retry_after=2)
    with pytest.raises(SendRetry) as err:
        await transport(bot).send(str(USER), payload())
    assert err.value.retry_after == 2
    assert await transport(bot).send(str(USER), payload())  # the next one goes through


async def test_transport_500_is_retry(fake, bot):
    fake.fail_next("sendMessage", status=500)
    with pytest.raises(SendRetry) as err:
        await transport(bot).send(str(USER), payload())
    assert err.value.retry_after is None


async def test_transport_blocked_is_stopped(fake, bot):
    fake.block_chat(USER)
    with pytest.raises(SendStopped, match="blocked"):
        await transport(bot).send(str(USER), payload())


async def test_transport_400_is_final_but_chat_not_found_is_stopped(fake, bot):
    fake.fail_next("sendMessage", status=400)
    with pytest.raises(SendFinal):
        await transport(bot).send(str(USER), payload())
    with pytest.raises(SendFinal, match="too long"):
        await transport(bot).send(str(USER), payload("x" * 4097))
    fake.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    with pytest.raises(SendStopped):
        await transport(bot).send(str(USER), payload())


async def test_transport_unreachable_server_is_retry():
    server = FakeTelegramAPI()
    await server.start()
    url = server.base_url
    await server.close()  # nothing listens on that port now
    b = BotApi(BOT_TOKEN, url)
    try:
        with pytest.raises(SendRetry):
            await transport(b).send(str(USER), payload())
    finally:
        await b.close()


# --------------------------------------------------------------------- polling


class Recorder:
    """A fake core `receive`: records events and what Telegram had acknowledged at that moment."""

    def __init__(self, fake: FakeTelegramAPI, delay: float = 0.02, fail_first: int = 0):
        self.fake, self.delay, self.fail_first = fake, delay, fail_first
        self.events: list[Event] = []
        self.seen: list[
            tuple[str, int, float]
        ] = []  # (external_id, confirmed offset, time returned)
        self.calls = 0

    async def __call__(self, event: Event) -> bool:
        self.calls += 1
        if self.calls <= self.fail_first:
            raise RuntimeError("database is down")
        confirmed = self.fake.confirmed_offset
        await asyncio.sleep(
            self.delay
        )  # a commit takes time; nothing may be acknowledged meanwhile
        assert self.fake.confirmed_offset == confirmed
        self.events.append(event)
        self.seen.append((event.external_id, confirmed, time.monotonic()))
        return True

    async def wait(self, n: int, timeout: float = 5.0) -> None:
        await self.fake.wait_for(lambda: len(self.events) >= n, timeout)


@pytest.fixture
async def polling(fake):
    channels = []

    async def make(receive) -> TelegramChannel:
        ch = TelegramChannel(settings(telegram_api_url=fake.base_url), receive, polling_timeout=1)
        channels.append(ch)
        await ch.start()
        return ch

    yield make
    for ch in channels:
        await ch.stop()


async def _wait_for_events(rec: Recorder, n: int) -> None:
    # Recorder appends outside a fake API call; poll the condition cheaply.
    deadline = time.monotonic() + 5
    while len(rec.events) < n:
        assert time.monotonic() < deadline, f"got {len(rec.events)} of {n} events"
        await asyncio.sleep(0.01)


async def test_polling_receives_in_order_and_acknowledges_after_receive(fake, polling):
    fake.push_update(text_update(11, USER, "satu"))
    fake.push_update(callback_update(12, USER, "g:menu"))
    fake.push_update(location_update(13, 2002))
    rec = Recorder(fake)
    await polling(rec)
    await _wait_for_events(rec, 3)
    got = [(e.external_id, e.kind) for e in rec.events]
    assert got == [("11", "text"), ("12", "choice"), ("13", "location")]
    # When each update reached receive(), it had not been acknowledged yet ...
    assert all(confirmed <= int(uid) for uid, confirmed, _ in rec.seen)
    # ... and the acknowledgement (offset = 14) came in a getUpdates after the last receive() returned.
    await fake.wait_for(lambda: fake.confirmed_offset == 14)
    ack = next(c for c in fake.calls_of("getUpdates") if (c["params"].get("offset") or 0) >= 14)
    assert ack["time"] > rec.seen[-1][2]
    # The callback was answered (the button's spinner stops); commands registered in both languages.
    await fake.wait_for(lambda: len(fake.callback_answers) == 1)
    assert fake.callback_answers[0]["callback_query_id"].startswith(str(USER))
    assert {k[1] for k in fake.commands} == {"", "en"}
    assert [c["command"] for c in fake.commands[("default", "en")]][:2] == ["start", "menu"]
    assert fake.calls_of("deleteWebhook") and not fake.calls_of("setWebhook")
    assert fake.calls_of("getUpdates")[0]["params"]["allowed_updates"] == [
        "message",
        "callback_query",
    ]


async def test_polling_duplicate_delivery_reaches_receive_twice(fake, polling):
    dup = text_update(21, USER, "sama")
    fake.push_update(dup)
    fake.push_update(dict(dup))  # Telegram redelivers, e.g. after a crash before acknowledging
    rec = Recorder(fake, delay=0)
    await polling(rec)
    await _wait_for_events(rec, 2)
    fake.push_update(text_update(22, USER, "lanjut"))
    await _wait_for_events(rec, 3)
    assert [e.external_id for e in rec.events] == ["21", "21", "22"]


async def test_polling_retries_receive_instead_of_losing_the_update(fake, polling):
    fake.push_update(text_update(31, USER, "penting"))
    rec = Recorder(fake, delay=0, fail_first=2)
    await polling(rec)
    await _wait_for_events(rec, 1)
    assert rec.calls == 3 and rec.events[0].external_id == "31"
    assert rec.seen[0][1] <= 31  # still unacknowledged while failing


async def test_polling_stop_receiving_acknowledges_what_was_stored(fake):
    fake.push_update(text_update(41, USER, "a"))
    rec = Recorder(fake, delay=0)
    ch = TelegramChannel(settings(telegram_api_url=fake.base_url), rec, polling_timeout=1)
    await ch.start()
    await _wait_for_events(rec, 1)
    await ch.stop_receiving()
    assert fake.confirmed_offset == 42 and not fake.pending_updates
    # Intake is over, sending is not: the outbox drains before stop() closes the session.
    fake.push_update(text_update(42, USER, "b"))
    assert await ch.transport.send(str(USER), payload("masih terkirim"))
    await asyncio.sleep(0.1)
    assert len(rec.events) == 1
    await ch.stop()
    assert ch.api.closed


async def test_polling_ignores_unhandled_updates(fake, polling):
    fake.push_update(text_update(51, USER, "di grup", chat_id=-100500))
    fake.push_update(sticker_update(52, USER))
    rec = Recorder(fake, delay=0)
    await polling(rec)
    await _wait_for_events(rec, 1)
    assert [(e.external_id, e.payload) for e in rec.events] == [("52", {"type": "sticker"})]


# --------------------------------------------------------------------- webhook


@pytest.fixture
async def webhook():
    """(client, recorded events, channel) for a webhook-mode channel on an aiohttp test server."""
    events: list[Event] = []

    async def receive(event: Event) -> bool:
        events.append(event)
        return True

    ch = TelegramChannel(
        settings(
            telegram_webhook_url="https://jaring.example.id/tg/webhook",
            telegram_webhook_secret=SECRET,
        ),
        receive,
    )
    app = web.Application()
    ch.register_routes(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client, events, ch
    await client.close()
    await ch.api.close()


def _post(client, body, secret: str | None = SECRET):
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/tg/webhook", data=data, headers=headers)


async def test_webhook_right_secret_stores_then_200(webhook):
    client, events, _ = webhook
    resp = await _post(client, text_update(61, USER, "halo"))
    assert resp.status == 200 and await resp.text() == ""
    assert [(e.external_id, e.payload) for e in events] == [("61", {"text": "halo"})]


@pytest.mark.parametrize("secret", ["wrong", None, "", SECRET + "x"])
async def test_webhook_bad_or_missing_secret_is_401(webhook, secret):
    client, events, _ = webhook
    resp = await _post(client, text_update(62, USER, "halo"), secret=secret)
    assert resp.status == 401
    assert events == []


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2]", b'{"message": {}}', b""])
async def test_webhook_malformed_body_is_400_without_details(webhook, body):
    client, events, _ = webhook
    resp = await _post(client, body)
    assert resp.status == 400
    text = await resp.text()
    assert "Traceback" not in text and "pydantic" not in text.lower()
    assert events == []


async def test_webhook_callback_answers_in_the_response(webhook):
    client, events, _ = webhook
    raw = callback_update(63, USER, "c:ya")
    resp = await _post(client, raw)
    assert resp.status == 200
    assert await resp.json() == {
        "method": "answerCallbackQuery",
        "callback_query_id": raw["callback_query"]["id"],
    }
    assert events[0].payload == {"id": "c:ya"}


async def test_webhook_unhandled_update_is_200_without_receive(webhook):
    client, events, _ = webhook
    resp = await _post(
        client, message_update(64, USER, {"text": "x"}, update_type="edited_message")
    )
    assert resp.status == 200 and events == []


async def test_webhook_receive_failure_is_500_so_telegram_retries():
    async def broken(event: Event) -> bool:
        raise RuntimeError("database is down")

    ch = TelegramChannel(
        settings(telegram_webhook_url="https://x.id/tg/webhook", telegram_webhook_secret=SECRET),
        broken,
    )
    app = web.Application()
    ch.register_routes(app)
    async with TestClient(TestServer(app)) as client:
        resp = await _post(client, text_update(65, USER, "halo"))
        assert resp.status == 500 and "database" not in await resp.text()
    await ch.api.close()


async def test_webhook_start_registers_webhook_with_secret(fake):
    ch = TelegramChannel(
        settings(
            telegram_api_url=fake.base_url,
            telegram_webhook_url="https://jaring.example.id/tg/webhook",
            telegram_webhook_secret=SECRET,
        ),
        lambda e: None,
    )
    app = web.Application()
    ch.register_routes(app)
    await ch.start(app)
    await ch.stop()
    assert fake.webhook == {
        "url": "https://jaring.example.id/tg/webhook",
        "secret_token": SECRET,
        "allowed_updates": ["message", "callback_query"],
    }
    assert not fake.calls_of("getUpdates") and not fake.calls_of("deleteWebhook")


async def test_webhook_mode_refuses_to_start_without_secret_or_routes(fake):
    base = dict(telegram_api_url=fake.base_url, telegram_webhook_url="https://x.id/tg/webhook")
    ch = TelegramChannel(settings(**base), lambda e: None)
    with pytest.raises(RuntimeError, match="TELEGRAM_WEBHOOK_SECRET"):
        await ch.start(web.Application())
    await ch.api.close()

    ch = TelegramChannel(settings(**base, telegram_webhook_secret=SECRET), lambda e: None)
    app = web.Application()
    app.freeze()
    with pytest.raises(RuntimeError, match="register_routes"):
        await ch.start(app)
    await ch.api.close()
    assert fake.calls == []  # refused before talking to Telegram


async def test_webhook_route_refuses_everything_without_secret():
    events = []

    async def receive(event):
        events.append(event)
        return True

    ch = TelegramChannel(settings(), receive)  # polling config, route registered anyway
    app = web.Application()
    ch.register_routes(app)
    async with TestClient(TestServer(app)) as client:
        assert (await _post(client, text_update(1, USER, "x"), secret="")).status == 401
        assert (await _post(client, text_update(1, USER, "x"), secret=None)).status == 401
    assert events == []
    await ch.api.close()


@pytest.mark.parametrize(
    "raw",
    [
        text_update(7, USER, "halo"),
        text_update(8, USER, "/start ref123", language_code="en"),
        text_update(9, USER, "/Cek@jaring_test_bot"),
        text_update(10, USER, "3271 0512 0378 0002", language_code=None),
        callback_update(11, USER, "m:check"),
        callback_update(12, USER, "l:en", language_code="en"),
    ],
)
def test_fast_path_gives_the_same_event_as_full_validation(raw):
    from handlers.telegram import fast_event

    assert fast_event(raw) is not None
    assert fast_event(raw) == update_to_event(Update.model_validate(raw))


@pytest.mark.parametrize(
    "raw",
    [
        photo_update(20, USER),
        location_update(21, USER),
        sticker_update(22, USER),
        {"update_id": "23", "message": {}},
        {"update_id": 24},
        [],
        "x",
        {
            "update_id": 25,
            "message": {
                "message_id": 1,
                "date": 1,
                "text": "hi",
                "chat": {"id": -5, "type": "group"},
                "from": {"id": 1},
            },
        },
    ],
)
def test_fast_path_leaves_everything_else_to_full_validation(raw):
    from handlers.telegram import fast_event

    assert fast_event(raw) is None


async def test_polling_stores_a_getupdates_answer_in_one_call_before_acknowledging(fake):
    """With receive_many (the service's), all updates of one getUpdates answer are stored in one
    call, parsed by the fast parser (aiogram only for the location), and the offset moves past
    them only after that call returned; callback queries are answered with a plain POST."""
    batches: list[list[str]] = []
    confirmed_during: list[int] = []

    async def receive_one(event: Event) -> bool:
        raise AssertionError("receive_many should have been used")

    async def receive_many(events: list[Event]) -> list[bool]:
        confirmed_during.append(fake.confirmed_offset)
        await asyncio.sleep(0.02)  # a commit takes time; nothing may be acknowledged meanwhile
        assert fake.confirmed_offset == confirmed_during[-1]
        batches.append([e.external_id for e in events])
        return [True] * len(events)

    fake.push_update(text_update(71, USER, "satu"))
    fake.push_update(callback_update(72, USER, "g:menu"))
    fake.push_update(location_update(73, 2002))
    fake.push_update(text_update(74, USER, "di grup", chat_id=-100500))  # not stored
    ch = TelegramChannel(
        settings(telegram_api_url=fake.base_url),
        receive_one,
        receive_many=receive_many,
        polling_timeout=1,
    )
    await ch.start()
    try:
        await fake.wait_for(lambda: fake.confirmed_offset == 75)
        assert batches == [["71", "72", "73"]]
        assert confirmed_during == [0]  # nothing of the answer acknowledged while storing
        await fake.wait_for(lambda: len(fake.callback_answers) == 1)
        assert fake.callback_answers[0]["callback_query_id"].startswith(str(USER))
        assert fake.calls_of("answerCallbackQuery")[0]["content_type"] == "application/json"
    finally:
        await ch.stop()


def test_webhook_mode_channel_does_not_import_aiogram():
    """The service's Telegram channel, built and parsing the common updates, loads no aiogram
    (issue #14: peak RSS; `import aiogram` alone was 165 MiB)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from config import Settings\n"
        "from handlers.telegram import TelegramChannel, webhook_event\n"
        "from tests.fakes.telegram_api import text_update, callback_update\n"
        "ch = TelegramChannel(Settings(_env_file=None, telegram_bot_token='42:TEST',"
        " telegram_webhook_url='https://x.id/tg/webhook', telegram_webhook_secret='s'),"
        " lambda e: None)\n"
        "assert webhook_event(text_update(1, 5, 'halo')).kind == 'text'\n"
        "assert webhook_event(callback_update(2, 5, 'g:menu', 1)).kind == 'choice'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'aiogram'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
