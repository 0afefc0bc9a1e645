"""End to end, issue #12: a resident on (fake) Telegram and one on (fake) WhatsApp ask an
officer, go back to the menu (the question stays open), an officer answers from the dashboard
over HTTP, and the answer reaches each of them with a "Balas petugas" button that takes them
back into the ticket's chat. `python bot.py run` as a real process, both channels at once."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import subprocess
import sys

import aiohttp
import pytest

from tests.fakes.telegram_api import FakeTelegramAPI, callback_update, text_update
from tests.fakes.whatsapp_api import FakeWhatsAppAPI, body_text, choices, delivery, encode
from tests.test_telegram_e2e import ROOT, Service, buttons, import_csv, service_env
from tests.test_whatsapp_e2e import Resident, wa_env

pytestmark = pytest.mark.timeout(180)

TG_USER, WA_USER = 5550912, "6281311110912"
PASSWORD = "kopi-tubruk-2026"


def add_staff(db_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = db_url
    made = subprocess.run(
        [
            sys.executable,
            "bot.py",
            "staff",
            "add",
            "ani",
            "--name",
            "Ani",
            "--role",
            "verifikator",
            "--password-stdin",
        ],
        cwd=ROOT,
        env=env,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr


def csrf(html: str) -> str:
    m = re.search(r'name="_csrf" value="([^"]*)"', html)
    assert m, html[:300]
    return m.group(1)


@pytest.mark.one_db("postgresql")
async def test_question_left_via_menu_is_answered_on_telegram_and_whatsapp(db_url, tmp_path):
    assert import_csv(db_url).returncode == 0
    add_staff(db_url)
    async with FakeTelegramAPI() as tg, FakeWhatsAppAPI() as wa:
        env = service_env(db_url, tg.base_url)
        env.update(
            {
                k: v
                for k, v in wa_env(db_url, wa.base_url, tmp_path).items()
                if k.startswith("WHATSAPP_") or k == "JARING_MEDIA_DIR"
            }
        )
        svc = Service(env)
        # Two channels and the dashboard on a shared, busy machine: more time to come up.
        svc.wait_healthy = functools.partial(Service.wait_healthy, svc, timeout=90)
        await svc.start()
        base = f"http://127.0.0.1:{env['WEB_PORT']}"
        n = 0
        upd = iter(range(1, 100))

        async def telegram(update) -> dict:
            nonlocal n
            n += 1
            tg.push_update(update)
            return (await tg.wait_for_messages(TG_USER, n, timeout=15))[-1]

        try:
            # Telegram: ask, then `menu`: the question stays open, said once.
            await telegram(text_update(next(upd), TG_USER, "/start"))
            await telegram(callback_update(next(upd), TG_USER, "c:agree"))
            await telegram(callback_update(next(upd), TG_USER, "l:id"))
            await telegram(callback_update(next(upd), TG_USER, "g:contact"))
            msg = await telegram(text_update(next(upd), TG_USER, "Kapan PKH cair bulan ini?"))
            assert "tiket T-1" in msg["text"]
            assert buttons(msg) == [("Tarik pertanyaan", "h:withdraw"), ("Menu utama", "g:menu")]
            msg = await telegram(text_update(next(upd), TG_USER, "menu"))
            assert msg["text"].startswith("Pertanyaan Anda (tiket T-1) masih menunggu petugas")
            assert ("Cek status bansos", "m:check") in buttons(msg)

            async with (
                aiohttp.ClientSession(
                    base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True)
                ) as web,
                aiohttp.ClientSession() as http,
            ):
                # WhatsApp: the same, with `batal`.
                u = Resident(http, f"{base}/wa/webhook", wa, WA_USER)
                await u.step(u.text("halo"))
                await u.step(u.tap("c:agree"))
                await u.step(u.tap("l:id"))
                await u.step(u.tap("g:contact"))
                msg = await u.step(u.text("Apakah anak saya bisa dapat PIP?"))
                assert "tiket T-2" in body_text(msg)
                assert choices(msg) == [
                    ("Tarik pertanyaan", "h:withdraw"),
                    ("Menu utama", "g:menu"),
                ]
                msg = await u.step(u.text("batal"))
                assert body_text(msg).startswith("Pertanyaan Anda (tiket T-2) masih menunggu")

                # The officer answers both from the dashboard.
                page = await web.get("/login?next=/inbox")
                r = await web.post(
                    "/login",
                    data={
                        "username": "ani",
                        "password": PASSWORD,
                        "_csrf": csrf(await page.text()),
                        "next": "/inbox",
                    },
                )
                html = await r.text()
                assert "T-1" in html and "T-2" in html  # both still open
                for tid, text in ((1, "Mulai tanggal 10, Bu."), (2, "Bisa, bila terdaftar.")):
                    page = await web.get(f"/inbox/{tid}")
                    r = await web.post(
                        f"/inbox/{tid}/reply",
                        data={"_csrf": csrf(await page.text()), "text": text},
                        allow_redirects=False,
                    )
                    assert r.status == 302
                n += 1
                got = (await tg.wait_for_messages(TG_USER, n, timeout=15))[-1]
                assert got["text"].startswith("Petugas Dinas Sosial:\nMulai tanggal 10, Bu.")
                assert "selesai" not in got["text"].lower()
                assert buttons(got) == [("Balas petugas", "g:contact")]
                await wa.wait_for(
                    lambda: "Bisa, bila terdaftar." in body_text(wa.messages_to(WA_USER)[-1]),
                    timeout=15,
                )
                last = wa.messages_to(WA_USER)[-1]
                assert choices(last) == [("Balas petugas", "g:contact")]

                # "Balas petugas" takes each back into the ticket's chat; what they write is
                # added to the ticket.
                msg = await telegram(callback_update(next(upd), TG_USER, "g:contact"))
                assert "tiket T-1" in msg["text"] and "masih terbuka" in msg["text"]
                tg.push_update(text_update(next(upd), TG_USER, "Terima kasih, Bu."))
                msg = await u.step(u.tap("g:contact"))
                assert "tiket T-2" in body_text(msg)
                before = len(wa.messages_to(WA_USER))
                assert await u.post(encode(delivery(u.text("Kelas 3 SD.")))) == 200
                for tid, said in ((1, "Terima kasih, Bu."), (2, "Kelas 3 SD.")):
                    for _ in range(50):
                        page = await (await web.get(f"/inbox/{tid}")).text()
                        if said in page:
                            break
                        await asyncio.sleep(0.1)
                    assert said in page
                assert len(wa.messages_to(WA_USER)) == before  # silent in the chat
                assert len(tg.messages_to(TG_USER)) == n  # silent in the chat too
        finally:
            assert await svc.stop() == 0
        log = svc.log.decode(errors="replace")
        assert "Traceback" not in log and WA_USER not in log
