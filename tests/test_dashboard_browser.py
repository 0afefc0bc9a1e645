"""The dashboard in a real browser (Debian's chromium through Playwright; `make install` puts it
there): a resident on (fake) Telegram asks a person, an officer signs in, answers from the inbox,
and the answer reaches the fake Telegram server; then closes the ticket and the resident is
asked for a rating. Screenshots of the pages go to $JARING_SCREENSHOTS (`make screenshots`
writes docs/screenshots/), else to a temporary directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from playwright.async_api import async_playwright

from tests.fakes.telegram_api import FakeTelegramAPI, callback_update, text_update
from tests.test_telegram_e2e import ROOT, Service, import_csv, service_env

USER = 5550777
PASSWORD = "kopi-tubruk-2026"
CHROMIUM = os.environ.get("JARING_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def cli(db_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = db_url
    return subprocess.run(
        [sys.executable, "bot.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_officer_answers_a_resident_from_the_browser(tmp_path):
    shots = Path(os.environ.get("JARING_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'browser.db'}"
    assert cli(db_url, "migrate").returncode == 0
    assert import_csv(db_url).returncode == 0
    made = cli(
        db_url,
        "staff",
        "add",
        "ani",
        "--name",
        "Ani Verifikator",
        "--role",
        "verifikator",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    async with FakeTelegramAPI() as fake:
        svc = Service(service_env(db_url, fake.base_url))
        await svc.start()
        base = f"http://127.0.0.1:{svc.env['WEB_PORT']}"
        n = 0

        async def resident(update) -> dict:
            nonlocal n
            n += 1
            fake.push_update(update)
            return (await fake.wait_for_messages(USER, n, timeout=15))[-1]

        try:
            await resident(text_update(1, USER, "/start"))
            await resident(callback_update(2, USER, "c:agree"))
            await resident(callback_update(3, USER, "l:id"))
            msg = await resident(callback_update(4, USER, "g:contact"))
            assert "Tulis pertanyaan Anda" in msg["text"]
            msg = await resident(text_update(5, USER, "Kapan bantuan PKH cair bulan ini?"))
            assert "tiket T-1" in msg["text"]

            async with async_playwright() as p:
                browser = await p.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
                )
                try:
                    page = await browser.new_page(viewport={"width": 1366, "height": 768})
                    # A page without a login goes to the login form.
                    await page.goto(f"{base}/inbox")
                    assert page.url.startswith(f"{base}/login")
                    await page.screenshot(path=shots / "login.png")
                    await page.fill("input[name=username]", "ani")
                    await page.fill("input[name=password]", "salah-kata-sandi")
                    await page.click("button[type=submit]")
                    assert "kata sandi salah" in await page.inner_text("main")
                    await page.fill("input[name=password]", PASSWORD)
                    await page.click("button[type=submit]")
                    await page.wait_for_url(f"{base}/inbox")
                    assert "Kapan bantuan PKH cair" in await page.inner_text("main")
                    await page.screenshot(path=shots / "inbox.png", full_page=True)
                    await page.click("text=T-1")
                    await page.wait_for_url(f"{base}/inbox/1")
                    await page.fill(
                        "form[action='/inbox/1/reply'] textarea",
                        "Pencairan bulan ini mulai tanggal 10. Cek juga di kantor pos.",
                    )
                    await page.click("text=Kirim balasan")
                    await page.wait_for_selector("text=Balasan dikirim ke warga")
                    got = (await fake.wait_for_messages(USER, n + 1, timeout=15))[-1]
                    n += 1
                    assert got["text"].startswith("Petugas Dinas Sosial:\nPencairan bulan ini")
                    await page.screenshot(path=shots / "ticket.png", full_page=True)
                    await page.click("text=Tutup tiket")
                    await page.wait_for_selector("text=warga diminta menilai")
                    got = (await fake.wait_for_messages(USER, n + 1, timeout=15))[-1]
                    n += 1
                    assert "Bagaimana jawabannya?" in got["text"]
                    await page.goto(f"{base}/")
                    await page.screenshot(path=shots / "overview.png", full_page=True)
                    phone = await browser.new_page(
                        viewport={"width": 390, "height": 844}, is_mobile=True
                    )
                    await phone.context.add_cookies(await page.context.cookies())
                    await phone.goto(f"{base}/inbox?tab=closed")
                    assert "T-1" in await phone.inner_text("main")
                    await phone.screenshot(path=shots / "inbox-phone.png", full_page=True)
                finally:
                    await browser.close()
            msg = await resident(text_update(6, USER, "5"))
            assert "Terima kasih atas penilaian Anda" in msg["text"]
        finally:
            assert await svc.stop() == 0
        assert "Traceback" not in svc.log.decode(errors="replace")
