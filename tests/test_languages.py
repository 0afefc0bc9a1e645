"""Sundanese and Javanese: chosen at onboarding and with /bahasa, offered when the first message
is written in them, formatted as Indonesian where it matters (numbers, rupiah, times)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from config import Settings
from core.i18n import LOCALES, guess_locale, normalize_locale, texts
from tests.chatkit import KK_1, NIK_1, Chat, running

MENU_LABELS = {
    "su": ["Cék status bansos", "Laporkeun data", "Laporan abdi"],
    "jv": ["Cek status bansos", "Laporke data", "Laporan kula"],
}
MENU_TEXT = {
    "su": "Naon anu hoyong dilakukeun ku Anjeun?",
    "jv": "Panjenengan kersa nindakake apa?",
}


def test_regional_locales_are_known():
    assert {"su", "jv"} <= set(LOCALES)
    assert normalize_locale("su") == "su" and normalize_locale("jv-ID") == "jv"
    assert Settings(_env_file=None, jaring_default_locale="su").jaring_default_locale == "su"
    assert Settings(_env_file=None, jaring_default_locale="jv").jaring_default_locale == "jv"
    with pytest.raises(ValueError):
        Settings(_env_file=None, jaring_default_locale="fr")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("punten, abdi hoyong cek bansos", "su"),
        ("Sampurasun", "su"),
        ("hatur nuhun", "su"),
        ("kumaha carana daptar?", "su"),
        ("teu ngartos", "su"),
        ("nuwun sewu, kulo badhe tanglet", "jv"),
        ("matur nuwun", "jv"),
        ("piye carane?", "jv"),
        ("sugeng enjing", "jv"),
        ("mboten ngertos", "jv"),
        ("halo", None),
        ("mau cek bansos", None),
        ("/start", None),
        ("Hello, I want to check my aid", None),
        ("", None),
    ],
)
def test_guess_locale(text, want):
    assert guess_locale(text) == want


@pytest.mark.parametrize("locale", ["su", "jv"])
def test_numbers_times_and_rupiah_stay_indonesian(locale):
    t = texts(locale)
    assert t.rupiah(300000) == "Rp300.000"
    assert t.number(1234567) == "1.234.567"
    assert t.time(datetime(2026, 11, 1, 9, 5, tzinfo=UTC)) == "16.05"
    assert "2026" in t.date(date(2026, 11, 1))
    assert texts("su").date(date(2026, 11, 1)) == "1 Nopémber 2026"


@pytest.mark.parametrize("locale", ["su", "jv"])
async def test_choose_regional_language_at_onboarding(db_url, locale):
    async with running(db_url) as rt:
        chat = Chat(rt)
        [notice] = await chat.send("/start")
        assert chat.choices == ["c:agree", "c:decline", "g:language"]  # as before
        await chat.tap("c:agree")
        assert chat.choices == ["l:id", "l:su", "l:jv", "l:en"]
        assert chat.labels == ["Bahasa Indonesia", "Basa Sunda", "Basa Jawa", "English"]
        [menu] = await chat.tap(f"l:{locale}")
        assert MENU_TEXT[locale] in menu["text"]
        assert chat.labels[:3] == MENU_LABELS[locale]
        # The check answers in that language, with Indonesian terms and numbers.
        await chat.tap("m:check")
        await chat.send(NIK_1)
        await chat.tap("k:yes")
        [result] = await chat.send(KK_1)
        assert "Desil 2" in result["text"]
        assert ("Anjeun" if locale == "su" else "panjenengan") in result["text"]
        # /bahasa moves to another language later.
        other = "jv" if locale == "su" else "su"
        await chat.send("/bahasa")
        await chat.tap(f"l:{other}")
        assert MENU_TEXT[other] in chat.text


async def test_typed_language_name_at_the_language_step(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.send("/start")
        await chat.tap("c:agree")
        await chat.send("basa jawa")
        assert MENU_TEXT["jv"] in chat.text


@pytest.mark.parametrize(
    ("first", "locale", "line", "agree"),
    [
        ("punten, abdi hoyong cek bansos", "su", "mangga pencét Basa Sunda", "Satuju"),
        ("nuwun sewu, kulo badhe tanglet", "jv", "mangga pencet Basa Jawa", "Setuju"),
    ],
)
async def test_first_message_in_a_regional_language_offers_it(db_url, first, locale, line, agree):
    async with running(db_url) as rt:
        chat = Chat(rt)
        [notice] = await chat.send(first)
        # The notice (still Indonesian) says, in their language, that it can be used.
        assert line in notice["text"] and "Layanan ini GRATIS" in notice["text"]
        assert notice["text"].index(line) < notice["text"].index("GRATIS")
        assert chat.choices == ["c:agree", "c:decline", f"l:{locale}"]
        # Tapping it shows the notice in that language.
        [again] = await chat.tap(f"l:{locale}")
        assert "GRATIS" in again["text"] and "Layanan ini GRATIS" not in again["text"]
        assert chat.choices == ["c:agree", "c:decline", "g:language"]
        assert chat.labels[0] == agree
        # The language step then puts it first; choosing it gives the menu in it.
        await chat.tap("c:agree")
        assert chat.choices[0] == f"l:{locale}" and len(chat.choices) == 4
        await chat.tap(f"l:{locale}")
        assert MENU_TEXT[locale] in chat.text


async def test_agreeing_without_tapping_still_puts_their_language_first(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.send("matur nuwun")
        await chat.tap("c:agree")  # agreed to the Indonesian notice
        assert chat.choices == ["l:jv", "l:id", "l:su", "l:en"]
        await chat.tap("l:id")  # and Indonesian is still theirs to choose
        assert "Menu utama" in chat.text


async def test_indonesian_first_message_changes_nothing(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        [notice] = await chat.send("mau cek bansos")
        assert "Basa Sunda" not in notice["text"] and "Basa Jawa" not in notice["text"]
        assert chat.choices == ["c:agree", "c:decline", "g:language"]
        await chat.tap("c:agree")
        assert chat.choices == ["l:id", "l:su", "l:jv", "l:en"]


async def test_sundanese_reply_to_the_notice_offers_sundanese(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.send("/start")
        assert chat.choices == ["c:agree", "c:decline", "g:language"]
        [notice] = await chat.send("punten, abdi teu ngartos")
        assert "mangga pencét Basa Sunda" in notice["text"]
        assert chat.choices == ["c:agree", "c:decline", "l:su"]
        await chat.send("muhun")  # agreeing in Sundanese
        assert chat.choices[0] == "l:su"
        await chat.send("basa sunda")
        assert MENU_TEXT["su"] in chat.text


async def test_javanese_words_at_the_notice(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.send("/start")
        [declined] = await chat.send("mboten")
        assert "kelurahan" in declined["text"]
        await chat.send("sugeng siang")
        assert chat.choices == ["c:agree", "c:decline", "l:jv"]
        await chat.send("nggih")
        assert chat.choices[0] == "l:jv"


async def test_staff_see_the_residents_language_on_the_ticket(db_url):
    from aiohttp.test_utils import TestClient, TestServer

    from tests.test_web_auth import PASSWORD, login
    from web.auth import add_staff

    async with running(db_url) as rt:
        async with rt.db.tx() as c:
            await add_staff(
                c,
                username="ani",
                name="Ani",
                role="verifikator",
                password=PASSWORD,
                kelurahan_code=None,
                now=datetime(2026, 11, 23, 3, 0, tzinfo=UTC),
                actor="test",
            )
        chat = Chat(rt)
        await chat.onboard("su")
        await chat.tap("g:contact")
        assert "Tumaros ka patugas" in chat.text
        await chat.send("Punten, kumaha carana daptar PKH?")
        client = TestClient(TestServer(rt.web))
        await client.start_server()
        try:
            assert (await login(client)).status == 302
            page = await (await client.get("/inbox/1")).text()
            assert "Basa Sunda" in page
        finally:
            await client.close()
