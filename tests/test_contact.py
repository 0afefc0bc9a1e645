"""A phone number an officer may call (conversations/contact.py): asked with its purpose after a
report, a KUBE submission and a UEP application; optional; typed, shared (Telegram's contact
button, own contact only) or the WhatsApp number confirmed; stored per matter, shown masked, in
full to staff on demand (audited); purged by retention; never in the log; no message promises a
call without a number."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from db.schema import audit_log, contact_numbers, inbound_events
from domain import phone as P
from services import retention
from services.staff import add_staff
from services.uep import decide as decide_uep
from tests.chatkit import KK_1, NIK_1, Chat, Clock, running
from tests.test_reports import matched
from tests.test_web_auth import PASSWORD, hidden, login

# --------------------------------------------------------------------------- the normaliser


@pytest.mark.parametrize(
    "typed, e164",
    [
        ("0812-3456-7890", "+6281234567890"),
        ("0812 3456 7890", "+6281234567890"),
        ("+62 812 3456 7890", "+6281234567890"),
        ("+62 0812 3456 7890", "+6281234567890"),
        ("6281234567890", "+6281234567890"),
        ("81234567890", "+6281234567890"),
        ("(0251) 8321 123", "+622518321123"),
        ("0062 812.3456.7890", "+6281234567890"),
        ("+60 12 345 6789", "+60123456789"),
        ("3271050101900003", None),  # a NIK is not a phone number
        ("6271050101900003", None),  # nor one of Kalimantan Tengah
        ("0812", None),
        ("08123456789012345", None),
        ("0000000000", None),
        ("nomor saya 0812", None),
        ("", None),
    ],
)
def test_normalize(typed, e164):
    assert P.normalize(typed) == e164


def test_masked_national_and_a_channel_sender_id():
    assert P.masked("+6281234567890") == "0812****890"
    assert P.national("+6281234567890") == "081234567890"
    assert P.normalize("60123456789") is None  # typed without +: not taken for a foreign number
    assert P.normalize("60123456789", international=True) == "+60123456789"
    assert P.looks_like_phone("0812 345") and not P.looks_like_phone("rumah no 5")


# --------------------------------------------------------------------------- helpers

PHONE = "+6281234567890"


async def numbers(rt):
    async with rt.db.tx(write=False) as c:
        return (await c.execute(sa.select(contact_numbers).order_by(contact_numbers.c.id))).all()


async def file_usul(chat: Chat) -> tuple[dict, dict]:
    """A matched resident files an usul about their own family: (the code message, the phone
    question)."""
    await chat.tap("m:report")
    await chat.tap("r:usul")
    await chat.tap("r:own")
    await chat.tap("r:why:income")
    await chat.tap("r:skip")  # no story
    await chat.tap("r:skip")
    await chat.tap("r:skip")
    done, ask = await chat.tap("r:send")
    return done, ask


def code_of(text: str) -> str:
    import re

    return re.search(r"LPR-[0-9A-Z]{4}-[0-9A-Z]{4}", text).group(0)


# --------------------------------------------------------------------------- the flow


async def test_after_a_report_the_number_is_asked_with_its_purpose_and_typed(db_url, caplog):
    caplog.set_level(logging.DEBUG)
    async with running(db_url) as rt:
        chat = Chat(rt, "warga")
        await matched(chat)
        done, ask = await file_usul(chat)
        code = code_of(done["text"])
        # The code comes first; then the question names the report, says it is optional and
        # how long the number is kept.
        assert "Kode" in done["text"] and code in ask["text"]
        assert "tidak wajib" in ask["text"] and "6 bulan" in ask["text"]
        assert [c[0] for c in ask["choices"]] == ["contact:share", "ct:skip"]
        assert [c[1] for c in ask["choices"]] == ["Bagikan nomor saya", "Lewati"]
        # Something else that looks like a number: told how to type it.
        [hint] = await chat.send("0812 34")
        assert "bukan nomor telepon" in hint["text"]
        [saved] = await chat.send("0812-3456-7890")
        assert "Petugas dapat menghubungi Anda di 0812****890" in saved["text"]
        assert code in saved["text"] and "g:menu" in chat.choices
        [row] = await numbers(rt)
        assert (row.phone, row.purpose, row.ref, row.source) == (PHONE, "report", code, "typed")
        assert row.household_id is not None  # the matched household
        # The inbox keeps no copy of it (the half-typed "0812 34" was no number).
        async with rt.db.tx(write=False) as c:
            payloads = [str(r[0]) for r in await c.execute(sa.select(inbound_events.c.payload))]
        assert any("redacted" in p for p in payloads)
        assert not any("3456-7890" in p for p in payloads)
        # Back at the menu: a menu button works at once.
        [menu] = await chat.tap("m:myreports")
        assert code in menu["text"]
    log = "\n".join(r.getMessage() for r in caplog.records)
    assert "81234567890" not in log and "3456" not in log


async def test_skipping_stores_nothing_and_promises_no_call(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt, "warga")
        await matched(chat)
        await file_usul(chat)
        [ok] = await chat.tap("ct:skip")
        assert ok["text"] == "Baik. Petugas akan mengabari Anda lewat chat ini."
        assert await numbers(rt) == []
        # The menu word still works after it.
        [menu] = await chat.send("menu")
        assert "m:report" in [c[0] for c in menu["choices"]]


async def test_a_shared_contact_is_kept_only_when_it_is_the_residents_own(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt, "warga")
        await matched(chat)
        await file_usul(chat)
        # Someone else's contact card: refused, nothing kept, the step stays.
        [refused] = await chat._event("contact", {"own": False})
        assert "bukan nomor Anda sendiri" in refused["text"]
        assert await numbers(rt) == []
        # Their own (Telegram's share-contact button; the number was on their screen).
        [saved] = await chat._event(
            "contact", {"phone": "6281234567890", "own": True, "seen": True}
        )
        assert "0812****890" in saved["text"]
        [row] = await numbers(rt)
        assert (row.phone, row.source) == (PHONE, "shared")


async def test_the_number_a_channel_gives_unseen_is_confirmed_first(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt, "warga")
        await matched(chat)
        await file_usul(chat)
        [confirm] = await chat._event(
            "contact", {"phone": "6281234567890", "own": True, "seen": False}
        )
        assert "0812****890" in confirm["text"] and "6281234567890" not in confirm["text"]
        assert chat.labels == ["Ya", "Pakai nomor lain", "Lewati"]
        assert await numbers(rt) == []
        [typed] = await chat.tap("ct:other")
        assert "Ketik nomor telepon" in typed["text"]
        [saved] = await chat.send("0857 1111 2222")
        assert "0857****222" in saved["text"]
        [row] = await numbers(rt)
        assert row.phone == "+6285711112222"


async def test_where_sharing_is_not_possible_the_share_choice_asks_to_type(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt, "warga")
        await matched(chat)
        await file_usul(chat)
        [typed] = await chat.tap("contact:share")  # the terminal, the simulator
        assert "Ketik nomor telepon" in typed["text"]
        [skipped] = await chat.send("lewati")
        assert "lewat chat ini" in skipped["text"]
        assert await numbers(rt) == []


async def test_a_number_is_reused_only_when_asked_and_can_be_removed(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt, "warga")
        await matched(chat)
        done, _ = await file_usul(chat)
        first = code_of(done["text"])
        await chat.send("081234567890")
        # Another report about another family: the earlier number is offered, masked.
        await chat.tap("g:menu")
        await chat.tap("m:report")
        await chat.tap("r:usul")
        await chat.tap("r:other")
        await chat.send("Ibu Onah")
        await chat.send("Jl. Cemara No. 4")
        await chat.send("RT 4 RW 7")
        await chat.tap("r:samekel")
        await chat.tap("r:skip")  # NIK not known
        await chat.tap("r:skip")  # No. KK not known
        await chat.tap("r:why:elder")
        await chat.tap("r:skip")  # no story
        await chat.tap("r:skip")
        await chat.tap("r:skip")
        done2, ask = await chat.tap("r:send")
        second = code_of(done2["text"])
        assert second != first and second in ask["text"]
        assert chat.labels == ["Ya, 0812****890", "Bagikan nomor saya", "Lewati"]
        [saved] = await chat.tap("ct:before")
        assert second in saved["text"]
        rows = await numbers(rt)
        assert [(r.ref, r.source) for r in rows] == [(first, "typed"), (second, "reused")]
        # Taken back from the message that confirms it: only for that report.
        assert "ct:forget" in chat.choices
        [gone] = await chat.tap("ct:forget")
        assert "sudah dihapus" in gone["text"]
        assert [r.ref for r in await numbers(rt)] == [first]


async def test_uep_approval_promises_a_call_only_with_a_number(db_url):
    from tests.kubekit import matched as kube_matched
    from tests.kubekit import world

    async with world(db_url) as rt:
        siti = await kube_matched(rt, "siti", "m:uep")
        await siti.send("Jualan gorengan di rumah")
        await siti.tap("d:1to3")
        await siti.send("Wajan besar dan kompor gas")
        sent, ask = await siti.tap("u:ok")
        assert "UEP-00001" in sent["text"] and "pengajuan UEP Anda UEP-00001" in ask["text"]
        await siti.send("+62 812 3456 7890")
        budi = await kube_matched(rt, "budi", "m:uep")
        await budi.send("Servis sepeda motor")
        await budi.tap("d:gt3")
        await budi.send("Kunci dan kompresor")
        await budi.tap("u:ok")
        await budi.tap("ct:skip")
        for app_id in (1, 2):
            async with rt.db.tx() as c:
                problem, ids = await decide_uep(
                    c, rt.deps, app_id=app_id, approve=True, reason=None, now=rt.service.clock()
                )
            assert problem is None
            rt.outbox.notify(ids)
            await rt.outbox.idle()
        told = {a: p["text"] for a, p in rt.transport.sent if "menyetujui" in p["text"]}
        assert "Petugas dapat menghubungi Anda di 0812****890" in told["siti"]
        assert "lewat chat ini" in told["budi"] and "menghubungi" not in told["budi"]


async def test_kube_chair_is_asked_at_submit_and_the_approval_says_how_they_are_reached(db_url):
    from services.kube import decide
    from tests.test_kube_flow import _create, _group, _join

    async with world_kube(db_url) as rt:
        ketua, g = await _create(rt)
        members = [await _join(rt, who, g.code) for who in ("budi", "dewi", "agus", "rina")]
        await ketua.tap("g:menu")
        await ketua.tap("m:kube")
        await ketua.tap("q:sek")
        await ketua.tap(ketua.choices[0])
        await ketua.tap("q:ben")
        await ketua.tap(ketua.choices[1])
        [ask] = await ketua.tap("q:submit")
        assert "diajukan" in ask["text"] and "tentang usulan KUBE Mawar bila" in ask["text"]
        [back] = await ketua.send("0812 3456 7890")  # then back to the group's page
        assert "0812****890" in back["text"] and "KUBE Mawar" in back["text"]
        assert (await _group(rt)).status == "DIAJUKAN"
        before = len(rt.transport.sent)
        async with rt.db.tx() as c:
            problem, ids = await decide(
                c, rt.deps, group_id=g.id, approve=True, reason=None, now=rt.service.clock()
            )
        assert problem is None and len(ids) == 5
        rt.outbox.notify(ids)
        await rt.outbox.idle()
        told = {a: p["text"] for a, p in rt.transport.sent[before:]}
        assert "Petugas dapat menghubungi Anda di 0812****890" in told["siti"]
        assert "Petugas akan menelepon ketua" in told["budi"] and "0812" not in told["budi"]
        assert len(members) == 4


def world_kube(db_url):
    from tests.kubekit import world

    return world(db_url)


# --------------------------------------------------------------------------- staff pages


async def test_staff_see_it_masked_on_the_report_page_and_in_full_on_demand_audited(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        async with rt.db.tx() as c:
            for user, role in (("budi", "verifikator"), ("citra", "operator")):
                await add_staff(
                    c,
                    username=user,
                    name=user.title(),
                    role=role,
                    password=PASSWORD,
                    kelurahan_code="3271051002" if role == "operator" else None,
                    now=clock(),
                    actor="test",
                )
        chat = Chat(rt, "warga")
        await matched(chat)
        done, _ = await file_usul(chat)
        code = code_of(done["text"])
        await chat.send("081234567890")
        client = TestClient(TestServer(rt.web))
        await client.start_server()
        try:
            # An operator does not see the reporter, nor their number.
            await login(client, user="citra")
            html = await (await client.get(f"/reports/{code}")).text()
            assert "0812****890" not in html
            r = await client.post(
                f"/reports/{code}/contact", data={"_csrf": hidden(html)}, allow_redirects=False
            )
            assert r.status == 403
            await client.post("/logout", data={"_csrf": hidden(html)})
            # A verifikator: masked with its purpose, in full only on demand, audited.
            await login(client, user="budi")
            html = await (await client.get(f"/reports/{code}")).text()
            assert "0812****890" in html and "untuk laporan ini" in html
            assert "081234567890" not in html and "Tampilkan nomor telepon" in html
            assert "diketik lewat" in html
            r = await client.post(f"/reports/{code}/contact", data={"_csrf": hidden(html)})
            full = await r.text()
            assert r.status == 200 and 'href="tel:+6281234567890"' in full
            assert "081234567890" in full and r.headers["Cache-Control"] == "no-store"
            async with rt.db.tx(write=False) as c:
                [a] = (
                    await c.execute(
                        sa.select(audit_log).where(audit_log.c.action == "reports.contact")
                    )
                ).all()
            assert a.subject == code and a.actor.endswith("budi")
            assert "81234567890" not in str(a.detail)
        finally:
            await client.close()


async def test_staff_see_the_uep_applicants_number_audited(db_url):
    from tests.kubekit import matched as kube_matched
    from tests.kubekit import world

    clock = Clock()
    async with world(db_url, clock=clock) as rt:
        async with rt.db.tx() as c:
            await add_staff(
                c,
                username="budi",
                name="Budi",
                role="verifikator",
                password=PASSWORD,
                kelurahan_code=None,
                now=clock(),
                actor="test",
            )
        siti = await kube_matched(rt, "siti", "m:uep")
        await siti.send("Jualan gorengan di rumah")
        await siti.tap("d:1to3")
        await siti.send("Wajan besar dan kompor gas")
        await siti.tap("u:ok")
        await siti.send("0812 3456 7890")
        client = TestClient(TestServer(rt.web))
        await client.start_server()
        try:
            await login(client, user="budi")
            html = await (await client.get("/uep/1")).text()
            assert "0812****890" in html and "untuk pengajuan UEP ini" in html
            r = await client.post("/uep/1/contact", data={"_csrf": hidden(html)})
            assert "081234567890" in await r.text()
            async with rt.db.tx(write=False) as c:
                actions = [
                    x.action for x in await c.execute(sa.select(audit_log).order_by(audit_log.c.id))
                ]
            assert "uep.contact" in actions
        finally:
            await client.close()


# --------------------------------------------------------------------------- retention


async def test_retention_deletes_numbers_after_the_contact_period(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        chat = Chat(rt, "warga")
        await matched(chat)
        await file_usul(chat)
        await chat.send("081234567890")
        assert len(await numbers(rt)) == 1
        months = rt.programs.contact_retention_months
        assert months == 6 <= rt.programs.retention_months
        # Five months on: kept. Past six: gone, and counted in the audit of the purge.
        for later, left in ((150, 1), (190, 0)):
            now = clock() + timedelta(days=later)
            async with rt.db.tx() as c:
                counts = await retention.purge(
                    c,
                    retention.months_before(now, rt.programs.retention_months),
                    now,
                    contact_cutoff=retention.months_before(now, months),
                )
            assert len(await numbers(rt)) == left
        assert counts["contact_numbers"] == 1


# --------------------------------------------------------------------------- channels


def test_telegram_contact_update_is_the_senders_own_number_only():
    from aiogram.types import Update

    from handlers.telegram import update_to_event
    from handlers.telegram.markup import render_json
    from tests.fakes.telegram_api import message_update

    def contact_update(user_id: int, contact_user_id: int | None) -> Update:
        card = {"phone_number": "6281234567890", "first_name": "Warga"}
        if contact_user_id is not None:
            card["user_id"] = contact_user_id
        return Update.model_validate(message_update(7, user_id, {"contact": card}))

    ev = update_to_event(contact_update(1001, 1001))
    assert (ev.kind, ev.payload) == (
        "contact",
        {"phone": "6281234567890", "own": True, "seen": True},
    )
    for other in (1002, None):  # a friend's card, a card without a Telegram account
        ev = update_to_event(contact_update(1001, other))
        assert (ev.kind, ev.payload) == ("contact", {"own": False})
    # The "Share my number" choice is Telegram's share-contact button; the other choices are
    # keyboard buttons that send their label.
    text, markup = render_json(
        {
            "text": "Boleh?",
            "choices": [["contact:share", "Bagikan nomor saya"], ["ct:skip", "Lewati"]],
        }
    )
    assert markup["keyboard"] == [
        [{"text": "Bagikan nomor saya", "request_contact": True}],
        [{"text": "Lewati"}],
    ]
    assert markup["one_time_keyboard"] is True and text == "Boleh?"


@asynccontextmanager
async def telegram_runtime(db_url: str, api_url: str):
    """The real Runtime with Telegram on (polling the fake Bot API), the small DTSEN extract."""
    from datetime import date

    from bot import Runtime
    from config import Settings
    from db.dtsen_import import import_dtsen
    from tests.chatkit import SMALL_CSV
    from tests.fakes.telegram_api import BOT_TOKEN

    settings = Settings(
        _env_file=None,
        database_url=db_url,
        telegram_bot_token=BOT_TOKEN,
        telegram_api_url=api_url,
    )
    rt = Runtime(settings, clock=Clock())
    report = await import_dtsen(
        rt.db, SMALL_CSV, region=rt.region, programs=rt.programs, data_date=date(2026, 11, 1)
    )
    assert report.imported, report.errors
    await rt.start(web=False)
    try:
        yield rt
    finally:
        await rt.stop()


async def test_telegram_share_contact_through_the_fake_bot_api(db_url):
    """The real Runtime polling a fake Bot API server: the question carries the share-contact
    keyboard, the resident's own contact message is stored, a typed label is a choice."""
    from tests.fakes.telegram_api import (
        BOT_TOKEN,
        FakeTelegramAPI,
        callback_update,
        message_update,
        text_update,
    )

    user = 5550123
    async with FakeTelegramAPI(BOT_TOKEN) as fake:
        async with telegram_runtime(db_url, fake.base_url) as rt:
            n = 0

            async def step(update, expect=1):
                nonlocal n
                n += expect
                fake.push_update(update)
                return (await fake.wait_for_messages(user, n, timeout=20))[-1]

            await step(text_update(1, user, "/start"))
            await step(callback_update(2, user, "c:agree"))
            await step(callback_update(3, user, "l:id"))
            await step(callback_update(4, user, "m:report"))
            await step(callback_update(5, user, "r:usul"))
            await step(callback_update(6, user, "r:own"))
            await step(text_update(7, user, NIK_1))
            await step(callback_update(8, user, "k:yes"))
            await step(text_update(9, user, KK_1))
            await step(callback_update(10, user, "r:why:income"))
            await step(callback_update(11, user, "r:skip"))  # no story
            await step(callback_update(12, user, "r:skip"))
            await step(callback_update(13, user, "r:skip"))
            ask = await step(callback_update(14, user, "r:send"), expect=2)
            code = code_of(ask["text"])
            assert ask["reply_markup"]["keyboard"][0] == [
                {"text": "Bagikan nomor saya", "request_contact": True}
            ]
            # A friend's contact: refused.
            friend = {"phone_number": "6285700000000", "first_name": "Teman", "user_id": 42}
            msg = await step(message_update(15, user, {"contact": friend}))
            assert "bukan nomor Anda sendiri" in msg["text"]
            own = {"phone_number": "+6281234567890", "first_name": "Warga", "user_id": user}
            msg = await step(message_update(16, user, {"contact": own}))
            assert "0812****890" in msg["text"] and code in msg["text"]
            [row] = await numbers(rt)
            assert (row.phone, row.source, row.ref) == (PHONE, "shared", code)
            async with rt.db.tx(write=False) as c:
                kinds = [
                    r[0]
                    for r in await c.execute(
                        sa.text("SELECT kind FROM inbound_events WHERE kind = 'contact'")
                    )
                ]
            assert len(kinds) == 2
            async with rt.db.tx(write=False) as c:
                payloads = [str(r[0]) for r in await c.execute(sa.select(inbound_events.c.payload))]
            assert not any("81234567890" in p or "85700000000" in p for p in payloads)


async def test_whatsapp_share_number_is_confirmed_signed_webhook(db_url, tmp_path):
    """Signed webhook deliveries into the real Runtime: the "Share my number" button tap
    becomes the number the resident writes from, shown masked and confirmed."""
    from tests.fakes.whatsapp_api import body_text, button_reply, choices, delivery, text_message
    from tests.test_whatsapp_webhook import A, post, wa_runtime

    async with wa_runtime(db_url, tmp_path) as rt:

        async def say(msg) -> dict:
            before = len(rt.fake.messages_to(A))
            status, _ = await post(rt, delivery(msg))
            assert status == 200
            return rt.fake.messages_to(A)[before:]

        await say(text_message(A, "halo"))
        await say(button_reply(A, "c:agree"))
        await say(button_reply(A, "l:id"))
        await say(button_reply(A, "m:report"))
        await say(button_reply(A, "r:usul"))
        await say(button_reply(A, "r:own"))
        await say(text_message(A, NIK_1))
        await say(button_reply(A, "k:yes"))
        await say(text_message(A, KK_1))
        await say(button_reply(A, "r:why:income"))
        await say(button_reply(A, "r:skip"))  # no story
        await say(button_reply(A, "r:skip"))
        await say(button_reply(A, "r:skip"))
        *_, ask = await say(button_reply(A, "r:send"))
        assert choices(ask) == [("Bagikan nomor saya", "contact:share"), ("Lewati", "ct:skip")]
        [confirm] = await say(button_reply(A, "contact:share"))
        assert "0812****001" in body_text(confirm) and A not in body_text(confirm)
        assert [c[1] for c in choices(confirm)] == ["ct:yes", "ct:other", "ct:skip"]
        assert await numbers(rt) == []
        [saved] = await say(button_reply(A, "ct:yes"))
        assert "0812****001" in body_text(saved)
        [row] = await numbers(rt)
        assert (row.phone, row.source) == ("+" + A, "shared")


def test_whatsapp_contact_card_and_share_tap_parse_to_the_senders_number_only():
    from handlers.whatsapp.parse import parse_delivery
    from tests.fakes.whatsapp_api import button_reply, delivery, other_message

    wa = "6281234567890"

    def card(phone_wa_id: str | None) -> dict:
        msg = other_message(wa, "contacts")
        phone: dict = {"phone": "+62 812-3456-7890", "type": "CELL"}
        if phone_wa_id:
            phone["wa_id"] = phone_wa_id
        msg["contacts"] = [{"name": {"formatted_name": "Saya"}, "phones": [phone]}]
        return msg

    [own] = parse_delivery(delivery(card(wa))).messages
    assert (own.kind, own.payload) == ("contact", {"phone": wa, "own": True, "seen": True})
    for other in ("6285700000000", None):
        [m] = parse_delivery(delivery(card(other))).messages
        assert (m.kind, m.payload) == ("contact", {"own": False})
    [tap] = parse_delivery(delivery(button_reply(wa, "contact:share"))).messages
    assert (tap.kind, tap.payload) == ("contact", {"phone": wa, "own": True, "seen": False})
    [plain] = parse_delivery(delivery(button_reply(wa, "ct:skip"))).messages
    assert (plain.kind, plain.payload) == ("choice", {"id": "ct:skip"})


async def test_the_question_left_unanswered_is_forgotten_at_the_menu(db_url):
    from db.schema import conversations

    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        chat = Chat(rt, "warga")
        await matched(chat)
        await file_usul(chat)
        clock.advance(minutes=31)
        [menu] = await chat.send("0812 3456 7890")  # too late: the idle reset wins
        assert "30 menit" in menu["text"] and await numbers(rt) == []
        async with rt.db.tx(write=False) as c:
            data = await c.scalar(
                sa.select(conversations.c.data).where(conversations.c.user_key == "test:warga")
            )
        assert "contact" not in data
