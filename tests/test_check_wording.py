"""The status answer in parts (a short first message, the rest behind two buttons), the softer
desil wording, a check lock told before the NIK, and wording residents stumbled on (#12)."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from tests.chatkit import KK_1, NIK_1, Chat, Clock, running
from tools import i18n

FIRST_MAX = 450  # characters: the first message of the status answer fits one phone screen
# The households of tests/data/dtsen_small.csv: (NIK, No. KK). The first receives the most
# programmes and has children; the second is desil 1 with an elder with a disability.
HOUSEHOLDS = [
    (NIK_1, KK_1),
    ("3271011402600004", "3271011008090007"),
    ("3271067112900001", "3271060203200002"),
]
WRONG_KK = "3271011505200001"


async def checked(chat: Chat, nik=NIK_1, kk=KK_1):
    await chat.tap("m:check")
    await chat.send(nik)
    await chat.tap("k:yes")
    return await chat.send(kk)


@pytest.mark.parametrize("locale", ["id", "en"])
async def test_first_status_message_is_short_and_the_buttons_give_the_rest(db_url, locale):
    async with running(db_url) as rt:
        chat = Chat(rt, locale_hint=locale)
        await chat.onboard(locale)
        lengths = []
        for nik, kk in HOUSEHOLDS:
            [first] = await checked(chat, nik, kk)
            lengths.append(len(first["text"]))
            assert len(first["text"]) <= FIRST_MAX, (len(first["text"]), first["text"])
            assert chat.choices == ["k:programs", "k:official", "g:menu"]
        assert max(lengths) > 250  # the richest household says something real
        # the richest household (most programmes received) last, to follow its buttons
        [first] = await checked(chat)
        text = first["text"]
        assert "021-171" not in text and "Cek Bansos" not in text  # official lines wait
        assert "KUBE" not in text  # programmes to join wait too
        assert "PKH, BPNT / Sembako, PBI-JK (BPJS), KIP" in text  # received, on one line
        [programs] = await chat.tap("k:programs")
        [official] = await chat.tap("k:official")
        if locale == "id":
            assert "Desil 2 dari 10: kelompok sangat membutuhkan bantuan." in text
            assert "Keluarga Anda: Kelurahan Tegal Gundil, RW 007 RT 003." in text
            assert chat.labels == ["Laporkan data", "Program bisa diikuti", "Menu utama"]
            assert "Program yang mungkin bisa Anda ikuti:" in programs["text"]
            assert "KUBE: untuk desil 1–4; Anda termasuk; kepala keluarga" in programs["text"]
            assert "masuk batas" not in programs["text"]
            assert "Pastikan data Anda secara resmi di:" in official["text"]
        else:
            assert "Desil 2 of 10: a group in great need of aid." in text
            assert "KUBE: for desil 1–4; you are included; head of family" in programs["text"]
            assert "Confirm your data officially at:" in official["text"]
            assert "Your kelurahan office (SIKS-NG operator)" in official["text"]  # _en lines
        assert "021-171" in official["text"] and "Cek Bansos" in official["text"]
        assert "SIKS-NG" in official["text"]
        # the buttons keep working, in any order, and the rest goes on as at the menu
        [again] = await chat.tap("k:programs")
        assert again["text"] == programs["text"]
        [report] = await chat.tap("m:report")  # "Report data" under the official lines
        assert [c for c in chat.choices if c.startswith("r:")], report


async def test_status_buttons_work_after_a_pause_and_typing_works_as_at_the_menu(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await checked(chat)
        clock.advance(hours=2)  # the answer was read later: no "starting again" reset
        [official] = await chat.tap("k:official")
        assert "021-171" in official["text"] and "30 menit" not in official["text"]
        await chat.send(NIK_1)  # a NIK typed here starts a check, as at the menu
        assert chat.choices == ["k:yes", "k:edit"]
        await chat.send("menu")
        assert chat.choices[0] == "m:check"
        stale = await chat.tap("k:programs")  # the button of an older message
        assert "tidak berlaku" in stale[0]["text"] and chat.choices[0] == "m:check"


async def test_unmatched_programmes_button_is_not_active(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        replies = await chat.tap("k:programs")
        assert "tidak berlaku" in replies[0]["text"]


async def test_a_locked_nik_is_told_right_after_the_nik(db_url):
    async with running(db_url) as rt:
        for i in range(10):
            chat = Chat(rt, f"r{i}")
            await chat.onboard()
            await checked(chat, NIK_1, WRONG_KK)
        honest = Chat(rt, "honest")
        await honest.onboard()
        await honest.tap("m:check")
        [reply] = await honest.send(NIK_1)  # told now: no confirmation, no No. KK asked
        assert "dihentikan sementara" in reply["text"] and "24 November 2026" in reply["text"]
        assert "k:yes" not in honest.choices and "No. KK" not in reply["text"]
        assert honest.choices == ["g:contact", "g:menu"]
        [other] = await honest.send("3271011402600004")  # another NIK at the menu still works
        assert "k:yes" in honest.choices, other["text"]


async def test_a_locked_conversation_is_told_before_the_nik_when_a_service_needs_a_match(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        for _ in range(5):
            await checked(chat, NIK_1, WRONG_KK)
        [reply] = await chat.tap("m:kube")
        assert "dihentikan sementara" in reply["text"]
        assert "NIK" not in reply["text"]  # not "First we need to match your data ..."
        assert chat.choices == ["g:contact", "g:menu"]
        [menu] = await chat.tap("g:menu")
        assert chat.choices[0] == "m:check"
        [reply] = await chat.send(NIK_1)  # a NIK typed at the menu: told at once too
        assert "dihentikan sementara" in reply["text"] and "k:yes" not in chat.choices


async def test_language_unchanged_says_it_stays(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.send("/bahasa")
        [same] = await chat.tap("l:id")
        assert same["text"].startswith("Bahasa tetap Bahasa Indonesia.")
        assert "diganti" not in same["text"]
        await chat.send("/bahasa")
        [changed] = await chat.tap("l:en")
        assert changed["text"].startswith("Language set to English.")
        await chat.send("/language")
        [same] = await chat.tap("l:en")
        assert same["text"].startswith("The language stays English.")


async def test_cancel_says_the_form_was_discarded(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("m:check")
        await chat.send(NIK_1)
        replies = await chat.send("batal")
        assert (
            replies[0]["text"] == "Dibatalkan. Semua isian tadi tidak disimpan dan tidak dikirim."
        )


async def test_english_help_names_the_english_words(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt, locale_hint="en")
        await chat.onboard("en")
        replies = await chat.send("help")
        text = replies[0]["text"]
        assert "• cancel: stop what you are filling in" in text and "• help: this help" in text
        assert "batal" not in text and "bantuan" not in text
        chat_id = Chat(rt, "u2")
        await chat_id.onboard()
        replies = await chat_id.send("bantuan")
        assert "• batal: batalkan isian yang sedang Anda isi" in replies[0]["text"]


# Indonesian words that have no place in an English reply (names of programmes, offices and
# the terms docs/languages.md keeps in Indonesian, e.g. "ketua RT", "kelurahan", are allowed).
INDONESIAN = re.compile(
    r"\b(yang|dan|untuk|atau|tidak|anda|ini|dengan|dari|sudah|belum|kirim|ketik|batal|"
    r"bantuan|pilih|mohon|terima kasih|selesai|lanjut|kembali|usul|sanggah|koreksi|graduasi|"
    r"warga|petugas|laporan|keluarga|sangat|miskin|diganti|disimpan)\b",
    re.IGNORECASE,
)


# The language question is asked in both languages on purpose.
BILINGUAL = {"Choose a language / Pilih bahasa:"}


def test_the_english_catalog_is_english():
    with i18n.po_path("en").open("rb") as f:
        cat = read_po(f, locale="en")
    bad = []
    for m in cat:
        if not m.id or m.id in BILINGUAL:
            continue
        for s in m.string if isinstance(m.string, tuple) else (m.string,):
            # a word in brackets names the Indonesian term beside the English one; a command
            # (/petugas) is typed as it is
            if INDONESIAN.search(re.sub(r"\([^)]*\)|/\w+", "", s)):
                bad.append(s)
    assert bad == []


def test_no_bare_done_in_any_catalog():
    template = i18n.extract()
    assert not [m.id for m in template if m.id in ("Done.", "Done", "Selesai.")]
