"""Staff alerts (issue #12): a staff member links a chat with a one-time code from "Akun saya",
typed to the bot anywhere; the chat then receives alerts of new tickets, escalations and reports
past their deadline (nothing personal, each once); unlinking from the bot and the dashboard."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from core.scheduler import Scheduler
from core.understanding import spot_entities
from db.schema import audit_log, staff_alerts, staff_chats, staff_link_codes, tickets
from services import alerts
from services import reports as report_ops
from services import tickets as ticket_ops
from services.staff import add_staff, set_active
from tests.chatkit import KK_1, NIK_1, Chat, Clock, running
from tests.test_web_auth import PASSWORD, hidden, login
from web.auth import AUTH

TEGAL_GUNDIL = "3271051002"  # household 1 of tests/data/dtsen_small.csv
OTHER_KEL = "3271031005"
PUBLIC = "https://jaring.dinsos.example"
QUESTION = "Kapan bantuan PKH cair untuk keluarga Asep?"
STAFF = (
    ("ani", "Ani", "admin", None),
    ("budi", "Budi", "verifikator", None),
    ("citra", "Citra", "operator", TEGAL_GUNDIL),
    ("dodi", "Dodi", "operator", OTHER_KEL),
)


@asynccontextmanager
async def service(db_url, clock=None):
    clock = clock or Clock()  # Monday 23 Nov 2026, 10.00 WIB
    async with running(db_url, clock=clock, jaring_public_url=PUBLIC + "/") as rt:
        async with rt.db.tx() as c:
            for user, name, role, kel in STAFF:
                await add_staff(
                    c,
                    username=user,
                    name=name,
                    role=role,
                    password=PASSWORD,
                    kelurahan_code=kel,
                    now=clock(),
                    actor="test",
                )
        # The public URL is https, so the session cookie is Secure (docs/security.md); this test
        # client talks plain http to 127.0.0.1, where a browser would drop such a cookie.
        rt.web[AUTH].secure = False
        client = TestClient(TestServer(rt.web))
        await client.start_server()
        try:
            yield rt, client, clock
        finally:
            await client.close()


async def new_code(client) -> str:
    page = await (await client.get("/account")).text()
    r = await client.post("/account/link-code", data={"_csrf": hidden(page)})
    html = await r.text()
    assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
    m = re.search(r'id="link-code">(STF-[A-Z0-9]{4}-[A-Z0-9]{4})<', html)
    assert m, html
    return m.group(1)


async def linked_chat(rt, client, user: str) -> Chat:
    """Sign in as `user`, make a code, link a fresh chat `<user>-tg` with it (at the menu)."""
    assert (await login(client, user=user)).status == 302
    code = await new_code(client)
    chat = Chat(rt, f"{user}-tg")
    await chat.onboard()
    [done] = await chat.send(code)
    assert "tertaut ke akun petugas" in done["text"], done["text"]
    return chat


def sent_to(rt, user: str, since: int = 0) -> list[str]:
    return [p["text"] for a, p in rt.transport.sent[since:] if a == user]


async def matched_resident(rt, user="warga") -> Chat:
    chat = Chat(rt, user)
    await chat.onboard()
    await chat.tap("m:check")
    await chat.send(NIK_1)
    await chat.tap("k:yes")
    await chat.send(KK_1)
    return chat


async def ask(chat: Chat, text: str = QUESTION):
    await chat.tap("g:contact")
    return await chat.send(text)


def test_the_understanding_layer_spots_a_staff_code_anywhere():
    for typed in (
        "STF-7KQ4-M9XD",
        "stf 7kq4 m9xd",
        "kode saya Stf7kq4M9xd ya",
        "STF - 7KQ4 - M9XD",
    ):
        assert spot_entities(typed).get("staff_code") == "STF-7KQ4-M9XD", typed
    assert "staff_code" not in spot_entities("RT-7KQ4-M9XD")
    assert "staff_code" not in spot_entities("STF-7KQ4-M9X")  # too short
    assert alerts.normalize_link_code(" stf-7kq4 m9xd ") == "STF-7KQ4-M9XD"
    assert alerts.normalize_link_code("STF-0000-1111") is None  # not the code alphabet


async def test_link_then_new_ticket_alert_reaches_the_kelurahan_operator_and_verifikator(db_url):
    async with service(db_url) as (rt, client, clock):
        citra = await linked_chat(rt, client, "citra")
        # The account page lists the chat; the code is stored only as its hash.
        page = await (await client.get("/account")).text()
        assert "Uji" in page and "Lepas tautan" in page
        async with rt.db.tx(write=False) as c:
            [row] = (await c.execute(sa.select(staff_link_codes))).all()
            [link] = (await c.execute(sa.select(staff_chats))).all()
        assert row.used_at is not None and len(row.code_hash) == 64
        assert link.conversation_id == (await conv_id(rt, "citra-tg"))
        # Budi (verifikator, city-wide) and Dodi (operator elsewhere) link too; Ani (admin).
        client2 = TestClient(TestServer(rt.web))
        await client2.start_server()
        try:
            await linked_chat(rt, client2, "budi")
        finally:
            await client2.close()
        client3 = TestClient(TestServer(rt.web))
        await client3.start_server()
        try:
            await linked_chat(rt, client3, "dodi")
            await linked_chat(rt, client3, "ani")
        finally:
            await client3.close()

        warga = await matched_resident(rt)
        before = len(rt.transport.sent)
        [opened] = await ask(warga)
        assert "tiket T-1" in opened["text"]
        [alert] = sent_to(rt, "citra-tg", before)
        assert alert.startswith(
            "Notifikasi petugas: pertanyaan baru, tiket T-1, Kelurahan Tegal Gundil."
        )
        assert f"{PUBLIC}/inbox/1" in alert and "/petugas" in alert
        # Nothing personal: not the question, not the resident's name or numbers.
        for secret in (QUESTION, "Asep", NIK_1, KK_1, "warga"):
            assert secret not in alert
        assert len(sent_to(rt, "budi-tg", before)) == 1
        assert sent_to(rt, "dodi-tg", before) == [] and sent_to(rt, "ani-tg", before) == []
        citra.replies.clear()
        # The alert chat still works as a chat: the resident menu is there.
        await citra.send("menu")
        assert "m:check" in citra.choices
        async with rt.db.tx(write=False) as c:
            [rec] = (await c.execute(sa.select(staff_alerts))).all()
            actions = [r.action for r in await c.execute(sa.select(audit_log.c.action))]
        assert (rec.kind, rec.ref, rec.recipients) == ("ticket_new", "T-1", 2)
        assert actions.count("staff.link") == 4 and actions.count("staff.link_code") == 4


async def conv_id(rt, user: str) -> int:
    from db.schema import conversations

    async with rt.db.tx(write=False) as c:
        return await c.scalar(
            sa.select(conversations.c.id).where(conversations.c.user_key == f"test:{user}")
        )


async def test_a_ticket_without_kelurahan_goes_to_verifikators_only(db_url):
    async with service(db_url) as (rt, client, _):
        await linked_chat(rt, client, "budi")
        warga = Chat(rt, "warga")
        await warga.onboard()
        before = len(rt.transport.sent)
        await ask(warga)
        [alert] = sent_to(rt, "budi-tg", before)
        assert "tiket T-1, kelurahan belum diketahui" in alert


async def test_code_typed_mid_flow_links_and_keeps_the_step(db_url):
    async with service(db_url) as (rt, client, _):
        assert (await login(client, user="citra")).status == 302
        code = await new_code(client)
        chat = Chat(rt, "citra-wa")
        await chat.onboard()
        await chat.tap("m:check")  # asks for the NIK
        [reply] = await chat.send("kode saya " + code.lower().replace("-", " "))
        assert "tertaut ke akun petugas Citra" in reply["text"]
        assert "Ketik NIK" in reply["text"] and chat.choices == ["g:cancel"]  # same step
        # A free-text step (a name for an usul) does not store the code as the answer either.
        code2 = await new_code(client)
        await chat.send("menu")
        await chat.tap("m:report")
        await chat.tap("r:usul")
        await chat.tap("r:other")
        [reply] = await chat.send(code2)
        assert "tertaut ke akun petugas Citra" in reply["text"]
        # Where any text is the answer (a question to an officer) the code is still a code.
        code3 = await new_code(client)
        await chat.tap("g:contact")
        [reply] = await chat.send(f"{code3}")
        assert "tertaut ke akun petugas Citra" in reply["text"]
        assert "Tulis pertanyaan Anda" in reply["text"]  # the question is still asked for
        async with rt.db.tx(write=False) as c:
            links = (await c.execute(sa.select(staff_chats))).all()
            opened = await c.scalar(sa.select(sa.func.count()).select_from(tickets))
        assert len(links) == 1 and opened == 0


async def test_wrong_used_and_expired_codes_get_one_answer_and_are_limited(db_url):
    async with service(db_url) as (rt, client, clock):
        assert (await login(client, user="citra")).status == 302
        code = await new_code(client)
        other = Chat(rt, "someone")
        await other.onboard()
        clock.advance(minutes=16)  # past its 15 minutes
        [expired] = await other.send(code)
        neutral = expired["text"].split("\n\n")[0]
        assert neutral.startswith("Kode ini tidak berlaku")
        code = await new_code(client)
        first = Chat(rt, "first")
        await first.onboard()
        [ok] = await first.send(code)
        assert "tertaut" in ok["text"]
        [used] = await other.send(code)  # single use
        assert used["text"].split("\n\n")[0] == neutral
        for _ in range(3):
            [wrong] = await other.send("STF-AAAA-CCCC")
            assert wrong["text"].split("\n\n")[0] == neutral
        # Five codes that did not work in an hour: even a good code waits.
        good = await new_code(client)
        [locked] = await other.send(good)
        assert "Terlalu banyak kode" in locked["text"]
        clock.advance(minutes=61)
        assert (await login(client, user="citra")).status == 302  # the session idled out
        good = await new_code(client)
        [ok] = await other.send(good)
        assert "tertaut" in ok["text"]
        # A disabled account's code does not work.
        code = await new_code(client)
        async with rt.db.tx() as c:
            await set_active(c, "citra", False, now=clock(), actor="test")
        third = Chat(rt, "third")
        await third.onboard()
        [refused] = await third.send(code)
        assert refused["text"].split("\n\n")[0] == neutral


async def test_unlink_from_the_bot_and_from_the_dashboard(db_url):
    async with service(db_url) as (rt, client, clock):
        chat = await linked_chat(rt, client, "citra")
        [status] = await chat.send("/petugas")
        assert "menerima notifikasi petugas untuk Citra" in status["text"]
        assert chat.labels == ["Hentikan notifikasi", "Menu utama"]
        [done] = await chat.tap("s:unlink")
        assert done["text"].startswith("Notifikasi dihentikan.")
        # Typed as text (WhatsApp has no commands): the same.
        [again] = await chat._event("text", {"text": "/petugas"})  # not linked: how to link
        assert "belum tertaut" in again["text"] and "Akun saya" in again["text"]
        warga = await matched_resident(rt)
        before = len(rt.transport.sent)
        await ask(warga)
        assert sent_to(rt, "citra-tg", before) == []
        # Linked again, then unlinked from the dashboard (POST with the CSRF token only).
        code = await new_code(client)
        [ok] = await chat.send(code)  # typed at the "how to link" step
        assert "tertaut" in ok["text"] and chat.choices == ["g:menu"]
        cid = await conv_id(rt, "citra-tg")
        r = await client.post(f"/account/chats/{cid}/unlink", data={}, allow_redirects=False)
        assert r.status == 403
        # Another staff member cannot unlink Citra's chat.
        other = TestClient(TestServer(rt.web))
        await other.start_server()
        try:
            await login(other, user="budi")
            page = await (await other.get("/account")).text()
            r = await other.post(
                f"/account/chats/{cid}/unlink", data={"_csrf": hidden(page)}, allow_redirects=False
            )
            assert r.status == 404
        finally:
            await other.close()
        page = await (await client.get("/account")).text()
        r = await client.post(
            f"/account/chats/{cid}/unlink", data={"_csrf": hidden(page)}, allow_redirects=False
        )
        assert r.status == 302 and r.headers["Location"] == "/account?ok=unlinked"
        page = await (await client.get("/account?ok=unlinked")).text()
        assert "Belum ada chat yang ditautkan" in page and "Tautan dilepas" in page
        async with rt.db.tx(write=False) as c:
            unlinks = [
                (r.actor, r.action)
                for r in await c.execute(
                    sa.select(audit_log).where(audit_log.c.action == "staff.unlink")
                )
            ]
        assert [a for a, _ in unlinks] == [f"conversation:{cid}", "staff:citra"]


async def test_escalations_go_to_verifikator_then_admin_once(db_url):
    clock = Clock()
    async with service(db_url, clock) as (rt, client, _):
        await linked_chat(rt, client, "budi")
        c2 = TestClient(TestServer(rt.web))
        await c2.start_server()
        try:
            await linked_chat(rt, c2, "ani")
        finally:
            await c2.close()
        warga = await matched_resident(rt)
        await ask(warga)
        sched = Scheduler(rt.db, rt.deps, rt.outbox, clock=clock, jobs=[ticket_ops.sla_job])
        before = len(rt.transport.sent)
        clock.advance(days=3, minutes=1)  # Thursday 10.01: 24 office hours
        await sched.run_once()
        await rt.outbox.idle()
        [alert] = sent_to(rt, "budi-tg", before)
        assert alert.startswith(
            "Notifikasi petugas: tiket T-1, Kelurahan Tegal Gundil, belum dijawab selama 24 jam kerja."
        )
        assert f"{PUBLIC}/inbox/1" in alert
        assert sent_to(rt, "ani-tg", before) == []
        await sched.run_once()  # nothing twice
        await rt.outbox.idle()
        assert len(sent_to(rt, "budi-tg", before)) == 1
        clock.advance(days=5)  # Tuesday 10.01: 48 office hours
        await sched.run_once()
        await rt.outbox.idle()
        [head] = sent_to(rt, "ani-tg", before)
        assert "belum dijawab selama 48 jam kerja" in head
        assert len(sent_to(rt, "budi-tg", before)) == 1


async def test_a_report_past_its_deadline_is_alerted_once_to_its_kelurahan(db_url):
    clock = Clock()
    async with service(db_url, clock) as (rt, client, _):
        await linked_chat(rt, client, "citra")
        c2 = TestClient(TestServer(rt.web))
        await c2.start_server()
        try:
            await linked_chat(rt, c2, "dodi")
        finally:
            await c2.close()
        async with rt.db.tx() as c:
            made = await report_ops.create_report(
                c,
                report_ops.NewReport(
                    category="GRADUASI",
                    reporter_conversation_id=None,
                    reporter_person_id=None,
                    reporter_role="warga",
                    household_id=None,
                    target_name="Keluarga Uji",
                    target_address="Jl. Uji 1",
                    kelurahan_code=TEGAL_GUNDIL,
                    rw="007",
                    rt="003",
                    actor="warga",
                ),
                now=clock(),
                verification_days=14,
                rt_answer_days=3,
            )
        sched = Scheduler(rt.db, rt.deps, rt.outbox, clock=clock, jobs=[alerts.late_reports_job])
        before = len(rt.transport.sent)
        clock.advance(days=13)
        await sched.run_once()
        await rt.outbox.idle()
        assert sent_to(rt, "citra-tg", before) == []
        clock.advance(days=1, minutes=1)
        await sched.run_once()
        await sched.run_once()
        await rt.outbox.idle()
        [alert] = sent_to(rt, "citra-tg", before)
        assert alert.startswith(
            f"Notifikasi petugas: laporan {made.code}, Kelurahan Tegal Gundil, melewati batas waktu"
        )
        assert f"{PUBLIC}/reports/{made.code}" in alert
        assert "Keluarga Uji" not in alert and "Jl. Uji" not in alert
        assert sent_to(rt, "dodi-tg", before) == []


@pytest.mark.parametrize(
    "url,path", [(None, "/inbox/7"), ("https://x.example", "https://x.example/inbox/7")]
)
def test_links_use_the_public_url_or_the_path(url, path):
    from types import SimpleNamespace

    from services.alerts import _link

    assert _link(SimpleNamespace(public_url=url or ""), "/inbox/7") == path
