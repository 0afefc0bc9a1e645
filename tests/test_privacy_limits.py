"""Issue #13, privacy and abuse limits: NIK, No. KK and phone numbers masked where staff read a
resident's words (ticket, report, simulator), full only through an audited reveal; the inbox
keeps no typed NIK/KK once processed; the simulator matches only an operator's own kelurahan and
audits each lookup; reports and tickets are limited per conversation and day; a NIK's lock never
shuts out a chat that matched its household before."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from db.schema import audit_log, conversations, inbound_events
from domain.masking import mask_number, mask_numbers, masked_payload
from domain.programs import ConfigError, load_programs
from tests.chatkit import KK_1, NIK_1, Chat, Clock, running
from tests.test_web_auth import PASSWORD, hidden, login
from web.auth import add_staff

ROOT = Path(__file__).resolve().parent.parent
TEGAL_GUNDIL, BABAKAN = "3271051002", "3271031005"
NIK_EUIS = "3271014507810003"  # household 1, the wife
WRONG_KK = "3271052301150009"  # a well-formed No. KK of no household
LOCKED = "pengecekan dihentikan sementara"
ID_RUN = re.compile(r"\d(?:[ .\-]?\d){15}")


# --- masking -----------------------------------------------------------------------------------


def test_mask_numbers_keeps_the_shape_not_the_value():
    assert mask_numbers("nik saya 3271051203780002 ya") == "nik saya 3271 05•• •••• 0002 ya"
    assert mask_numbers("kk 3271.0512.0378.0002") == "kk 3271 05•• •••• 0002"
    assert mask_numbers("hp 0812-3456-7890 ya") == "hp 0812****890 ya"
    assert mask_numbers("+62 812 3456 7890") == "6281****890"
    # short numbers, dates and codes stay as typed
    for text in ("RT 05 RW 12", "15/01/2024", "LPR-AB12-CD34", "no 1234567", ""):
        assert mask_numbers(text) == text
    assert mask_number("3271051203780002") == "3271 05•• •••• 0002"
    assert masked_payload({"text": "halo"}) is None
    assert masked_payload({"id": "k:yes"}) is None
    assert masked_payload({"text": NIK_1, "x": 1}) == {"text": "3271 05•• •••• 0002", "x": 1}
    assert masked_payload({"phone": "6281234567890", "own": True}) == {
        "phone": "6281****890",
        "own": True,
    }
    assert masked_payload({"command": "cek", "args": NIK_1}) == {
        "command": "cek",
        "args": "3271 05•• •••• 0002",
    }


async def stored_texts(rt) -> list[str]:
    async with rt.db.tx(write=False) as c:
        rows = (await c.execute(sa.select(inbound_events.c.payload))).all()
    return [json.dumps(r[0], ensure_ascii=False) for r in rows]


async def test_the_inbox_keeps_no_typed_nik_or_kk_once_processed(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("m:check")
        await chat.send(f"nik saya {NIK_1}")
        await chat.tap("k:yes")
        await chat.send(WRONG_KK)  # a failed guess
        assert "tidak dapat kami cocokkan" in chat.text
        await chat.tap("k:retry")
        await chat.send(NIK_1)
        await chat.tap("k:yes")
        await chat.send("3271.0523.0115.0001")  # the right one, with dots
        assert "Kelurahan Tegal Gundil" in chat.text  # the match itself stays
        texts = await stored_texts(rt)
        assert len(texts) >= 9
        assert not [t for t in texts if ID_RUN.search(t)], texts
        assert any("3271 05•• •••• 0002" in t for t in texts)
        async with rt.db.tx(write=False) as c:
            hid = await c.scalar(sa.select(conversations.c.household_id))
        assert hid is not None


# --- the dashboard -----------------------------------------------------------------------------


async def _staff(rt, clock, *users):
    async with rt.db.tx() as c:
        for user, role, kel in users:
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


async def _audit(rt, prefix: str):
    async with rt.db.tx(write=False) as c:
        return (
            await c.execute(
                sa.select(audit_log)
                .where(audit_log.c.action.like(f"{prefix}%"))
                .order_by(audit_log.c.id)
            )
        ).all()


async def matched(chat: Chat, nik: str = NIK_1, kk: str = KK_1) -> None:
    await chat.tap("g:menu")
    await chat.tap("m:check")
    await chat.send(nik)
    await chat.tap("k:yes")
    await chat.send(kk)


async def test_ticket_page_masks_numbers_and_the_reveal_is_audited_for_verifikator_only(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        await _staff(rt, clock, ("ani", "verifikator", None), ("wati", "operator", TEGAL_GUNDIL))
        chat = Chat(rt)
        await chat.onboard()
        await matched(chat)  # the ticket is in Tegal Gundil: the operator sees it
        clock.advance(minutes=1)  # the matching shows as "before the ticket"
        await chat.tap("g:contact")
        await chat.send(f"NIK saya {NIK_1} KK {KK_1}, hp 0812 3456 7890. Kenapa tidak dapat?")
        client = TestClient(TestServer(rt.web))
        await client.start_server()
        try:
            for user in ("wati", "ani"):
                assert (await login(client, user=user)).status == 302
                listing = unescape(await (await client.get("/inbox")).text())
                page = unescape(await (await client.get("/inbox/1")).text())
                for html in (listing, page):
                    assert NIK_1 not in html and KK_1 not in html and "3456 7890" not in html
                    assert "3271 05•• •••• 0002" in html
                # the conversation before the ticket too (what the resident typed to match)
                assert page.count("3271 05•• •••• 0002") >= 2 and "0812****890" in page
                token = hidden(page)
                if user == "wati":
                    assert "Tampilkan angka lengkap" not in page
                    r = await client.post("/inbox/1/reveal", data={"_csrf": token})
                    assert r.status == 403
                    await client.post("/logout", data={"_csrf": token})
            assert "Tampilkan angka lengkap" in page
            r = await client.post("/inbox/1/reveal", data={"_csrf": hidden(page)})
            full = unescape(await r.text())
            assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
            assert f"NIK saya {NIK_1} KK {KK_1}, hp 0812 3456 7890" in full
            assert "tercatat di log audit" in full
            # the inbox's copy was masked once processed: nothing more to reveal there
            assert full.count(NIK_1) == 1
        finally:
            await client.close()
        [row] = await _audit(rt, "tickets.reveal")
        assert (row.actor, row.subject) == ("staff:ani", "T-1")


async def test_report_page_masks_the_reporters_words_until_the_audited_reveal(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        await _staff(rt, clock, ("ani", "verifikator", None), ("wati", "operator", TEGAL_GUNDIL))
        chat = Chat(rt)
        await chat.onboard()
        await matched(chat)
        await chat.tap("m:report")
        await chat.tap("r:usul")
        await chat.tap("r:own")
        await chat.tap("r:why:income")
        await chat.send(f"Suami saya {NIK_EUIS} kehilangan kerja, telepon 0812 3456 7890")
        await chat.tap("r:skip")
        await chat.tap("r:skip")
        [done, _phone] = await chat.tap("r:send")
        code = re.search(r"LPR-[0-9A-Z]{4}-[0-9A-Z]{4}", done["text"]).group(0)
        client = TestClient(TestServer(rt.web))
        await client.start_server()
        try:
            assert (await login(client, user="wati")).status == 302
            page = unescape(await (await client.get(f"/reports/{code}")).text())
            assert NIK_EUIS not in page and "3456 7890" not in page
            assert "3271 01•• •••• 0003" in page and "0812****890" in page
            await client.post("/logout", data={"_csrf": hidden(page)})
            assert (await login(client, user="ani")).status == 302
            page = unescape(await (await client.get(f"/reports/{code}")).text())
            assert NIK_EUIS not in page and "Tampilkan NIK / No. KK lengkap" in page
            r = await client.post(f"/reports/{code}/reveal", data={"_csrf": hidden(page)})
            full = unescape(await r.text())
            assert NIK_EUIS in full and "0812 3456 7890" in full
        finally:
            await client.close()
        assert [r.action for r in await _audit(rt, "reports.reveal")] == ["reports.reveal"]


async def _sim(client, path, data):
    page = await client.get("/simulator")
    return await client.post(
        path, data={"_csrf": hidden(await page.text()), **data}, allow_redirects=False
    )


async def _sim_check(client, nik: str, kk: str) -> str:
    await _sim(client, "/simulator/start", {"lang": "id"})
    for choice in ("c:agree", "l:id"):
        await _sim(client, "/simulator/send", {"choice": choice, "lang": "id"})
    await _sim(client, "/simulator/send", {"choice": "m:check", "lang": "id"})
    await _sim(client, "/simulator/send", {"text": nik, "lang": "id"})
    await _sim(client, "/simulator/send", {"choice": "k:yes", "lang": "id"})
    await _sim(client, "/simulator/send", {"text": kk, "lang": "id"})
    return unescape(await (await client.get("/simulator")).text())


async def test_simulator_matches_only_the_operators_kelurahan_and_audits_each_lookup(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        await _staff(rt, clock, ("citra", "operator", TEGAL_GUNDIL), ("dedi", "operator", BABAKAN))
        client = TestClient(TestServer(rt.web))
        await client.start_server()
        try:
            assert (await login(client, user="dedi")).status == 302
            html = await _sim_check(client, NIK_1, KK_1)  # a household of Tegal Gundil
            assert "tidak dapat kami cocokkan" in html and "Desil" not in html
            assert NIK_1 not in html and KK_1 not in html and "3271 05•• •••• 0002" in html
            await client.post("/logout", data={"_csrf": hidden(html)})
            assert (await login(client, user="citra")).status == 302
            html = await _sim_check(client, NIK_1, KK_1)
            assert "Kelurahan Tegal Gundil" in html and "Desil 2" in html
            html = await _sim_check(client, NIK_1, WRONG_KK)
            assert "tidak dapat kami cocokkan" in html
        finally:
            await client.close()
        rows = await _audit(rt, "simulator.lookup")
        got = [(r.actor, r.subject, r.detail["allowed"], r.detail["matched"]) for r in rows]
        assert [g[0] for g in got] == ["staff:dedi", "staff:citra", "staff:citra"]
        assert got[0][1] == got[1][1] and got[0][1].startswith("household:")
        assert [g[2:] for g in got] == [(False, True), (True, True), (True, False)]
        assert rows[0].detail["conversation"] == "web:dedi:1"
        async with rt.db.tx(write=False) as c:
            dedi = await c.scalar(
                sa.select(conversations.c.household_id).where(
                    conversations.c.user_key == "web:dedi:1"
                )
            )
        assert dedi is None


# --- limits ------------------------------------------------------------------------------------


def _programs_with(tmp_path: Path, limits: str) -> Path:
    text = (ROOT / "data" / "programs.toml").read_text()
    text = re.sub(r"\[limits\]\n(?:[^\n\[]*\n)*", f"[limits]\n{limits}\n\n", text, count=1)
    path = tmp_path / "programs.toml"
    path.write_text(text)
    return path


def test_limits_are_optional_checked_and_default_to_five(tmp_path):
    assert load_programs(ROOT / "data" / "programs.toml").limits.reports_per_day == 5
    cfg = load_programs(_programs_with(tmp_path, "tickets_per_day = 2"))
    assert (cfg.limits.reports_per_day, cfg.limits.tickets_per_day) == (5, 2)
    text = (ROOT / "data" / "programs.toml").read_text()
    bare = tmp_path / "bare.toml"
    bare.write_text(re.sub(r"\[limits\]\n(?:[^\n\[]*\n)*", "", text, count=1))
    assert load_programs(bare).limits.tickets_per_day == 5
    with pytest.raises(ConfigError) as e:
        load_programs(_programs_with(tmp_path, "reports_per_day = 0\ntickets_perday = 3"))
    assert "limits.reports_per_day" in str(e.value) and "did you mean" in str(e.value)


async def test_tickets_and_reports_per_conversation_per_day(db_url, tmp_path):
    clock = Clock()  # Monday 10.00 WIB
    path = _programs_with(tmp_path, "reports_per_day = 1\ntickets_per_day = 2")
    async with running(db_url, clock=clock, jaring_programs=path) as rt:
        chat, other = Chat(rt, "a"), Chat(rt, "b")
        await chat.onboard()
        for i in range(2):
            await chat.tap("g:contact")
            await chat.send(f"Pertanyaan nomor {i + 1} tentang bantuan")
            assert f"T-{i + 1}" in chat.text
            await chat.tap("h:withdraw")
            await chat.tap("h:wd:yes")
        [refused] = await chat.tap("g:contact")
        assert "sudah mengajukan 2 pertanyaan" in refused["text"]
        assert "(0251)" in refused["text"] and refused["choices"][0][0] == "g:menu"
        await chat.tap("g:contact")  # again: told again, audited once
        # another chat is not affected
        await other.onboard()
        await other.tap("g:contact")
        assert "Tulis pertanyaan Anda" in other.text
        # reports: one a day
        await matched(chat)
        await chat.tap("m:report")
        await chat.tap("r:usul")
        await chat.tap("r:own")
        await chat.tap("r:why:income")
        for _ in range(3):
            await chat.tap("r:skip")
        await chat.tap("r:send")
        [refused] = await chat.tap("m:report")
        assert "sudah mengirim 1 laporan" in refused["text"]
        # the next day (WIB) the counts start again
        clock.advance(hours=14)  # Tuesday 00.00 WIB
        await chat.tap("g:menu")
        await chat.tap("m:report")
        assert "r:usul" in chat.choices
        await chat.tap("g:cancel")
        await chat.tap("g:contact")
        assert "Tulis pertanyaan Anda" in chat.text
        rows = await _audit(rt, "limit.")
        async with rt.db.tx(write=False) as c:
            cid = await c.scalar(
                sa.select(conversations.c.id).where(conversations.c.user_key == "test:a")
            )
        assert [(r.action, r.subject, r.actor) for r in rows] == [
            ("limit.tickets", f"conversation:{cid}", "system:limits"),
            ("limit.reports", f"conversation:{cid}", "system:limits"),
        ]
        assert rows[0].detail["limit"] == 2
        # staff see it on the statistics page
        await _staff(rt, clock, ("ani", "admin", None))
        client = TestClient(TestServer(rt.web))
        await client.start_server()
        try:
            await login(client)
            html = await (await client.get("/stats")).text()
            assert "7 hari terakhir: 1 kali untuk laporan, 1 kali untuk tanya petugas" in html
            assert 'href="/audit?action=limit."' in html
        finally:
            await client.close()


# --- the NIK lock ------------------------------------------------------------------------------


async def _fail(chat: Chat, nik: str, times: int) -> None:
    for _ in range(times):
        await chat.tap("g:menu")
        await chat.tap("m:check")
        await chat.send(nik)
        if LOCKED in chat.text:
            return
        await chat.tap("k:yes")
        await chat.send(WRONG_KK)


async def test_a_nik_lock_never_shuts_out_a_chat_that_matched_the_household_before(db_url):
    async with running(db_url) as rt:
        owner, wife = Chat(rt, "owner"), Chat(rt, "wife")
        await owner.onboard()
        await matched(owner)
        await wife.onboard()
        await matched(wife, NIK_EUIS, KK_1)
        async with rt.db.tx() as c:  # the wife's chat went idle: its match was forgotten
            await c.execute(
                sa.update(conversations)
                .where(conversations.c.user_key == "test:wife")
                .values(household_id=None, data={})
            )
        # 10 wrong No. KK from throwaway chats, against each NIK of the household
        for n, nik in enumerate((NIK_1, NIK_1, NIK_EUIS, NIK_EUIS)):
            spam = Chat(rt, f"spam{n}")
            await spam.onboard()
            await _fail(spam, nik, 5)
        for nik in (NIK_1, NIK_EUIS):
            stranger = Chat(rt, f"stranger{nik[-4:]}")
            await stranger.onboard()
            await stranger.tap("m:check")
            await stranger.send(nik)
            assert LOCKED in stranger.text  # guesses against it stay at the limit
        # the owner (matched now) checks again, with their own NIK and with the wife's
        for nik in (NIK_1, NIK_EUIS):
            await matched(owner, nik, KK_1)
            assert "Kelurahan Tegal Gundil" in owner.text, owner.text
        # the wife (matched before with her NIK, forgotten since) is not shut out either,
        # also with her husband's NIK (same household)
        for nik in (NIK_EUIS, NIK_1):
            await matched(wife, nik, KK_1)
            assert "Kelurahan Tegal Gundil" in wife.text, wife.text
        # but a chat that matched never is locked, also after typing the right pair
        stranger = Chat(rt, "late")
        await stranger.onboard()
        await stranger.tap("m:check")
        await stranger.send(NIK_1)
        assert LOCKED in stranger.text
        # the exempt chat's own wrong guesses still count against its own limit (5 an hour)
        await _fail(owner, NIK_1, 6)
        assert LOCKED in owner.text
