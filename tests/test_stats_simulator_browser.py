"""The simulator and the statistics page in a real browser (Debian's chromium through
Playwright): sign in, start a simulated resident, agree, pick the language and a menu item by
its button, see the reply; then the charts. Screenshots go to $JARING_SCREENSHOTS, else to a
temporary directory."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import async_playwright

from tests.test_dashboard_browser import CHROMIUM
from tests.test_stats_simulator import PASSWORD, fill, site


async def test_simulator_and_stats_in_the_browser(tmp_path, sqlite_template):
    shots = Path(os.environ.get("JARING_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    import shutil

    shutil.copy(sqlite_template, tmp_path / "b.db")
    async with site(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}") as (rt, client, clock):
        await fill(rt, clock)
        base = str(client.make_url("")).rstrip("/")
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                page = await browser.new_page(viewport={"width": 1366, "height": 768})
                await page.goto(f"{base}/simulator")
                await page.fill("input[name=username]", "ani")
                await page.fill("input[name=password]", PASSWORD)
                await page.click("button[type=submit]")
                await page.wait_for_url(f"{base}/simulator")
                await page.click("text=Mulai ulang sebagai warga baru")
                await page.wait_for_selector("button[name=choice][value='c:agree']")
                await page.click("button[name=choice][value='c:agree']")
                await page.click("button[name=choice][value='l:id']")
                await page.click("button[name=choice][value='g:contact']")
                await page.wait_for_selector("text=Tulis pertanyaan Anda")
                await page.screenshot(path=shots / "simulator.png", full_page=True)
                await page.goto(f"{base}/stats")
                assert "Statistik layanan" in await page.inner_text("main")
                assert await page.locator("svg.chart").count() == 6
                await page.screenshot(path=shots / "stats.png", full_page=True)
                phone = await browser.new_page(viewport={"width": 390, "height": 844})
                await phone.context.add_cookies(await page.context.cookies())
                await phone.goto(f"{base}/stats")
                await phone.screenshot(path=shots / "stats-phone.png", full_page=True)
            finally:
                await browser.close()
