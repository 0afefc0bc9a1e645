"""End to end: `bot.py import-dtsen` and `bot.py run` as real processes, real aiogram, a fake
Telegram Bot API server on 127.0.0.1. Runs on SQLite and (with JARING_TEST_PG_URL) PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.chatkit import KK_1, NIK_1, SMALL_CSV
from tests.fakes.telegram_api import BOT_TOKEN, FakeTelegramAPI, callback_update, text_update

ROOT = Path(__file__).resolve().parent.parent
USER = 5550001
SECRET = "s3cret-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_env(db_url: str, api_url: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "WHATSAPP_", "JARING_", "DATABASE_URL"))
    }
    env.update(
        DATABASE_URL=db_url,
        TELEGRAM_BOT_TOKEN=BOT_TOKEN,
        TELEGRAM_API_URL=api_url,
        WEB_HOST="127.0.0.1",
        WEB_PORT=str(free_port()),
        LOG_LEVEL="DEBUG",
        PYTHONUNBUFFERED="1",
        TELEGRAM_RATE_PER_CHAT="50",
        JARING_ALLOW_DEV_DEFAULTS="1",  # a fake server: dev key and placeholders
        **extra,
    )
    return env


class Service:
    """`python bot.py run` in a subprocess; its log is kept for the no-NIK-in-logs check."""

    def __init__(self, env):
        self.env = env
        self.proc = None
        self.log = b""

    async def start(self):
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "bot.py",
            "run",
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())
        await self.wait_healthy()

    async def _read(self):
        while chunk := await self.proc.stdout.read(65536):
            self.log += chunk

    async def wait_healthy(self, timeout=90.0):
        url = f"http://127.0.0.1:{self.env['WEB_PORT']}/healthz"
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as s:
            while time.monotonic() < deadline:
                assert self.proc.returncode is None, self.log.decode(errors="replace")
                try:
                    async with s.get(url) as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(
            "service did not become healthy:\n" + self.log.decode(errors="replace")
        )

    async def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        await self._reader

    async def stop(self):
        if self.proc and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
            await self._reader
        return self.proc.returncode


async def wait_all_marked(db_url: str, timeout: float = 10.0) -> None:
    """Until no reply is queued or being sent (every send's mark committed)."""
    import sqlalchemy as sa

    from db.database import Database
    from db.schema import outbound_messages

    db = Database(db_url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            async with db.tx(write=False) as c:
                busy = await c.scalar(
                    sa.select(sa.func.count()).where(
                        outbound_messages.c.status.in_(("queued", "sending"))
                    )
                )
            if not busy:
                return
            await asyncio.sleep(0.05)
    finally:
        await db.dispose()


def import_csv(db_url: str, csv: Path = SMALL_CSV) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = db_url
    return subprocess.run(
        [sys.executable, "bot.py", "import-dtsen", str(csv), "--data-date", "2026-11-01"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def buttons(msg) -> list[tuple[str, str]]:
    markup = msg["reply_markup"]
    if isinstance(markup, str):
        markup = json.loads(markup)
    return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]


@pytest.mark.one_db("sqlite")
async def test_polling_end_to_end_with_restart_and_429(db_url):
    imported = import_csv(db_url)
    assert imported.returncode == 0, imported.stderr
    async with FakeTelegramAPI() as fake:
        svc = Service(service_env(db_url, fake.base_url))
        await svc.start()

        async def step(update, expect_total):
            fake.push_update(update)
            return (await fake.wait_for_messages(USER, expect_total, timeout=15))[-1]

        try:
            msg = await step(text_update(1, USER, "/start"), 1)
            assert "Layanan ini GRATIS" in msg["text"] and "OTP" in msg["text"]
            assert buttons(msg) == [
                ("Setuju", "c:agree"),
                ("Tidak setuju", "c:decline"),
                ("Bahasa/Language", "g:language"),
            ]
            msg = await step(callback_update(2, USER, "c:agree"), 2)
            assert buttons(msg) == [
                ("Bahasa Indonesia", "l:id"),
                ("Basa Sunda", "l:su"),
                ("Basa Jawa", "l:jv"),
                ("English", "l:en"),
            ]
            msg = await step(callback_update(3, USER, "l:id"), 3)
            assert "Menu utama" in msg["text"]
            assert buttons(msg)[0] == ("Cek status bansos", "m:check")
            msg = await step(callback_update(4, USER, "m:check"), 4)
            assert "Ketik NIK" in msg["text"] and buttons(msg) == [("Batal", "g:cancel")]
            msg = await step(text_update(5, USER, "3271 0512 0378 0002"), 5)
            assert "3271 05•• •••• 0002" in msg["text"]
            assert buttons(msg) == [("Ya, benar", "k:yes"), ("Ubah NIK", "k:edit")]
            await fake.wait_for(lambda: len(fake.callback_answers) >= 3)
            commands = {lang for (_scope, lang) in fake.commands}
            assert {"", "en"} <= commands

            # Killed mid-flow, restarted: the conversation goes on where it was.
            # (once the sends are marked: a kill between Telegram's answer and the mark is a
            # mid-request catch, resent once at start-up, tests/test_delivery.py)
            await wait_all_marked(db_url)
            await svc.kill()
            first_log = svc.log
            svc = Service(svc.env)
            await svc.start()
            msg = await step(callback_update(6, USER, "k:yes"), 6)
            assert "No. KK" in msg["text"]

            # A 429 from Telegram: the reply is retried after retry_after.
            fake.fail_next("sendMessage", 429, retry_after=1)
            t0 = time.monotonic()
            msg = await step(text_update(7, USER, KK_1), 7)
            assert time.monotonic() - t0 >= 1.0
            text = msg["text"]
            assert "Desil 2 dari 10: kelompok sangat membutuhkan bantuan." in text
            assert "termasuk kemiskinan ekstrem" in text
            assert "PKH" in text and "Data per 1 November 2026" in text
            assert NIK_1 not in text and KK_1 not in text
            assert buttons(msg) == [
                ("Program bisa diikuti", "k:programs"),
                ("Cara cek resmi", "k:official"),
                ("Menu utama", "g:menu"),
            ]
            sends = fake.calls_of("sendMessage")
            assert sends[-1]["time"] - sends[-2]["time"] >= 1.0
            msg = await step(callback_update(8, USER, "k:programs"), 8)
            assert "KUBE: untuk desil 1–4; Anda termasuk" in msg["text"]
        finally:
            assert await svc.stop() == 0
        logs = (first_log + svc.log).decode(errors="replace")
        for secret in (NIK_1, KK_1, "3271 0512 0378 0002"):
            assert secret not in logs
        assert "Traceback" not in logs


@pytest.mark.one_db("postgresql")
async def test_webhook_mode_secret_dedupe_and_english(db_url):
    assert import_csv(db_url).returncode == 0
    async with FakeTelegramAPI() as fake:
        env = service_env(
            db_url,
            fake.base_url,
            TELEGRAM_WEBHOOK_URL="https://bot.example/tg/webhook",
            TELEGRAM_WEBHOOK_SECRET=SECRET,
        )
        svc = Service(env)
        await svc.start()
        url = f"http://127.0.0.1:{env['WEB_PORT']}/tg/webhook"
        try:
            await fake.wait_for(lambda: fake.webhook["url"] == env["TELEGRAM_WEBHOOK_URL"])
            async with aiohttp.ClientSession() as s:

                async def post(update, secret=SECRET):
                    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                    async with s.post(url, json=update, headers=headers) as r:
                        return r.status, await r.text()

                assert (await post(text_update(10, USER, "/start", "en"), secret="wrong"))[0] == 401
                assert (await post(text_update(10, USER, "/start", "en"), secret=None))[0] == 401
                async with s.post(
                    url, data=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
                ) as r:
                    assert r.status == 400 and "Traceback" not in await r.text()
                assert (await post(text_update(11, USER, "/start", "en")))[0] == 200
                assert (await post(text_update(11, USER, "/start", "en")))[0] == 200  # redelivery
                [notice] = await fake.wait_for_messages(USER, 1, timeout=10)
                assert "This service is FREE" in notice["text"]
                status, body = await post(callback_update(12, USER, "c:agree", language_code="en"))
                assert status == 200 and "answerCallbackQuery" in body
                await fake.wait_for_messages(USER, 2, timeout=10)
                await post(callback_update(13, USER, "l:en", language_code="en"))
                msgs = await fake.wait_for_messages(USER, 3, timeout=10)
                assert "Main menu" in msgs[-1]["text"]
                await asyncio.sleep(0.3)
                assert len(fake.messages_to(USER)) == 3  # the duplicate /start got no reply
        finally:
            assert await svc.stop() == 0


def test_import_dtsen_cli_rejects_a_bad_file_and_lists_lines(db_url):
    bad = ROOT / "tests" / "data" / "dtsen_bad.csv"
    res = import_csv(db_url, bad)
    assert res.returncode == 1
    assert "baris " in res.stderr and "Tidak ada yang diimpor" in res.stderr


def test_run_without_a_token_says_so_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_URL"))}
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db", WEB_PORT=str(free_port()))
    subprocess.run(
        [sys.executable, "bot.py", "migrate"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    proc = subprocess.Popen(
        [sys.executable, "bot.py", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "TELEGRAM_BOT_TOKEN is not set" in line
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


pytestmark = pytest.mark.timeout(120)


def test_malformed_programs_toml_stops_start_up_with_one_line_per_mistake(tmp_path):
    bad = tmp_path / "programs.toml"
    text = (ROOT / "data" / "programs.toml").read_text(encoding="utf-8")
    bad.write_text(
        text.replace("desil = [1, 4]", "desil = [0, 4]", 1).replace(
            'short = "PKH"', 'short = "Program Keluarga Harapan PKH"'
        ),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_URL"))}
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db",
        JARING_PROGRAMS=str(bad),
        WEB_PORT=str(free_port()),
    )
    res = subprocess.run(
        [sys.executable, "bot.py", "run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert "programs.PKH.desil" in res.stderr and "programs.PKH.short" in res.stderr
    assert "Traceback" not in res.stderr
