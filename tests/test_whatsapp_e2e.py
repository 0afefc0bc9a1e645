"""End to end on WhatsApp: `python bot.py run` as a real process with WHATSAPP_* set, signed
webhook deliveries posted to /wa/webhook, and what it sends read back at a fake Graph API on
127.0.0.1 (WHATSAPP_API_URL). Runs on SQLite and (with JARING_TEST_PG_URL) PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import time

import aiohttp
import pytest

from tests.chatkit import KK_1, NIK_1
from tests.fakes.whatsapp_api import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    TOKEN,
    VERIFY_TOKEN,
    FakeWhatsAppAPI,
    body_text,
    button_reply,
    choices,
    delivery,
    encode,
    list_reply,
    sign,
    text_message,
)
from tests.test_telegram_e2e import Service, free_port, import_csv

pytestmark = pytest.mark.timeout(180)

BUTTONS_USER, NUMBERS_USER, LATE_USER = "6281311110001", "6281311110002", "6281311110003"


def wa_env(db_url: str, api_url: str, tmp_path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "WHATSAPP_", "JARING_", "DATABASE_URL"))
    }
    env.update(
        DATABASE_URL=db_url,
        WHATSAPP_TOKEN=TOKEN,
        WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        WHATSAPP_APP_SECRET=APP_SECRET,
        WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN,
        WHATSAPP_API_URL=api_url,
        WEB_HOST="127.0.0.1",
        WEB_PORT=str(free_port()),
        JARING_MEDIA_DIR=str(tmp_path / "media"),
        LOG_LEVEL="DEBUG",
        PYTHONUNBUFFERED="1",
        JARING_ALLOW_DEV_DEFAULTS="1",  # a fake server: dev key and placeholders
        **extra,
    )
    return env


class Resident:
    """One WhatsApp user talking to the running service."""

    def __init__(self, http: aiohttp.ClientSession, url: str, fake: FakeWhatsAppAPI, wa_id: str):
        self.http, self.url, self.fake, self.wa_id = http, url, fake, wa_id

    async def post(self, raw: bytes, signature: str | None = "sign") -> int:
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            headers["X-Hub-Signature-256"] = sign(raw, APP_SECRET)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with self.http.post(self.url, data=raw, headers=headers) as r:
            assert "Traceback" not in await r.text()
            return r.status

    async def step(self, message: dict, expect: int = 1) -> dict:
        """Send one message; return the last of the `expect` replies it brings."""
        before = len(self.fake.messages_to(self.wa_id))
        assert await self.post(encode(delivery(message))) == 200
        got = await self.fake.wait_for_messages(self.wa_id, before + expect, timeout=15)
        return got[-1]

    def text(self, body: str, **kw) -> dict:
        return text_message(self.wa_id, body, **kw)

    def tap(self, reply_id: str) -> dict:
        return button_reply(self.wa_id, reply_id)

    def pick(self, row_id: str) -> dict:
        return list_reply(self.wa_id, row_id)


def check_result(msg: dict) -> None:
    text = body_text(msg)
    assert "Desil 2 dari 10: kelompok sangat membutuhkan bantuan." in text and "PKH" in text
    assert "Data per 1 November 2026" in text
    assert NIK_1 not in text and KK_1 not in text
    assert choices(msg) == [
        ("Program bisa diikuti", "k:programs"),
        ("Cara cek resmi", "k:official"),
        ("Menu utama", "g:menu"),
    ]


@pytest.mark.one_db("sqlite")
async def test_eligibility_check_by_buttons_list_and_typed_numbers(db_url, tmp_path):
    assert import_csv(db_url).returncode == 0
    async with FakeWhatsAppAPI() as fake:
        env = wa_env(db_url, fake.base_url, tmp_path)
        svc = Service(env)
        await svc.start()
        url = f"http://127.0.0.1:{env['WEB_PORT']}/wa/webhook"
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(
                    url,
                    params={
                        "hub.mode": "subscribe",
                        "hub.challenge": "42",
                        "hub.verify_token": VERIFY_TOKEN,
                    },
                ) as r:
                    assert r.status == 200 and await r.text() == "42"

                # Buttons and the list.
                u = Resident(http, url, fake, BUTTONS_USER)
                msg = await u.step(u.text("halo"))
                assert "Layanan ini GRATIS" in body_text(msg)
                assert choices(msg) == [
                    ("Setuju", "c:agree"),
                    ("Tidak setuju", "c:decline"),
                    ("Bahasa/Language", "g:language"),
                ]
                assert msg["interactive"]["type"] == "button"
                msg = await u.step(u.tap("c:agree"))
                assert choices(msg) == [
                    ("Bahasa Indonesia", "l:id"),
                    ("Basa Sunda", "l:su"),
                    ("Basa Jawa", "l:jv"),
                    ("English", "l:en"),
                ]
                msg = await u.step(u.tap("l:id"))
                assert msg["interactive"]["type"] == "list"
                assert msg["interactive"]["action"]["button"] == "Pilih"
                assert choices(msg)[0] == ("Cek status bansos", "m:check")
                msg = await u.step(u.pick("m:check"))
                assert "Ketik NIK" in body_text(msg) and choices(msg) == [("Batal", "g:cancel")]
                msg = await u.step(u.text("3271 0512 0378 0002"))
                assert "3271 05•• •••• 0002" in body_text(msg)
                assert choices(msg) == [("Ya, benar", "k:yes"), ("Ubah NIK", "k:edit")]
                msg = await u.step(u.tap("k:yes"))
                assert "No. KK" in body_text(msg)
                check_result(await u.step(u.text(KK_1)))
                msg = await u.step(u.tap("k:official"))  # the rest of the status answer
                assert "021-171" in body_text(msg) and "Cek Bansos" in body_text(msg)

                # Typed numbers only.
                n = Resident(http, url, fake, NUMBERS_USER)
                assert "GRATIS" in body_text(await n.step(n.text("halo")))
                assert "bahasa" in body_text(await n.step(n.text("1"))).lower()
                assert choices(await n.step(n.text("1")))[0][1] == "m:check"
                assert "Ketik NIK" in body_text(await n.step(n.text("1")))
                await n.step(n.text(NIK_1))
                assert "No. KK" in body_text(await n.step(n.text("1")))
                check_result(await n.step(n.text(KK_1)))
                assert fake.refused == []
        finally:
            assert await svc.stop() == 0
        log = svc.log.decode(errors="replace")
        for secret in (NIK_1, KK_1, "3271 0512 0378 0002", BUTTONS_USER, NUMBERS_USER, TOKEN):
            assert secret not in log, secret
        assert "Traceback" not in log


@pytest.mark.one_db("sqlite")
async def test_replay_forged_and_missing_signatures(db_url, tmp_path):
    async with FakeWhatsAppAPI() as fake:
        env = wa_env(db_url, fake.base_url, tmp_path)
        svc = Service(env)
        await svc.start()
        url = f"http://127.0.0.1:{env['WEB_PORT']}/wa/webhook"
        try:
            async with aiohttp.ClientSession() as http:
                u = Resident(http, url, fake, BUTTONS_USER)
                raw = encode(delivery(u.text("halo", wamid="wamid.REPLAY1")))
                assert await u.post(raw, signature=None) == 401
                assert await u.post(raw, signature=sign(raw, "forged-secret")) == 403
                assert await u.post(raw, signature="sha256=" + "0" * 64) == 403
                assert (
                    await u.post(b'{"entry": [', signature=sign(b'{"entry": [', APP_SECRET)) == 400
                )
                assert fake.sent == []
                for _ in range(3):  # the same delivery, replayed
                    assert await u.post(raw) == 200
                await fake.wait_for_messages(BUTTONS_USER, 1, timeout=10)
                await asyncio.sleep(1.0)
                assert len(fake.messages_to(BUTTONS_USER)) == 1  # one notice, not three
        finally:
            assert await svc.stop() == 0


@pytest.mark.one_db("postgresql")
async def test_after_the_24_hour_window_a_template_then_the_held_replies(db_url, tmp_path):
    async with FakeWhatsAppAPI() as fake:
        env = wa_env(
            db_url,
            fake.base_url,
            tmp_path,
            WHATSAPP_TEMPLATE_NAME="balasan_menunggu",
            WHATSAPP_TEMPLATE_LANGUAGE="id",
        )
        svc = Service(env)
        await svc.start()
        url = f"http://127.0.0.1:{env['WEB_PORT']}/wa/webhook"
        try:
            async with aiohttp.ClientSession() as http:
                u = Resident(http, url, fake, LATE_USER)
                # A message written 25 hours ago reaches the service only now.
                msg = await u.step(u.text("halo", ts=int(time.time()) - 25 * 3600))
                assert msg["type"] == "template"
                assert msg["template"] == {"name": "balasan_menunggu", "language": {"code": "id"}}
                # The resident writes again: the held notice first, then the answer to this one.
                await u.step(u.text("halo lagi"), expect=2)
                got = fake.messages_to(LATE_USER)
                assert [m["type"] for m in got] == ["template", "interactive", "interactive"]
                assert "GRATIS" in body_text(got[1])

                # Meta refusing free text with 131047 (its clock, not ours): the same path.
                await u.step(u.tap("c:agree"))
                fake.fail_next(131047)
                msg = await u.step(u.tap("l:id"))
                assert msg["type"] == "template"
                msg = await u.step(u.text("menu"), expect=2)
                assert "Menu utama" in body_text(msg)
                assert fake.refused and fake.refused[0]["code"] == 131047
        finally:
            assert await svc.stop() == 0
