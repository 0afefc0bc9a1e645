"""End to end on both channel adapters: staff add a session with `bot.py training add` (a real
process), then a resident registers by buttons through `bot.py run` (real aiogram against a fake
Bot API; signed WhatsApp webhooks against a fake Graph API), and staff see the registration with
`bot.py training participants`. Runs on SQLite and (with JARING_TEST_PG_URL) PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta

import aiohttp
import pytest

from tests.chatkit import KK_1, NIK_1
from tests.fakes.telegram_api import FakeTelegramAPI, callback_update, text_update
from tests.fakes.whatsapp_api import FakeWhatsAppAPI, body_text, choices
from tests.test_telegram_e2e import ROOT, Service, buttons, import_csv, service_env
from tests.test_whatsapp_e2e import Resident, wa_env

pytestmark = pytest.mark.timeout(180)

# Relative to today: the service runs on the real clock.
_START = date.today() + timedelta(days=30)
ADD = [
    "training",
    "add",
    "--title",
    "Menjahit dasar",
    "--sector",
    "menjahit",
    "--organiser",
    "LPK Maju",
    "--kecamatan",
    "Bogor Utara",
    "--place",
    "Aula Kelurahan Tegal Gundil",
    "--start",
    f"{_START.isoformat()} 08:00",
    "--days",
    "3",
    "--quota",
    "10",
    "--deadline",
    (_START - timedelta(days=5)).isoformat(),
    "--desil-max",
    "5",
    "--age",
    "18-60",
]


def staff(db_url: str, *argv: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "WHATSAPP_", "DATABASE_URL"))
    }
    env["DATABASE_URL"] = db_url
    return subprocess.run(
        [sys.executable, "bot.py", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def prepare(db_url: str) -> None:
    assert import_csv(db_url).returncode == 0
    res = staff(db_url, *ADD)
    assert res.returncode == 0 and "Sesi 1 ditambahkan" in res.stdout, res.stderr


def registered(db_url: str) -> str:
    res = staff(db_url, "training", "participants", "1")
    assert res.returncode == 0, res.stderr
    assert "Asep Suryana" in res.stdout and "DITERIMA" in res.stdout
    assert NIK_1 not in res.stdout
    return res.stdout


@pytest.mark.one_db("postgresql")
async def test_training_registration_by_buttons_on_telegram(db_url):
    prepare(db_url)
    user = 5550042
    async with FakeTelegramAPI() as fake:
        svc = Service(service_env(db_url, fake.base_url))
        await svc.start()
        n = 0

        async def step(update):
            nonlocal n
            n += 1
            fake.push_update(update)
            return (await fake.wait_for_messages(user, n, timeout=15))[-1]

        try:
            await step(text_update(1, user, "/start"))
            await step(callback_update(2, user, "c:agree"))
            msg = await step(callback_update(3, user, "l:id"))
            assert ("Pelatihan kerja", "m:training") in buttons(msg)
            msg = await step(callback_update(4, user, "m:training"))
            assert "mencocokkan data" in msg["text"]
            await step(text_update(5, user, NIK_1))
            await step(callback_update(6, user, "k:yes"))
            msg = await step(text_update(7, user, KK_1))
            assert "Menjahit dasar" in msg["text"]
            assert buttons(msg)[0] == ("Menjahit dasar", "t:1")
            msg = await step(callback_update(8, user, "t:1"))
            assert "LPK Maju" in msg["text"] and ("Daftar", "t:reg") in buttons(msg)
            msg = await step(callback_update(9, user, "t:reg"))
            assert "Kode pendaftaran Anda: P" in msg["text"]
            assert buttons(msg)[0] == ("Pendaftaran saya", "t:mine")
        finally:
            assert await svc.stop() == 0
        log = svc.log.decode(errors="replace")
        assert NIK_1 not in log and KK_1 not in log and "Traceback" not in log
    code = msg["text"].split("Kode pendaftaran Anda: ")[1].split()[0]
    assert code in registered(db_url)


@pytest.mark.one_db("sqlite")
async def test_training_registration_by_buttons_on_whatsapp(db_url, tmp_path):
    prepare(db_url)
    async with FakeWhatsAppAPI() as fake:
        env = wa_env(db_url, fake.base_url, tmp_path)
        svc = Service(env)
        await svc.start()
        url = f"http://127.0.0.1:{env['WEB_PORT']}/wa/webhook"
        try:
            async with aiohttp.ClientSession() as http:
                u = Resident(http, url, fake, "6281311110042")
                await u.step(u.text("halo"))
                await u.step(u.tap("c:agree"))
                msg = await u.step(u.tap("l:id"))
                assert ("Pelatihan kerja", "m:training") in choices(msg)
                msg = await u.step(u.pick("m:training"))
                assert "mencocokkan data" in body_text(msg)
                await u.step(u.text(NIK_1))
                await u.step(u.tap("k:yes"))
                msg = await u.step(u.text(KK_1))
                assert msg["interactive"]["type"] == "list"  # 1 session + 3 more choices
                assert choices(msg)[0] == ("Menjahit dasar", "t:1")
                msg = await u.step(u.pick("t:1"))
                assert msg["interactive"]["type"] == "button"
                assert choices(msg) == [
                    ("Daftar", "t:reg"),
                    ("Pelatihan lain", "t:list"),
                    ("Menu utama", "g:menu"),
                ]
                msg = await u.step(u.tap("t:reg"))
                text = body_text(msg)
                assert "Kode pendaftaran Anda: P" in text
                assert fake.refused == []
        finally:
            assert await svc.stop() == 0
        log = svc.log.decode(errors="replace")
        assert NIK_1 not in log and KK_1 not in log and "Traceback" not in log
    code = text.split("Kode pendaftaran Anda: ")[1].split()[0]
    assert code in registered(db_url)
