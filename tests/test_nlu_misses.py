"""Staff see what was not understood (issue #11 item 4): misses recorded masked on the "not
understood" path, the /nlu page (admin, verifikator), `bot.py nlu misses|check|reload`, the
lexicon re-read when its file changes, retention purging old misses."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

import bot
from core.understanding import DEFAULT_PATH, LiveLexicon
from db import nlu_store
from db.database import Database
from db.schema import audit_log, nlu_misses
from domain.masking import mask_text
from services import retention
from tests.chatkit import Chat, running
from tests.test_web_auth import dashboard, hidden, login

GIBBERISH = "xqzv blorp 9999 9999 9999 9999 wkwk"


async def misses(rt) -> list:
    async with rt.db.tx(write=False) as c:
        return list(await c.execute(sa.select(nlu_misses).order_by(nlu_misses.c.id)))


def test_mask_text():
    assert mask_text("nik sy 3271051203780002 gmn") == "nik sy [angka] gmn"
    assert mask_text("hp +62 812-3456-7890 ya") == "hp [angka] ya"
    assert mask_text("kk 3271.0512.0378.0002") == "kk [angka]"
    assert mask_text("ani.b@mail.co.id tolong") == "[email] tolong"
    assert mask_text("rt 05 rw 12 no 1234567") == "rt 05 rw 12 no 1234567"  # short numbers stay
    assert len(mask_text("a" * 2000)) == 500


async def test_gibberish_at_the_menu_is_a_masked_miss_and_a_request_is_not(db_url):
    async with running(db_url, csv=None) as rt:
        warga = Chat(rt, "warga")
        await warga.onboard()
        await warga.send("mau cek bansos")  # understood: the check starts
        assert await misses(rt) == []
        await warga.send("menu")
        got = await warga.send(GIBBERISH)
        assert any("belum mengerti" in r["text"] for r in got)
        [m] = await misses(rt)
        assert (m.channel, m.locale, m.flow, m.step) == ("test", "id", "menu", "main")
        assert "9999" not in m.text and "[angka]" in m.text and "xqzv" in m.text
        assert "9999" not in m.normalized and "[angka]" in m.normalized
        await warga.send("email sy ani@mail.com 0812 3456 7890 zzzqx")
        [_, m2] = await misses(rt)
        assert "ani@" not in m2.text and "[email]" in m2.text and "0812" not in m2.text
        # Mid-flow: where it happened is kept; a voice note is no miss.
        await warga.send("mau cek bansos")
        await warga.send("plonk grr")
        await warga._event("voice", {})
        [*_, m3] = await misses(rt)
        assert (m3.flow, m3.step, m3.text) == ("check", "nik", "plonk grr")
        assert len(await misses(rt)) == 3


async def test_the_nlu_page_groups_and_counts_for_admin_and_verifikator(db_url):
    async with dashboard(db_url) as (rt, client, clock):
        for user in ("w1", "w2", "w3"):
            chat = Chat(rt, user)
            await chat.onboard()
            await chat.send("Xqzv blorp!" if user != "w3" else "plonk 0812-3456-7890 grr")
        assert len(await misses(rt)) == 3
        resp = await login(client, "citra", next_="/nlu")
        assert resp.status == 302
        assert (await client.get("/nlu")).status == 403  # an operator
        await client.post("/logout", data={"_csrf": hidden(await (await client.get("/")).text())})
        await login(client, "budi")
        page = await client.get("/nlu?hari=7")
        html = await page.text()
        assert page.status == 200 and "Pesan tak dikenali" in html
        assert "xqzv blorp" in html.lower() and "menu/main (2)" in html
        assert "3456" not in html and "[angka]" in html
        assert 'action="/nlu/reload"' not in html  # admin only
        token = hidden(html)
        assert (await client.post("/nlu/reload", data={"_csrf": token})).status == 403
        await client.post("/logout", data={"_csrf": token})
        await login(client, "ani")
        html = await (await client.get("/nlu")).text()
        assert 'action="/nlu/reload"' in html and "intents.toml" in html
        resp = await client.post("/nlu/reload", data={"_csrf": hidden(html)}, allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"] == "/nlu?ok=reloaded"
        async with rt.db.tx(write=False) as c:
            rows = list(
                await c.execute(sa.select(audit_log).where(audit_log.c.action == "nlu.reload"))
            )
        assert [r.actor for r in rows] == ["staff:ani"]
        # Older than the period asked for: not shown.
        clock.advance(days=8)
        html = await (await client.get("/nlu?hari=7")).text()
        assert "xqzv" not in html.lower()


@pytest.fixture
def cli(db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)

    def run(*argv):
        rc = bot.main(list(argv))
        out = capsys.readouterr()
        return rc, out.out, out.err

    return run


async def _add(db_url: str, at: datetime, text: str, flow="menu", step="main") -> None:
    db = Database(db_url)
    try:
        async with db.tx() as c:
            await nlu_store.add_miss(
                c,
                now=at,
                channel="wa",
                locale="id",
                flow=flow,
                step=step,
                text=text,
                normalized=text.lower(),
            )
    finally:
        await db.dispose()


def test_cli_nlu_misses_prints_the_groups(cli, db_url):
    now = datetime.now(UTC)
    asyncio.run(_add(db_url, now - timedelta(hours=2), "Gimana dftr sembako"))
    asyncio.run(_add(db_url, now - timedelta(hours=1), "gimana dftr sembako", "check", "nik"))
    asyncio.run(_add(db_url, now - timedelta(days=40), "lama sekali"))
    rc, out, _ = cli("nlu", "misses", "--days", "30")
    assert rc == 0, out
    assert "2 pesan, 1 kelompok" in out
    assert "    2  gimana dftr sembako" in out  # the newest example
    assert "check/nik" in out and "menu/main" in out
    assert "lama sekali" not in out
    rc, out, _ = cli("nlu", "misses", "--days", "60", "--limit", "1")
    assert rc == 0 and "3 pesan, 1 kelompok" in out and "lama sekali" not in out


def test_cli_nlu_check(cli, tmp_path):
    rc, out, _ = cli("nlu", "check")
    assert rc == 0 and "baik" in out
    bad = tmp_path / "intents.toml"
    bad.write_text(
        DEFAULT_PATH.read_text(encoding="utf-8") + '\n[intents.ngopi]\nid = ["kopi"]\n',
        encoding="utf-8",
    )
    rc, out, _ = cli("nlu", "check", "--file", str(bad))
    assert rc == 1 and "intents.ngopi: unknown intent" in out
    rc, out, _ = cli("nlu", "reload", "--file", str(bad))
    assert rc == 1
    broken = tmp_path / "broken.toml"
    broken.write_text("[intents\n", encoding="utf-8")
    rc, out, _ = cli("nlu", "check", "--file", str(broken))
    assert rc == 1 and "not valid TOML" in out


class Tick:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _touch(path: Path, step: int) -> None:
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + step * 1_000_000_000))


def test_the_lexicon_is_read_again_when_its_file_changes(tmp_path, caplog):
    path = tmp_path / "intents.toml"
    original = DEFAULT_PATH.read_text(encoding="utf-8")
    path.write_text(original, encoding="utf-8")
    tick = Tick()
    live = LiveLexicon(path, every=5.0, clock=tick)
    assert live.current().understand("zorblax kuning").kind == "none"
    path.write_text(
        original.replace(
            "[intents.check]\nid = [\n", '[intents.check]\nid = [\n    "zorblax kuning",\n'
        ),
        encoding="utf-8",
    )
    _touch(path, 1)
    tick.t = 1.0  # not yet: at most one stat every few seconds
    assert live.current().understand("zorblax kuning").kind == "none"
    tick.t = 6.0
    assert live.current().understand("zorblax kuning").intent == "check"
    # A broken file keeps the lexicon in use, with one warning.
    path.write_text(original + '\n[intents.ngopi]\nid = ["kopi"]\n', encoding="utf-8")
    _touch(path, 2)
    with caplog.at_level(logging.WARNING, logger="jaring.understanding"):
        tick.t = 12.0
        assert live.current().understand("zorblax kuning").intent == "check"
        tick.t = 18.0
        assert live.current().understand("zorblax kuning").intent == "check"
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert live.problem and "ngopi" in live.problem
    # The forced reload (the dashboard's button) says what is wrong.
    assert "ngopi" in (live.reload() or "")
    path.write_text(original, encoding="utf-8")
    assert live.reload() is None
    assert live.current().understand("zorblax kuning").kind == "none"


async def test_the_running_engine_uses_the_live_lexicon(db_url, tmp_path):
    path = tmp_path / "intents.toml"
    original = DEFAULT_PATH.read_text(encoding="utf-8")
    path.write_text(original, encoding="utf-8")
    async with running(db_url, csv=None, jaring_intents=path) as rt:
        warga = Chat(rt, "warga")
        await warga.onboard()
        await warga.send("zorblax kuning")
        assert len(await misses(rt)) == 1
        path.write_text(
            original.replace(
                "[intents.kube]\nid = [\n", '[intents.kube]\nid = [\n    "zorblax kuning",\n'
            ),
            encoding="utf-8",
        )
        assert rt.lexicon.reload() is None
        await warga.send("menu")
        await warga.send("zorblax kuning")
        assert len(await misses(rt)) == 1  # understood now: no new miss


async def test_retention_purges_old_misses(db_url):
    now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    await _add(db_url, now - timedelta(days=800), "lama")
    await _add(db_url, now - timedelta(days=1), "baru")
    db = Database(db_url)
    try:
        async with db.tx() as c:
            counts = await retention.purge(c, retention.months_before(now, 24), now)
            left = [r.text for r in await c.execute(sa.select(nlu_misses))]
    finally:
        await db.dispose()
    assert counts["nlu_misses"] == 1 and left == ["baru"]
