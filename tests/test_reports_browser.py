"""The verification queue in a real browser (Debian's chromium through Playwright): a resident on
(fake) Telegram sends an usul with a house photo and a location; an officer signs in, finds it in
the queue, opens it (the photo is served behind the login), moves it to Verifikasi Dinsos and then
to Selesai: disetujui with a note; the resident is told each time at the fake Telegram server.
Screenshots go to $JARING_SCREENSHOTS, else to a temporary directory."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from tests.chatkit import KK_1, NIK_1
from tests.fakes.telegram_api import (
    FakeTelegramAPI,
    callback_update,
    location_update,
    photo_update,
    text_update,
)
from tests.test_dashboard_browser import CHROMIUM, PASSWORD, cli
from tests.test_telegram_e2e import Service, import_csv, service_env

pytestmark = pytest.mark.timeout(180)
USER = 5550888
CODE = re.compile(r"LPR-[0-9A-Z]{4}-[0-9A-Z]{4}")


async def photo_stored(path: Path, timeout: float = 15.0) -> None:
    """The service fetches the photo after the update is stored; wait until it is recorded."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        with sqlite3.connect(path) as db:
            if db.execute(
                "SELECT 1 FROM media WHERE channel = 'tg' AND status = 'stored'"
            ).fetchone():
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the photo was not stored")


async def test_officer_moves_a_report_from_the_browser_and_the_resident_is_told(tmp_path):
    from tests.test_photos import JPEG_WITH_EXIF

    shots = Path(os.environ.get("JARING_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'browser.db'}"
    assert cli(db_url, "migrate").returncode == 0
    assert import_csv(db_url).returncode == 0
    made = cli(
        db_url,
        "staff",
        "add",
        "budi",
        "--name",
        "Budi Verifikator",
        "--role",
        "verifikator",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    async with FakeTelegramAPI() as fake:
        fake.add_file("AgACAgUAAxkBAAIBRumah", JPEG_WITH_EXIF)
        svc = Service(service_env(db_url, fake.base_url, JARING_MEDIA_DIR=str(tmp_path / "media")))
        await svc.start()
        base = f"http://127.0.0.1:{svc.env['WEB_PORT']}"
        n = 0

        async def resident(update) -> dict:
            nonlocal n
            n += 1
            fake.push_update(update)
            return (await fake.wait_for_messages(USER, n, timeout=15))[-1]

        async def told() -> str:
            nonlocal n
            n += 1
            return (await fake.wait_for_messages(USER, n, timeout=15))[-1]["text"]

        try:
            await resident(text_update(1, USER, "/start"))
            await resident(callback_update(2, USER, "c:agree"))
            await resident(callback_update(3, USER, "l:id"))
            await resident(callback_update(4, USER, "m:report"))
            await resident(callback_update(5, USER, "r:usul"))
            await resident(callback_update(6, USER, "r:own"))
            await resident(text_update(7, USER, NIK_1))
            await resident(callback_update(8, USER, "k:yes"))
            await resident(text_update(9, USER, KK_1))
            await resident(callback_update(10, USER, "r:why:elder"))
            await resident(text_update(11, USER, "Nenek tinggal sendiri, atapnya bocor"))
            await resident(photo_update(12, USER, file_id="AgACAgUAAxkBAAIBRumah"))
            await resident(location_update(13, USER, -6.5771, 106.8013))
            msg = await resident(callback_update(14, USER, "r:send"))
            code = CODE.search(msg["text"]).group(0)
            n += 1  # after the code: may an officer call? (conversations/contact.py)
            await photo_stored(tmp_path / "browser.db")

            async with async_playwright() as p:
                browser = await p.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
                )
                try:
                    page = await browser.new_page(viewport={"width": 1366, "height": 768})
                    await page.goto(f"{base}/reports")
                    assert page.url.startswith(f"{base}/login")
                    await page.fill("input[name=username]", "budi")
                    await page.fill("input[name=password]", PASSWORD)
                    await page.click("button[type=submit]")
                    await page.wait_for_url(f"{base}/reports")
                    main = await page.inner_text("main")
                    assert code in main and "Tegal Gundil" in main and "Lansia" in main
                    await page.screenshot(path=shots / "reports.png", full_page=True)
                    await page.click(f"text={code}")
                    await page.wait_for_url(f"{base}/reports/{code}")
                    main = await page.inner_text("main")
                    assert NIK_1 not in main and "3271 05•• •••• 0002" in main
                    assert "buka peta" in main
                    assert (
                        "Cerita pelapor" in main and "Nenek tinggal sendiri, atapnya bocor" in main
                    )
                    await page.wait_for_function(
                        "document.querySelector('.photos img') && "
                        "document.querySelector('.photos img').naturalWidth > 0"
                    )
                    await page.screenshot(path=shots / "report.png", full_page=True)
                    await page.select_option("select[name=to]", "VERIFIKASI_DINSOS")
                    await page.fill("textarea[name=note]", "Berkas lengkap, lanjut periksa.")
                    await page.click("text=Simpan status")
                    await page.wait_for_selector("text=pelapor diberi tahu")
                    text = await told()
                    assert code in text and "sedang diperiksa Dinsos" in text
                    await page.select_option("select[name=to]", "SELESAI:DISETUJUI")
                    await page.fill("textarea[name=note]", "Layak diusulkan ke musyawarah.")
                    await page.click("text=Simpan status")
                    await page.wait_for_selector("text=pelapor diberi tahu")
                    text = await told()
                    assert code in text and "diterima dan diteruskan" in text
                    main = await page.inner_text("main")
                    assert "Layak diusulkan ke musyawarah." in main and "Petugas budi" in main
                    await page.screenshot(path=shots / "report-done.png", full_page=True)
                    phone = await browser.new_page(
                        viewport={"width": 390, "height": 844}, is_mobile=True
                    )
                    await phone.context.add_cookies(await page.context.cookies())
                    await phone.goto(f"{base}/reports?state=all")
                    assert code in await phone.inner_text("main")
                    await phone.screenshot(path=shots / "reports-phone.png", full_page=True)
                finally:
                    await browser.close()
        finally:
            assert await svc.stop() == 0
        log = svc.log.decode(errors="replace")
        assert "Traceback" not in log and NIK_1 not in log and KK_1 not in log
