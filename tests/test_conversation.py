"""The conversation core end to end in-process: inbox -> engine -> outbox, on SQLite and PG."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from db.schema import consent_log, inbound_events
from tests.chatkit import KK_1, NIK_1, Chat, Clock, running

MASKED_NIK_1 = "3271 05•• •••• 0002"


async def checked(chat: Chat, nik=NIK_1, kk=KK_1):
    await chat.tap("m:check")
    await chat.send(nik)
    await chat.tap("k:yes")
    return await chat.send(kk)


async def test_first_contact_notice_consent_language_menu(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        [notice] = await chat.send("/start")
        assert "GRATIS" in notice["text"] and "OTP" in notice["text"] and "PIN" in notice["text"]
        assert "versi 2026-11" in notice["text"]
        assert chat.choices == ["c:agree", "c:decline", "g:language"]
        assert chat.labels[:2] == ["Setuju", "Tidak setuju"]
        [lang] = await chat.tap("c:agree")
        assert lang["text"].startswith("Terima kasih.")
        assert chat.choices == ["l:id", "l:su", "l:jv", "l:en"]
        [menu] = await chat.tap("l:id")
        assert "Menu utama" in menu["text"]
        assert chat.labels == [
            "Cek status bansos",
            "Laporkan data",
            "Laporan saya",
            "Pelatihan kerja",
            "Kelompok KUBE",
            "Bantuan usaha UEP",
            "Saya ketua RT",
            "Hubungi petugas",
            "Privasi data",
            "Ganti bahasa",
        ]
        async with rt.db.tx(write=False) as c:
            rows = (await c.execute(sa.select(consent_log))).all()
        assert [(r.user_key, r.notice_version, r.decision) for r in rows] == [
            ("test:u1", "2026-11", "agree")
        ]


async def test_anything_before_consent_shows_the_notice_again(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.send("halo")
        assert "Apakah Anda setuju?" in chat.text
        await chat.send("menu")
        assert "Apakah Anda setuju?" in chat.text
        await chat.tap("c:decline")
        assert "menghormati" in chat.text, [(r["text"][:40], r["choices"]) for r in chat.replies]
        await chat.send("apa saja")
        assert chat.choices[0] == "c:agree"


async def test_eligibility_check_by_buttons(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        [ask] = await chat.tap("m:check")
        assert "Ketik NIK" in ask["text"] and chat.choices == ["g:cancel"]
        [confirm] = await chat.send(NIK_1)
        assert MASKED_NIK_1 in confirm["text"] and NIK_1 not in confirm["text"]
        assert chat.labels == ["Ya, benar", "Ubah NIK"]
        [ask_kk] = await chat.tap("k:yes")
        assert "No. KK" in ask_kk["text"]
        [result] = await chat.send(KK_1)
        text = result["text"]
        assert "Desil 2 dari 10: kelompok sangat membutuhkan bantuan." in text
        assert "termasuk kemiskinan ekstrem (desil 1–2)" in text
        assert "Bantuan yang tercatat Anda terima sekarang: PKH," in text
        assert "Data per 1 November 2026" in text
        assert NIK_1 not in text and KK_1 not in text
        assert chat.labels == ["Program bisa diikuti", "Cara cek resmi", "Menu utama"]
        [programs] = await chat.tap("k:programs")
        assert "Program yang mungkin bisa Anda ikuti:" in programs["text"]
        assert "KUBE: untuk desil 1–4; Anda termasuk" in programs["text"]
        [official] = await chat.tap("k:official")
        text = official["text"]
        assert "021-171" in text and "Cek Bansos" in text and "kelurahan" in text


async def test_typed_numbers_and_labels_select_choices(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.send("/start")
        await chat.send("1")  # Setuju
        await chat.send("bahasa indonesia")
        await chat.send("1")  # Cek status bansos
        assert "Ketik NIK" in chat.text
        await chat.send(NIK_1)
        await chat.send("Ya, benar")
        assert "No. KK" in chat.text


@pytest.mark.parametrize(
    "typed,expected",
    [
        ("327105120378000", "NIK harus 16 angka, Anda mengirim 15 angka"),
        ("32710512037800021", "NIK harus 16 angka, Anda mengirim 17 angka"),
        ("3271O51203780002", "NIK hanya berisi angka"),
        ("3271051213780002", "harus bulan (01–12)"),
        ("3271053203780002", "bukan tanggal yang benar"),
        ("3271053102780002", "tidak ada di kalender"),
        ("3271051203780000", "tidak boleh 0000"),
        ("9971051203780002", "bukan kode provinsi"),
    ],
)
async def test_nik_mistakes_get_a_specific_reply(db_url, typed, expected):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("m:check")
        [reply] = await chat.send(typed)
        assert expected in reply["text"]
        assert "g:cancel" in chat.choices


async def test_two_misunderstandings_offer_menu_and_person_and_keep_the_step(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("m:check")
        await chat.send("halo")
        assert "g:contact" not in chat.choices
        await chat.send("12345")
        assert "Hubungi petugas" in chat.labels and "Menu utama" in chat.labels
        assert "hubungi petugas" in chat.text.lower()
        await chat.send("3271-0512-0378-0002")  # still at the NIK step: dashes are fine
        assert MASKED_NIK_1 in chat.text


async def test_help_and_privacy_keep_what_was_entered(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("m:check")
        await chat.send(NIK_1)
        replies = await chat.send("bantuan")
        assert replies[0]["text"].startswith("Bantuan")
        assert MASKED_NIK_1 in replies[-1]["text"]  # back at the confirmation, NIK kept
        replies = await chat.send("/privasi")
        assert "Pemberitahuan privasi" in replies[0]["text"]
        assert MASKED_NIK_1 in replies[-1]["text"]
        await chat.tap("k:yes")
        [result] = await chat.send(KK_1)
        assert "Desil 2" in result["text"]


async def test_batal_and_menu_from_any_step(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("m:check")
        await chat.send(NIK_1)
        replies = await chat.send("batal")
        assert "Dibatalkan" in replies[0]["text"] and "Menu utama" in replies[-1]["text"]
        await chat.tap("m:check")
        await chat.send("MENU")
        assert chat.choices[0] == "m:check"


async def test_wrong_pair_and_unknown_nik_get_the_same_answer(db_url):
    async with running(db_url) as rt:
        a, b = Chat(rt, "a"), Chat(rt, "b")
        await a.onboard()
        await b.onboard()
        [wrong_pair] = await checked(a, NIK_1, "3271011505200001")
        [unknown] = await checked(b, "3271011505900009", KK_1)
        assert wrong_pair["text"] == unknown["text"]
        assert "tidak dapat kami cocokkan" in unknown["text"]
        assert a.choices == ["k:retry", "g:contact", "g:menu"]


async def test_lock_after_five_failures_per_conversation_then_lifts(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        chat = Chat(rt)
        await chat.onboard()
        for _ in range(5):
            await checked(chat, NIK_1, "3271011505200001")
            clock.advance(minutes=1)
        [locked] = await chat.tap("m:check")
        assert "dihentikan sementara" in locked["text"]
        assert "23 November 2026 pukul 11.00 WIB" in locked["text"]  # 03:00 UTC + 1 h = 11.00 WIB
        clock.advance(minutes=56)
        [ask] = await chat.tap("m:check")
        assert "Ketik NIK" in ask["text"]
        [result] = await checked(chat)
        assert "Desil 2" in result["text"]


async def test_lock_after_ten_failures_per_nik_across_conversations(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        for i in range(10):
            chat = Chat(rt, f"r{i}")
            await chat.onboard()
            await checked(chat, NIK_1, "3271011505200001")
        other = Chat(rt, "honest")
        await other.onboard()
        await other.tap("m:check")
        [reply] = await other.send(NIK_1)  # this NIK is locked for a day: told at once
        assert "dihentikan sementara" in reply["text"]
        assert "24 November 2026" in reply["text"]


async def test_idle_conversation_returns_to_menu(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("m:check")
        clock.advance(minutes=31)
        [reply] = await chat.send(NIK_1)
        assert "lebih dari 30 menit" in reply["text"] and chat.choices[0] == "m:check"


async def test_english_flow(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt, locale_hint="en")
        [notice] = await chat.send("/start")
        assert "This service is FREE" in notice["text"]
        await chat.tap("c:agree")
        await chat.tap("l:en")
        assert "Main menu" in chat.text
        [result] = await checked(chat)
        assert "Desil 2 of 10" in result["text"] and "extreme poverty" in result["text"]
        assert "Data as of 1 November 2026" in result["text"]
        await chat.send("/bahasa")
        await chat.tap("l:id")
        assert "Menu utama" in chat.text


async def test_restart_mid_flow_resumes(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("m:check")
        await chat.send(NIK_1)
        await chat.tap("k:yes")
    async with running(db_url, clock=clock, csv=None) as rt2:
        chat2 = Chat(rt2)
        [result] = await chat2.send(KK_1)
        assert "Desil 2 dari 10" in result["text"]


async def test_duplicate_delivery_is_handled_once(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        first = await chat.send("/start", external_id="dup-1")
        again = await chat.send("/start", external_id="dup-1")
        assert len(first) == 1 and again == []
        async with rt.db.tx(write=False) as c:
            assert await c.scalar(sa.select(sa.func.count()).select_from(inbound_events)) == 1


async def test_stored_but_unprocessed_events_are_processed_after_restart(db_url):
    """A crash after the ack (event committed, not processed) loses nothing."""
    async with running(db_url) as rt:
        rt.service.schedule = lambda key: None  # simulate dying right after the commit
        await Chat(rt).send("/start")
        assert rt.transport.sent == []
    async with running(db_url, csv=None) as rt2:
        await rt2.service.idle()
        await rt2.outbox.idle()
        assert any("GRATIS" in p["text"] for _, p in rt2.transport.sent)


async def test_a_failing_step_gets_a_polite_reply_without_trace(db_url, monkeypatch):
    from conversations import menu

    async def boom(ctx, inp):
        raise RuntimeError("secret internal detail")

    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        monkeypatch.setattr(rt.service.engine.flows["menu"].steps["main"], "on", boom)
        [reply] = await chat.tap("m:check")
        assert reply["text"].startswith("Maaf, ada gangguan")
        assert "secret" not in reply["text"] and "Traceback" not in reply["text"]
        assert menu is not None


async def test_no_log_line_holds_a_nik_or_kk(db_url, caplog):
    caplog.set_level(logging.DEBUG)
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await checked(chat)
        await checked(chat, NIK_1, "3271011505200001")
        await chat.send("3271O51203780002")
    joined = "\n".join(r.getMessage() + str(r.exc_text or "") for r in caplog.records)
    for secret in (NIK_1, KK_1, "3271011505200001"):
        assert secret not in joined


async def test_unreadable_kinds_get_a_polite_reply_and_keep_the_step(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("m:check")
        [reply] = await chat._event("other", {"type": "sticker"})
        assert "hanya bisa membaca teks" in reply["text"] and "g:cancel" in chat.choices
        [confirm] = await chat.send(NIK_1)
        assert MASKED_NIK_1 in confirm["text"]
