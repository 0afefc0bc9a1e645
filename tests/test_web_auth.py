"""Dashboard safety: every route behind login (a walk over the route table), argon2 logins,
CSRF on every form, login throttling, roles, session expiry, and the `staff` CLI."""

from __future__ import annotations

import io
import re
from contextlib import asynccontextmanager

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from db.schema import audit_log, staff_sessions
from services.staff import add_staff
from tests.chatkit import Clock, running
from web.auth import PUBLIC

PASSWORD = "kopi-tubruk-2026"
WA = dict(
    whatsapp_token="t",
    whatsapp_phone_number_id="1",
    whatsapp_app_secret="s",
    whatsapp_verify_token="v",
    whatsapp_api_url="http://127.0.0.1:9/",
)


@asynccontextmanager
async def dashboard(db_url, clock=None, **kw):
    clock = clock or Clock()
    async with running(db_url, clock=clock, csv=None, **kw) as rt:
        async with rt.db.tx() as c:
            for user, role, kel in (
                ("ani", "admin", None),
                ("budi", "verifikator", None),
                ("citra", "operator", "3271031005"),
            ):
                await add_staff(
                    c,
                    username=user,
                    name=user.title(),
                    role=role,
                    password=PASSWORD,
                    kelurahan_code=kel,
                    now=clock(),
                    actor="test",
                )
        client = TestClient(TestServer(rt.web))
        await client.start_server()
        try:
            yield rt, client, clock
        finally:
            await client.close()


def hidden(html: str, name: str = "_csrf") -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert m, html[:500]
    return m.group(1)


async def login(client, user="ani", password=PASSWORD, next_="/"):
    page = await client.get(f"/login?next={next_}")
    token = hidden(await page.text())
    return await client.post(
        "/login",
        data={"username": user, "password": password, "_csrf": token, "next": next_},
        allow_redirects=False,
    )


async def test_every_route_needs_a_login_except_the_public_few(db_url):
    async with dashboard(db_url, **WA) as (rt, client, _):
        assert rt.web[PUBLIC] == {
            "/healthz",
            "/readyz",
            "/metrics",
            "/login",
            "/favicon.ico",
            "/wa/webhook",
        }
        checked = 0
        for route in rt.web.router.routes():
            info = route.resource.get_info() if route.resource else {}
            path = info.get("path") or info.get("formatter") or info.get("prefix")
            if path is None or path in rt.web[PUBLIC] or path.startswith("/static"):
                continue
            url = re.sub(r"\{[^}]+\}", "1", path)
            if route.method in ("GET", "HEAD"):
                r = await client.get(url, allow_redirects=False)
                assert r.status == 302 and r.headers["Location"].startswith("/login"), (
                    url,
                    r.status,
                )
            else:
                r = await client.request(route.method, url, data={"x": "1"}, allow_redirects=False)
                assert r.status == 403, (route.method, url, r.status)
            checked += 1
        assert checked >= 3  # /, /audit, /logout at least
        assert (await client.get("/static/jaring.css")).status == 200


async def test_login_wrong_then_right_then_logout_with_csrf(db_url):
    async with dashboard(db_url) as (rt, client, _):
        r = await login(client, password="salah-sekali-123")
        assert r.status == 401 and "Nama pengguna atau kata sandi salah" in await r.text()
        r = await login(client, user="tidakada", password=PASSWORD)
        assert r.status == 401
        r = await login(client, next_="/audit")
        assert r.status == 302 and r.headers["Location"] == "/audit"
        home = await client.get("/")
        html = await home.text()
        assert home.status == 200 and "Ringkasan layanan" in html and "Ani" in html
        assert "cdn" not in html.lower() and "http://" not in html and "https://" not in html
        # A form posted without its token is refused, and nothing happens.
        r = await client.post("/logout", data={}, allow_redirects=False)
        assert r.status == 403 and "kedaluwarsa" in await r.text()
        r = await client.post("/logout", data={"_csrf": "palsu"}, allow_redirects=False)
        assert r.status == 403
        assert (await client.get("/", allow_redirects=False)).status == 200
        r = await client.post("/logout", data={"_csrf": hidden(html)}, allow_redirects=False)
        assert r.status == 302
        assert (await client.get("/", allow_redirects=False)).status == 302
        async with rt.db.tx(write=False) as c:
            actions = [
                r.action for r in await c.execute(sa.select(audit_log).order_by(audit_log.c.id))
            ]
            sessions = await c.scalar(sa.select(sa.func.count()).select_from(staff_sessions))
        assert actions[-4:] == ["login.failed", "login.failed", "login", "logout"]
        assert sessions == 0


async def test_login_form_needs_its_own_token_and_next_stays_on_site(db_url):
    async with dashboard(db_url) as (_, client, _c):
        r = await client.post(
            "/login", data={"username": "ani", "password": PASSWORD}, allow_redirects=False
        )
        assert r.status == 403
        r = await login(client, next_="//evil.example/x")
        assert r.status == 302 and r.headers["Location"] == "/"


async def test_throttling_after_five_failures_even_with_the_right_password(db_url):
    async with dashboard(db_url) as (_, client, clock):
        for _ in range(5):
            assert (await login(client, password="bukan-ini-ya-123")).status == 401
        r = await login(client)
        assert r.status == 429 and "Terlalu banyak percobaan" in await r.text()
        clock.advance(minutes=16)
        assert (await login(client)).status == 302


async def test_roles_session_expiry_and_disabled_accounts(db_url):
    async with dashboard(db_url) as (rt, client, clock):
        await login(client, user="budi")
        r = await client.get("/audit", allow_redirects=False)
        assert r.status == 403 and "tidak untuk peran Anda" in await r.text()
        clock.advance(minutes=61)  # idle too long
        r = await client.get("/", allow_redirects=False)
        assert r.status == 302
        await login(client, user="ani")
        r = await client.get("/audit?action=login")
        html = await r.text()
        assert r.status == 200 and "staff:budi" in html and "staff:ani" in html
        from services.staff import set_active

        async with rt.db.tx() as c:
            await set_active(c, "ani", False, now=clock(), actor="test")
        assert (await client.get("/", allow_redirects=False)).status == 302
        assert (await login(client, user="ani")).status == 401


async def test_unknown_page_is_a_polite_page_not_a_trace(db_url):
    async with dashboard(db_url) as (_, client, _c):
        await login(client)
        r = await client.get("/tidak-ada")
        assert r.status == 404 and "Halaman tidak ditemukan" in await r.text()


def test_staff_cli(tmp_path, monkeypatch, capsys):
    import bot

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert bot.main(["migrate"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert (
        bot.main(
            [
                "staff",
                "add",
                "Dewi",
                "--name",
                "Dewi S",
                "--role",
                "operator",
                "--kelurahan",
                "Babakan",
                "--password-stdin",
            ]
        )
        == 0
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("pendek\n"))
    assert (
        bot.main(["staff", "add", "eko", "--name", "Eko", "--role", "admin", "--password-stdin"])
        == 1
    )
    assert "minimal 10 karakter" in capsys.readouterr().err
    assert bot.main(["staff", "disable", "dewi"]) == 0
    capsys.readouterr()
    assert bot.main(["staff", "list"]) == 0
    out = capsys.readouterr().out
    assert "dewi" in out and "operator" in out and "3271031005" in out and "nonaktif" in out
    assert PASSWORD not in out


@pytest.mark.parametrize(
    "pw,ok",
    [
        ("kopi-tubruk-2026", True),
        ("pendek", False),
        ("aaaaaaaaaaaa", False),
        ("ani-rahasia-99", False),
    ],
)
def test_password_strength(pw, ok):
    from services.staff import check_password_strength

    assert (check_password_strength(pw, "ani") is None) is ok
