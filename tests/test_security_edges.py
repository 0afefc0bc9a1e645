"""Hardened edges (issue #13): exports never carry a live formula; the dashboard normalises
usernames before the login lock, follows only same-site `next` paths, reads X-Forwarded-For
only from trusted proxies, sends security headers and a Secure cookie behind https; and
`bot.py run` refuses a live channel with the development hash key or placeholder contacts."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from cli.run import launch_refusal
from config import DEV_HASH_KEY, load_settings
from db.schema import audit_log
from services import reports as ops
from services.exports import EXPORT_COLUMNS, export_rows, safe_cell, write_csv, write_xlsx
from tests.chatkit import Chat, running
from tests.test_reports import all_reports, run_cli
from tests.test_web_auth import PASSWORD, dashboard, hidden, login
from web import auth as web_auth
from web.app import SECURITY_HEADERS
from web.auth import safe_next
from web.proxies import TrustedProxies

ROOT = Path(__file__).resolve().parent.parent
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HYPERLINK = '=HYPERLINK("http://x","y")'

# --------------------------------------------------------------------------- exports


def _cells_start_with_formula(rows: list[list[str]]) -> list[tuple[str, str]]:
    header, *body = rows
    return [
        (col, value)
        for row in body
        for col, value in zip(header, row, strict=True)
        if value.startswith(FORMULA_START)
    ]


def _xlsx_formulas(data: bytes) -> list:
    ws = load_workbook(io.BytesIO(data)).active
    return [c.coordinate for row in ws.iter_rows() for c in row if c.data_type == "f"]


async def test_a_residents_formula_reaches_the_export_as_text(db_url, tmp_path):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("m:report")
        await chat.tap("r:usul")
        await chat.tap("r:other")
        await chat.send(HYPERLINK)  # the name
        await chat.send("+1 Jl. Cemara")  # the address
        await chat.send("rt 2 rw 5")
        await chat.send("Mulyaharja")
        await chat.send("3271011505900009")
        await chat.send("3271011505200001")
        await chat.tap("r:why:other")
        await chat.send("-2 suaminya meninggal")  # the reason in their words
        await chat.send("@SUM(1) anaknya tiga")  # the story
        await chat.tap("r:skip")  # no photo
        await chat._event("location", {"lat": -6.62, "lon": 106.8})
        await chat.tap("r:send")
        [row] = await all_reports(rt)
        assert row.target_name == HYPERLINK  # stored as typed: only the export guards
        for to in ("VERIFIKASI_DINSOS", "DITERUSKAN"):
            async with rt.db.tx() as c:
                await ops.move(c, await ops.by_code(c, row.code), to, now=rt.clock(), actor="s:t")
        out_csv, out_x = tmp_path / "u.csv", tmp_path / "u.xlsx"
        assert await run_cli(rt, "reports", "export", "--out", str(out_csv)) == 0
        assert await run_cli(rt, "reports", "export", "--format", "xlsx", "--out", str(out_x)) == 0
        async with rt.db.tx(write=False) as c:
            [exported] = await export_rows(c, rt.region)
    rows = list(csv.reader(out_csv.open(encoding="utf-8", newline="")))
    # Only the coordinate Jaring wrote from a number starts with "-": a plain number.
    assert _cells_start_with_formula(rows) == [("LINTANG", "-6.620000")]
    got = dict(zip(rows[0], rows[1], strict=True))
    assert got["NAMA"] == "'" + HYPERLINK and got["ALAMAT"] == "'+1 Jl. Cemara"
    assert got["KETERANGAN"] == exported["KETERANGAN"]  # starts with its label: untouched
    assert _xlsx_formulas(out_x.read_bytes()) == []
    ws = load_workbook(out_x).active
    cells = dict(zip([c.value for c in ws[1]], ws[2], strict=True))
    assert cells["NAMA"].value == "'" + HYPERLINK and cells["NAMA"].data_type == "s"
    assert cells["LINTANG"].value == "-6.620000"


PAYLOADS = [
    HYPERLINK,
    "+1",
    "-2",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "=cmd|' /C calc'!A0",
    "\uff1d1+1",  # full-width equals
    "-6.5",  # a number typed by a resident is text too (only NO, LINTANG, BUJUR are numbers)
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_text_column_is_neutralised(payload):
    row = {c: payload for c in EXPORT_COLUMNS} | {"NO": 1, "LINTANG": "-6.5", "BUJUR": "106.8"}
    buf = io.StringIO(newline="")
    write_csv([row], buf)
    rows = list(csv.reader(io.StringIO(buf.getvalue(), newline="")))
    assert _cells_start_with_formula(rows) == [("LINTANG", "-6.5")]
    got = dict(zip(rows[0], rows[1], strict=True))
    assert all(
        got[c] == "'" + payload for c in EXPORT_COLUMNS if c not in ("NO", "LINTANG", "BUJUR")
    )
    xlsx = io.BytesIO()
    write_xlsx([row], xlsx)
    assert _xlsx_formulas(xlsx.getvalue()) == []
    ws = load_workbook(io.BytesIO(xlsx.getvalue())).active
    values = dict(zip([c.value for c in ws[1]], [c.value for c in ws[2]], strict=True))
    # (XML stores a CR as a line feed)
    assert values["NAMA"] == "'" + payload.replace("\r", "\n") and values["NO"] == 1


def test_number_columns_keep_numbers_but_not_formulas():
    assert safe_cell("LINTANG", "-6.620000") == "-6.620000"
    assert safe_cell("NO", 7) == 7
    assert safe_cell("LINTANG", "-1+1") == "'-1+1"
    assert safe_cell("BUJUR", "=1") == "'=1"
    assert safe_cell("NAMA", "Asep") == "Asep" and safe_cell("NAMA", None) == ""
    assert safe_cell("NIK", "3271011505900009") == "3271011505900009"


# --------------------------------------------------------------------------- next


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\t/evil.example",  # what /login?next=%2F%09%2Fevil.example decodes to
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/ /evil.example",
        "/\\evil.example",
        "\\/evil.example",
        "/%09/evil.example",
        "/%2F/evil.example",
        "/%2f%2fevil.example",
        "/%5Cevil.example",
        "/%0d%0aSet-Cookie:x=1",
        "http://evil.example/",
        "https:evil.example",
        "javascript:alert(1)",
        "evil.example",
        "\uff0f/evil.example",  # full-width solidus
        "/\u3000/evil.example",
        "/\u200b/evil.example",
        "/x" * 2000,
        "",
        None,
    ],
)
def test_next_refuses_anything_but_a_same_site_path(target):
    assert safe_next(target) == "/"


@pytest.mark.parametrize(
    "target", ["/", "/reports", "/reports?state=BARU&q=a%20b", "/audit?action=login", "/t/12#x"]
)
def test_next_keeps_same_site_paths(target):
    assert safe_next(target) == target


async def test_login_with_a_tab_smuggled_next_lands_home(db_url):
    async with dashboard(db_url) as (_, client, _c):
        page = await client.get("/login?next=%2F%09%2Fevil.example")
        html = await page.text()
        assert hidden(html, "next") == "/"
        r = await client.post(
            "/login",
            data={
                "username": "ani",
                "password": PASSWORD,
                "_csrf": hidden(html),
                "next": "/\t/evil.example",  # posted by hand, past the form
            },
            allow_redirects=False,
        )
        assert r.status == 302 and r.headers["Location"] == "/"


async def test_a_page_asked_before_login_is_reached_after_it(db_url):
    async with dashboard(db_url) as (_, client, _c):
        r = await client.get("/audit?action=log%20in", allow_redirects=False)
        assert r.status == 302
        page = await client.get(r.headers["Location"])
        nxt = hidden(await page.text(), "next")
        assert nxt == "/audit?action=log%20in"
        r = await login(client, next_=nxt)
        assert r.status == 302 and r.headers["Location"] == "/audit?action=log%20in"


# --------------------------------------------------------------------------- usernames


async def test_a_spelling_of_a_locked_username_is_locked_too(db_url):
    async with dashboard(db_url) as (_, client, _c):
        for spelling in (" ani", "ANI", "ani ", "\uff41\uff4e\uff49", "\tAni"):  # ａｎｉ: NFKC
            assert (await login(client, user=spelling, password="bukan-ini-ya-123")).status == 401
        for spelling in ("ani", " ani", "Ani\u3000"):
            r = await login(client, user=spelling)
            assert r.status == 429 and "Terlalu banyak percobaan" in await r.text(), spelling


async def test_a_spelling_of_a_username_signs_in(db_url):
    async with dashboard(db_url) as (_, client, _c):
        r = await login(client, user="  \uff21ni ")
        assert r.status == 302


# --------------------------------------------------------------------------- proxies


def test_forwarded_for_is_read_only_from_trusted_proxies():
    from config import parse_networks

    none = TrustedProxies()
    assert none.client("10.0.0.5", ["203.0.113.9"]) == "10.0.0.5"
    p = TrustedProxies(parse_networks("10.0.0.0/8, 127.0.0.1, ::1"))
    assert p.client("198.51.100.7", ["203.0.113.9"]) == "198.51.100.7"  # peer not a proxy
    assert p.client("10.0.0.5", ["203.0.113.9"]) == "203.0.113.9"
    # What a client writes itself stands left of what the proxy appended.
    assert p.client("10.0.0.5", ["1.1.1.1, 203.0.113.9"]) == "203.0.113.9"
    assert p.client("10.0.0.5", ["1.1.1.1", "203.0.113.9, 10.0.0.7"]) == "203.0.113.9"
    assert p.client("::1", ["[2001:db8::1]:4711"]) == "2001:db8::1"
    assert p.client("10.0.0.5", ["203.0.113.9:5555"]) == "203.0.113.9"
    assert p.client("10.0.0.5", ["nonsense"]) == "10.0.0.5"
    assert p.client("10.0.0.5", ["1.1.1.1, nonsense, 10.0.0.9"]) == "10.0.0.9"
    assert p.client("10.0.0.5", []) == "10.0.0.5"
    assert p.client(None, ["203.0.113.9"]) == "unknown"
    with pytest.raises(ValueError, match="JARING_TRUSTED_PROXIES"):
        parse_networks("10.0.0.1, proxy.local")
    with pytest.raises(ValueError, match="JARING_TRUSTED_PROXIES"):
        load_settings(jaring_trusted_proxies="10.0.0.999")


async def _fail(client, user: str, xff: str | None):
    page = await client.get("/login")
    headers = {"X-Forwarded-For": xff} if xff else {}
    return await client.post(
        "/login",
        data={"username": user, "password": "salah-sekali-123", "_csrf": hidden(await page.text())},
        headers=headers,
        allow_redirects=False,
    )


async def _right(client, xff: str | None):
    page = await client.get("/login")
    headers = {"X-Forwarded-For": xff} if xff else {}
    return await client.post(
        "/login",
        data={"username": "budi", "password": PASSWORD, "_csrf": hidden(await page.text())},
        headers=headers,
        allow_redirects=False,
    )


async def test_behind_a_trusted_proxy_one_client_cannot_lock_out_everyone(db_url, monkeypatch):
    monkeypatch.setattr(web_auth, "MAX_FAILS_CLIENT", 3)
    async with dashboard(db_url, jaring_trusted_proxies="127.0.0.1, ::1") as (rt, client, _c):
        for i in range(3):  # other usernames each time: only the client lock counts
            assert (await _fail(client, f"x{i}", "203.0.113.5")).status == 401
        assert (await _right(client, "203.0.113.5")).status == 429
        r = await _right(client, "198.51.100.1, 203.0.113.6")  # another client: the proxy's
        assert r.status == 302
        async with rt.db.tx(write=False) as c:
            rows = (await c.execute(sa.select(audit_log).order_by(audit_log.c.id))).all()
        logins = [(r.action, (r.detail or {}).get("client")) for r in rows if "login" in r.action]
        assert logins[-4:] == [
            ("login.failed", "203.0.113.5"),
            ("login.failed", "203.0.113.5"),
            ("login.failed", "203.0.113.5"),
            ("login", "203.0.113.6"),
        ]


async def test_without_trusted_proxies_forwarded_for_is_ignored(db_url, monkeypatch):
    monkeypatch.setattr(web_auth, "MAX_FAILS_CLIENT", 3)
    async with dashboard(db_url) as (_, client, _c):
        for i in range(3):  # a new made-up address each time does not help
            assert (await _fail(client, f"x{i}", f"203.0.113.{i}")).status == 401
        assert (await _right(client, "198.51.100.1")).status == 429


# --------------------------------------------------------------------------- headers, cookie


def _has_security_headers(r) -> bool:
    return all(r.headers.get(k) == v for k, v in SECURITY_HEADERS.items())


async def test_every_dashboard_response_has_the_security_headers(db_url):
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    async with dashboard(db_url) as (_, client, _c):
        for path in ("/login", "/", "/static/jaring.css", "/favicon.ico", "/healthz"):
            r = await client.get(path, allow_redirects=False)
            assert _has_security_headers(r), (path, dict(r.headers))
        r = await login(client)
        assert r.status == 302 and _has_security_headers(r)
        for path in ("/", "/reports", "/audit", "/nope", "/simulator"):
            r = await client.get(path, allow_redirects=False)
            assert r.status in (200, 404) and _has_security_headers(r), path


def test_templates_need_no_inline_script_or_style():
    """The CSP allows no inline code: a template that adds some would be broken by it."""
    import re

    for path in (ROOT / "web" / "templates").glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text, re.I), path.name
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=|javascript:", text, re.I), path.name


@pytest.mark.parametrize(
    ("public_url", "secure"),
    [("https://jaring.dinsos.example.go.id", True), ("http://10.0.0.2:8080", False), (None, False)],
)
async def test_the_cookie_is_secure_behind_https(db_url, public_url, secure):
    async with dashboard(db_url, jaring_public_url=public_url) as (_, client, _c):
        page = await client.get("/login")
        assert ("Secure" in page.headers["Set-Cookie"]) is secure
        token = hidden(await page.text())
        # (A browser sends a Secure cookie back over https only; this test speaks http.)
        r = await client.post(
            "/login",
            data={"username": "ani", "password": PASSWORD, "_csrf": token},
            headers={"Cookie": f"jaring_login_csrf={token}"},
            allow_redirects=False,
        )
        assert r.status == 302
        [cookie] = [v for v in r.headers.getall("Set-Cookie") if "jaring_staff=" in v]
        assert ("Secure" in cookie) is secure and "HttpOnly" in cookie


# --------------------------------------------------------------------------- start-up


def _settings(tmp_path, **kw):
    base = dict(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db",
        telegram_bot_token=None,
        whatsapp_token=None,
        whatsapp_phone_number_id=None,
        whatsapp_app_secret=None,
        whatsapp_verify_token=None,
        jaring_hash_key=DEV_HASH_KEY,
        jaring_allow_dev_defaults=False,
    )
    return load_settings(**(base | kw))


def _real_programs(tmp_path) -> Path:
    text = (ROOT / "data" / "programs.toml").read_text(encoding="utf-8")
    text = (
        text.replace(
            "Alamat kantor Dinas Sosial Kota Bogor (ganti sebelum tayang)", "Jl. Pahlawan 1"
        )
        .replace("(0251) 0000000 (ganti sebelum tayang)", "(0251) 8312345")
        .replace("0811-0000-0000 (ganti sebelum tayang)", "0811-1111-2222")
        .replace("ganti-sebelum-tayang@kotabogor.go.id", "dinsos@kotabogor.go.id")
    )
    path = tmp_path / "programs.toml"
    path.write_text(text, encoding="utf-8")
    return path


WA = dict(
    whatsapp_token="t",
    whatsapp_phone_number_id="1",
    whatsapp_app_secret="s",
    whatsapp_verify_token="v",
)
GOOD_KEY = "k3y-0f-the-c1ty-" + "x" * 20


def test_start_up_refuses_live_channels_with_dev_defaults(tmp_path):
    # The terminal demo: no channel, the development key and placeholders are fine.
    assert launch_refusal(_settings(tmp_path)) is None
    why = launch_refusal(_settings(tmp_path, telegram_bot_token="123:abc"))
    assert why is not None and why.startswith("Jaring will not start: Telegram is configured")
    assert "JARING_HASH_KEY" in why and "service.office_phone" in why
    assert "service.office_email" in why and DEV_HASH_KEY not in why
    why = launch_refusal(_settings(tmp_path, jaring_hash_key=GOOD_KEY, **WA))
    assert why is not None and "WhatsApp is configured" in why
    assert "JARING_HASH_KEY" not in why and "service.office_address" in why
    programs = _real_programs(tmp_path)
    why = launch_refusal(
        _settings(tmp_path, jaring_programs=programs, telegram_bot_token="1:a", **WA)
    )
    assert why is not None and "Telegram and WhatsApp are configured" in why
    assert "JARING_HASH_KEY" in why and "placeholder" not in why
    why = launch_refusal(
        _settings(tmp_path, jaring_programs=programs, jaring_hash_key="short", **WA)
    )
    assert why is not None and "shorter than 16" in why
    ok = _settings(tmp_path, jaring_programs=programs, jaring_hash_key=GOOD_KEY, **WA)
    assert launch_refusal(ok) is None
    # Tests against fake servers only.
    assert (
        launch_refusal(
            _settings(tmp_path, telegram_bot_token="1:a", jaring_allow_dev_defaults=True)
        )
        is None
    )


def _env(tmp_path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "WHATSAPP_", "JARING_", "DATABASE_URL", "WEB_"))
    }
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db", WEB_PORT="9", **extra)
    return env


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "extra",
    [
        {"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_API_URL": "http://127.0.0.1:9"},
        {
            "WHATSAPP_TOKEN": "t",
            "WHATSAPP_PHONE_NUMBER_ID": "1",
            "WHATSAPP_APP_SECRET": "s",
            "WHATSAPP_VERIFY_TOKEN": "v",
            "WHATSAPP_API_URL": "http://127.0.0.1:9/",
        },
    ],
)
def test_bot_run_refuses_in_plain_words(tmp_path, extra):
    res = subprocess.run(
        [sys.executable, "bot.py", "run"],
        cwd=ROOT,
        env=_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2, res.stderr
    assert "Jaring will not start" in res.stderr and "set JARING_HASH_KEY" in res.stderr
    assert "service.office_phone" in res.stderr and "Traceback" not in res.stderr
