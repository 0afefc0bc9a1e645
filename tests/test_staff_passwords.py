"""Staff passwords (issue #12): `bot.py staff passwd` and `staff reset` (a one-time password and a
forced change at the next login), the "Ganti kata sandi" page, other sessions ended, audited."""

from __future__ import annotations

import asyncio
import io
import re

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from db.database import Database
from db.schema import audit_log, staff_sessions, staff_users
from services.staff import add_staff
from tests.chatkit import Clock, running
from tests.test_web_auth import PASSWORD, hidden, login

NEW = "teh-manis-hangat-77"


async def _add(db_url: str, user: str = "dewi", role: str = "verifikator") -> None:
    db = Database(db_url)
    try:
        async with db.tx() as c:
            await add_staff(
                c,
                username=user,
                name=user.title(),
                role=role,
                password=PASSWORD,
                kelurahan_code=None,
                now=Clock()(),
                actor="test",
            )
    finally:
        await db.dispose()


async def _actions(db_url: str) -> list[str]:
    db = Database(db_url)
    try:
        async with db.tx(write=False) as c:
            return [
                r.action for r in await c.execute(sa.select(audit_log).order_by(audit_log.c.id))
            ]
    finally:
        await db.dispose()


def _stdin(monkeypatch, text: str, tty: bool = False) -> None:
    fake = io.StringIO(text)
    fake.isatty = lambda: tty  # type: ignore[method-assign]
    monkeypatch.setattr("sys.stdin", fake)


def test_passwd_from_stdin_and_getpass(db_url, monkeypatch, capsys):
    import bot

    asyncio.run(_add(db_url))
    monkeypatch.setenv("DATABASE_URL", db_url)
    # Not a terminal: one line from stdin; the strength rules of `staff add` hold.
    _stdin(monkeypatch, "pendek\n")
    assert bot.main(["staff", "passwd", "dewi"]) == 1
    assert "minimal 10 karakter" in capsys.readouterr().err
    _stdin(monkeypatch, "dewi-rahasia-123\n")
    assert bot.main(["staff", "passwd", "Dewi"]) == 1
    assert "nama pengguna" in capsys.readouterr().err
    _stdin(monkeypatch, NEW + "\n")
    assert bot.main(["staff", "passwd", "dewi"]) == 0
    out = capsys.readouterr().out
    assert "diganti" in out and NEW not in out
    _stdin(monkeypatch, NEW + "\n")
    assert bot.main(["staff", "passwd", "dewi"]) == 1  # the same password again
    assert "berbeda" in capsys.readouterr().err
    # A terminal: asked twice without echo; two different answers change nothing.
    _stdin(monkeypatch, "", tty=True)
    answers = iter(["kopi-susu-gula-1", "kopi-susu-gula-2"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert bot.main(["staff", "passwd", "dewi"]) == 1
    assert "tidak sama" in capsys.readouterr().err
    answers = iter(["kopi-susu-gula-1", "kopi-susu-gula-1"])
    assert bot.main(["staff", "passwd", "dewi"]) == 0
    _stdin(monkeypatch, NEW + "\n")
    assert bot.main(["staff", "passwd", "tidakada"]) == 1
    assert "Tidak ada petugas" in capsys.readouterr().err
    assert asyncio.run(_actions(db_url)).count("staff.passwd") == 2

    async def logins() -> tuple[int, int]:
        async with running(db_url, csv=None) as rt:
            client = TestClient(TestServer(rt.web))
            await client.start_server()
            try:
                old = (await login(client, user="dewi", password=NEW)).status
                new = (await login(client, user="dewi", password="kopi-susu-gula-1")).status
            finally:
                await client.close()
        return old, new

    assert asyncio.run(logins()) == (401, 302)


def test_reset_prints_a_one_time_password_and_forces_a_change(db_url, monkeypatch, capsys):
    import bot

    asyncio.run(_add(db_url))
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert bot.main(["staff", "reset", "nobody"]) == 1
    capsys.readouterr()
    assert bot.main(["staff", "reset", "dewi"]) == 0
    out = capsys.readouterr().out
    m = re.search(r"untuk dewi: ([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})\n", out)
    assert m, out
    otp = m.group(1)

    async def web() -> None:
        async with running(db_url, csv=None) as rt:
            client = TestClient(TestServer(rt.web))
            await client.start_server()
            try:
                assert (await login(client, user="dewi", password=PASSWORD)).status == 401
                r = await login(client, user="dewi", password=otp, next_="/reports")
                assert r.status == 302
                # Every page leads to the change page; forms elsewhere are refused.
                for path in ("/", "/reports", "/account", "/inbox"):
                    r = await client.get(path, allow_redirects=False)
                    assert (r.status, r.headers.get("Location")) == (302, "/account/password")
                page = await (await client.get("/account/password")).text()
                assert "kata sandi sekali pakai" in page and 'href="/inbox"' not in page
                token = hidden(page)
                r = await client.post(
                    "/account/link-code", data={"_csrf": token}, allow_redirects=False
                )
                assert r.status == 403
                form = {"_csrf": token, "old": otp, "new": NEW, "again": NEW + "x"}
                r = await client.post("/account/password", data=form)
                assert r.status == 400 and "tidak sama" in await r.text()
                form.update(old="salah-salah-123", again=NEW)
                r = await client.post("/account/password", data=form)
                assert r.status == 400 and "lama salah" in await r.text()
                form.update(old=otp, new=otp, again=otp)
                r = await client.post("/account/password", data=form)
                assert r.status == 400 and "berbeda" in await r.text()
                form.update(new=NEW, again=NEW)
                r = await client.post("/account/password", data=form, allow_redirects=False)
                assert r.status == 302
                r = await client.get("/reports")
                assert r.status == 200 and 'href="/account"' in await r.text()
                assert (await login(client, user="dewi", password=otp)).status == 401
                assert (await login(client, user="dewi", password=NEW)).status == 302
            finally:
                await client.close()

    asyncio.run(web())
    actions = asyncio.run(_actions(db_url))
    assert "staff.reset" in actions and actions.index("staff.passwd") > actions.index("staff.reset")
    assert otp not in out.replace(f"untuk dewi: {otp}", "")  # printed once


async def test_the_page_for_every_role_ends_the_other_sessions(db_url):
    clock = Clock()
    async with running(db_url, clock=clock, csv=None) as rt:
        for user, role in (("ani", "admin"), ("wati", "operator")):
            async with rt.db.tx() as c:
                await add_staff(
                    c,
                    username=user,
                    name=user.title(),
                    role=role,
                    password=PASSWORD,
                    kelurahan_code="3271031005" if role == "operator" else None,
                    now=clock(),
                    actor="test",
                )
        here, there, admin = (TestClient(TestServer(rt.web)) for _ in range(3))
        for cl in (here, there, admin):
            await cl.start_server()
        try:
            assert (await login(here, user="wati")).status == 302
            assert (await login(there, user="wati")).status == 302
            assert (await login(admin, user="ani")).status == 302
            page = await (await here.get("/account")).text()
            assert "Ganti kata sandi" in page and "Operator kelurahan" in page
            page = await (await here.get("/account/password")).text()
            assert "kata sandi sekali pakai" not in page
            form = {"_csrf": hidden(page), "old": PASSWORD, "new": NEW, "again": NEW}
            r = await here.post("/account/password", data={**form, "_csrf": "palsu"})
            assert r.status == 403
            r = await here.post("/account/password", data=form)
            assert r.status == 200 and "Kata sandi sudah diganti" in await r.text()
            # This browser stays signed in; the other one is signed out; other accounts not.
            assert (await here.get("/", allow_redirects=False)).status == 200
            assert (await there.get("/", allow_redirects=False)).status == 302
            assert (await admin.get("/", allow_redirects=False)).status == 200
            async with rt.db.tx(write=False) as c:
                wati = await c.scalar(
                    sa.select(staff_users.c.id).where(staff_users.c.username == "wati")
                )
                left = await c.scalar(
                    sa.select(sa.func.count())
                    .select_from(staff_sessions)
                    .where(staff_sessions.c.user_id == wati)
                )
                must = await c.scalar(
                    sa.select(staff_users.c.must_change_password).where(staff_users.c.id == wati)
                )
            assert left == 1 and must is False
        finally:
            for cl in (here, there, admin):
                await cl.close()


@pytest.mark.parametrize("user", ["ani", "x"])
def test_one_time_passwords_pass_the_rules(user):
    from services.staff import check_password_strength, one_time_password

    seen = {one_time_password(user) for _ in range(20)}
    assert len(seen) == 20
    assert all(check_password_strength(p, user) is None for p in seen)


async def test_forced_change_then_a_link_code_in_a_real_browser(tmp_path, sqlite_template):
    """Chromium (Playwright) on the in-process app: a reset account signs in with its one-time
    password, is held on "Ganti kata sandi", sets a new one, then makes a link code on Akun saya
    that links a chat."""
    import os
    import shutil

    from playwright.async_api import async_playwright

    from services.staff import reset_password
    from tests.chatkit import Chat

    chromium = os.environ.get("JARING_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        pytest.skip("no chromium")
    path = tmp_path / "browser.db"
    shutil.copy(sqlite_template, path)
    db_url = f"sqlite+aiosqlite:///{path}"
    await _add(db_url, "dewi")
    async with running(db_url) as rt:
        async with rt.db.tx() as c:
            otp = await reset_password(c, "dewi", now=rt.clock(), actor="test")
        server = TestServer(rt.web)
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        try:
            async with async_playwright() as p:
                browser = await p.chromium.launch(
                    executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
                )
                try:
                    page = await browser.new_page()
                    await page.goto(f"{base}/reports")
                    await page.fill("input[name=username]", "dewi")
                    await page.fill("input[name=password]", otp)
                    await page.click("button[type=submit]")
                    await page.wait_for_url(f"{base}/account/password")
                    assert "kata sandi sekali pakai" in await page.inner_text("main")
                    assert await page.locator("header nav").count() == 0
                    await page.goto(f"{base}/inbox")
                    assert page.url == f"{base}/account/password"
                    await page.fill("input[name=old]", otp)
                    await page.fill("input[name=new]", NEW)
                    await page.fill("input[name=again]", NEW)
                    await page.click("text=Simpan kata sandi")
                    await page.wait_for_selector("text=Kata sandi sudah diganti")
                    await page.click("header nav >> text=Akun saya")
                    await page.wait_for_url(f"{base}/account")
                    await page.click("text=Buat kode tautan")
                    code = (await page.inner_text("#link-code")).strip()
                    chat = Chat(rt, "dewi-tg")
                    await chat.onboard()
                    [done] = await chat.send(code.lower())
                    assert "tertaut ke akun petugas Dewi" in done["text"]
                    await page.goto(f"{base}/account")
                    assert "Lepas tautan" in await page.inner_text("main")
                    await page.click("text=Lepas tautan")
                    await page.wait_for_selector("text=Tautan dilepas")
                finally:
                    await browser.close()
        finally:
            await server.close()
