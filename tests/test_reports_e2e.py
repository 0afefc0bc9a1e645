"""An usul end to end on each channel: `bot.py run` as a real process with the fake Telegram Bot
API or the fake Graph API, a photo and a location, the ticket code; then an officer moves the
report with `bot.py reports move` in another process and the running service tells the resident.
Runs on SQLite and (with JARING_TEST_PG_URL) PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

import aiohttp
import pytest

from tests.chatkit import KK_1, NIK_1
from tests.fakes.telegram_api import (
    FakeTelegramAPI,
    callback_update,
    location_update,
    photo_update,
    text_update,
)
from tests.fakes.whatsapp_api import (
    FakeWhatsAppAPI,
    body_text,
    choices,
    image_message,
    location_message,
)
from tests.test_telegram_e2e import ROOT, Service, buttons, import_csv, service_env
from tests.test_whatsapp_e2e import Resident, wa_env

pytestmark = pytest.mark.timeout(180)
CODE = re.compile(r"LPR-[0-9A-Z]{4}-[0-9A-Z]{4}")


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
        timeout=60,
    )


@pytest.mark.one_db("sqlite")
async def test_usul_on_telegram_with_photo_and_location_then_staff_move(db_url, tmp_path):
    from tests.test_photos import JPEG_WITH_EXIF

    assert import_csv(db_url).returncode == 0
    user = 5550077
    async with FakeTelegramAPI() as fake:
        fake.add_file("AgACAgUAAxkBAAIBRumah", JPEG_WITH_EXIF)
        svc = Service(service_env(db_url, fake.base_url, JARING_MEDIA_DIR=str(tmp_path / "media")))
        await svc.start()
        n = 0

        async def step(update, expect=1):
            nonlocal n
            n += expect
            fake.push_update(update)
            return (await fake.wait_for_messages(user, n, timeout=15))[-1]

        try:
            await step(text_update(1, user, "/start"))
            await step(callback_update(2, user, "c:agree"))
            msg = await step(callback_update(3, user, "l:id"))
            assert ("Laporkan data", "m:report") in buttons(msg)
            msg = await step(callback_update(4, user, "m:report"))
            assert buttons(msg)[0] == ("Usulkan keluarga", "r:usul")
            await step(callback_update(5, user, "r:usul"))
            await step(callback_update(6, user, "r:own"))
            await step(text_update(7, user, NIK_1))
            await step(callback_update(8, user, "k:yes"))
            msg = await step(text_update(9, user, KK_1))
            assert "Data Anda cocok" in msg["text"]
            msg = await step(callback_update(10, user, "r:why:elder"))
            assert "kata-kata Anda sendiri" in msg["text"]
            msg = await step(text_update(11, user, "Ibu saya tinggal sendiri sejak bapak wafat"))
            assert "foto rumah" in msg["text"] and "KTP" in msg["text"]
            msg = await step(photo_update(12, user, file_id="AgACAgUAAxkBAAIBRumah"))
            assert "lokasi" in msg["text"].lower()
            msg = await step(location_update(13, user, -6.5771, 106.8013))
            assert "Foto terlampir" in msg["text"] and "Lokasi terlampir" in msg["text"]
            assert "Cerita Anda: Ibu saya tinggal sendiri" in msg["text"]
            await step(callback_update(14, user, "r:send"), expect=2)  # the code, then the phone
            msg = (await fake.wait_for_messages(user, n, timeout=15))[-2]
            code = CODE.search(msg["text"]).group(0)
            assert "Terima kasih" in msg["text"] and NIK_1 not in msg["text"]

            res = await asyncio.to_thread(
                staff, db_url, "reports", "move", code, "VERIFIKASI_DINSOS", "--by", "ani"
            )
            assert res.returncode == 0, res.stderr
            assert "dipindahkan ke VERIFIKASI_DINSOS" in res.stdout
            n += 1
            msg = (await fake.wait_for_messages(user, n, timeout=15))[-1]  # the outbox poll
            assert code in msg["text"] and "sedang diperiksa Dinsos" in msg["text"]
            # The photo was fetched, stripped of EXIF and stored by its hash.
            stored = await _wait_stored(tmp_path / "media")
            from PIL import Image

            with Image.open(stored) as im:
                assert not im.getexif()
            res = await asyncio.to_thread(staff, db_url, "reports", "show", code)
            assert str(stored) in res.stdout and "-6.577100" in res.stdout
            assert NIK_1 not in res.stdout
        finally:
            assert await svc.stop() == 0
        log = svc.log.decode(errors="replace")
        assert NIK_1 not in log and KK_1 not in log and "Traceback" not in log
        assert "sejak bapak wafat" not in log  # a resident's story is never logged


@pytest.mark.one_db("postgresql")
async def test_usul_on_whatsapp_with_photo_and_location(db_url, tmp_path):
    assert import_csv(db_url).returncode == 0
    wa_user = "6281311110077"
    async with FakeWhatsAppAPI() as fake:
        env = wa_env(db_url, fake.base_url, tmp_path)
        svc = Service(env)
        await svc.start()
        url = f"http://127.0.0.1:{env['WEB_PORT']}/wa/webhook"
        try:
            async with aiohttp.ClientSession() as http:
                u = Resident(http, url, fake, wa_user)
                await u.step(u.text("halo"))
                await u.step(u.tap("c:agree"))
                msg = await u.step(u.tap("l:id"))
                assert ("Laporkan data", "m:report") in choices(msg)
                msg = await u.step(u.pick("m:report"))
                assert msg["interactive"]["type"] == "list"  # five choices
                await u.step(u.pick("r:usul"))
                await u.step(u.pick("r:own"))
                await u.step(u.text(NIK_1))
                await u.step(u.tap("k:yes"))
                await u.step(u.text(KK_1))
                msg = await u.step(u.pick("r:why:house"))
                assert "kata-kata Anda sendiri" in body_text(msg)
                msg = await u.step(u.tap("r:skip"))
                assert "foto rumah" in body_text(msg)
                from tests.test_photos import JPEG_WITH_EXIF

                sha = fake.add_media("880", JPEG_WITH_EXIF)
                msg = await u.step(image_message(wa_user, "880", sha))
                assert "lokasi" in body_text(msg).lower()
                msg = await u.step(location_message(wa_user, -6.5771, 106.8013))
                assert "Foto terlampir" in body_text(msg)
                msg = await u.step(u.tap("r:send"), expect=2)  # the code, then the phone question
                code = CODE.search(body_text(msg)).group(0)
                assert choices(msg) == [
                    ("Bagikan nomor saya", "contact:share"),
                    ("Lewati", "ct:skip"),
                ]
                msg = await u.step(u.tap("m:myreports"))
                assert code in body_text(msg)
                # The stored photo has no EXIF (no GPS, no camera serial).
                await fake.wait_for(lambda: "880" in fake.downloads, timeout=10)
                stored = await _wait_stored(tmp_path / "media")
                from PIL import Image

                with Image.open(stored) as im:
                    assert not im.getexif()
                res = await asyncio.to_thread(staff, db_url, "reports", "show", code)
                assert str(stored) in res.stdout  # staff find the stored file from the report
        finally:
            assert await svc.stop() == 0
        log = svc.log.decode(errors="replace")
        assert NIK_1 not in log and wa_user not in log and "Traceback" not in log


async def _wait_stored(media_dir, timeout=10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        files = [p for p in media_dir.glob("*.jpg")] if media_dir.exists() else []
        if files:
            return files[0]
        await asyncio.sleep(0.05)
    raise AssertionError("no stored photo")
