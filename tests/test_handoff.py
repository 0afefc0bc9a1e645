"""Human handoff: a resident asks a person, the bot stays silent while staff own the
conversation, staff answer from the dashboard, close, and the resident rates the answer."""

from __future__ import annotations

import re

import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from core.scheduler import Scheduler
from db.schema import audit_log, conversations, ticket_messages, tickets
from services import tickets as ticket_ops
from tests.chatkit import Chat, Clock, running
from tests.test_web_auth import PASSWORD, hidden, login
from web.auth import add_staff

QUESTION = "Bagaimana cara mendaftar PKH untuk ibu saya?"


async def ask(chat: Chat, text: str = QUESTION):
    await chat.tap("g:contact")
    assert "Tulis pertanyaan Anda dalam satu pesan" in chat.text
    return await chat.send(text)


async def ticket_rows(rt):
    async with rt.db.tx(write=False) as c:
        return (await c.execute(sa.select(tickets).order_by(tickets.c.id))).all()


async def test_ask_silence_reply_close_rate(db_url):
    clock = Clock()  # Monday 23 Nov 2026, 10.00 WIB: the office is open
    async with running(db_url, clock=clock) as rt:
        chat = Chat(rt)
        await chat.onboard()
        [opened] = await ask(chat)
        assert "tiket T-1" in opened["text"] and "paling lambat" in opened["text"]
        assert "Kamis, 26 November 2026" in opened["text"] or "26 Nov" in opened["text"]
        # While staff own the conversation the bot says nothing, and keeps every message.
        assert await chat.send("Halo, ada yang bisa bantu?") == []
        assert await chat.send("2") == []  # not taken as a menu choice either
        [t] = await ticket_rows(rt)
        assert (t.status, t.reason, t.first_response_at) == ("open", "asked", None)
        async with rt.db.tx() as c:
            ids = await ticket_ops.reply(
                c,
                t.id,
                "Silakan datang ke kelurahan membawa KK.",
                staff_id=None,
                actor="test",
                now=clock(),
            )
        rt.outbox.notify(ids)
        await rt.outbox.idle()
        assert chat.rt.transport.sent[-1][1]["text"].startswith(
            "Petugas Dinas Sosial:\nSilakan datang ke kelurahan membawa KK."
        )
        clock.advance(minutes=5)
        async with rt.db.tx() as c:
            ids = await ticket_ops.close(c, t.id, staff_id=None, actor="test", now=clock())
        rt.outbox.notify(ids)
        await rt.outbox.idle()
        last = rt.transport.sent[-1][1]
        assert "Bagaimana jawabannya?" in last["text"]
        assert [c[0] for c in last["choices"]] == ["r:1", "r:2", "r:3", "r:4", "r:5"]
        [thanks] = await chat.send("5")  # a typed number is the rating itself
        assert thanks["text"].startswith("Terima kasih atas penilaian Anda.")
        assert "Menu utama" in thanks["text"]
        [t] = await ticket_rows(rt)
        assert (t.status, t.closed_by, t.rating) == ("closed", "staff", 5)
        assert t.first_response_at is not None
        async with rt.db.tx(write=False) as c:
            kinds = [
                r.kind
                for r in await c.execute(sa.select(ticket_messages).order_by(ticket_messages.c.id))
            ]
            owner = await c.scalar(sa.select(conversations.c.owner))
        assert kinds == ["resident", "resident", "resident", "staff", "system"]
        assert owner == "bot"


async def test_resident_ends_with_selesai_and_gets_the_menu(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await ask(chat)
        [end] = await chat.send("Selesai")
        assert "Percakapan dengan petugas sudah selesai" in end["text"]
        assert "m:check" in chat.choices
        [t] = await ticket_rows(rt)
        assert (t.status, t.closed_by) == ("closed", "resident")
        async with rt.db.tx() as c:  # staff can no longer answer a closed ticket
            try:
                await ticket_ops.reply(c, t.id, "x", staff_id=None, actor="t", now=Clock()())
            except ticket_ops.TicketError as e:
                assert "sudah ditutup" in str(e)
            else:
                raise AssertionError("reply to a closed ticket")


async def test_outside_office_hours_says_when(db_url):
    clock = Clock()
    clock.advance(days=5)  # Saturday 28 Nov, 10.00 WIB
    async with running(db_url, clock=clock) as rt:
        chat = Chat(rt)
        await chat.onboard()
        [opened] = await ask(chat)
        assert "Kantor sedang tutup" in opened["text"] and "30 Nov" in opened["text"]


async def test_two_misunderstandings_lead_to_a_ticket_marked_stuck(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.send("xyz")
        await chat.send("abc")
        assert "g:contact" in chat.choices
        await ask(chat, "Saya bingung, tolong bantu")
        [t] = await ticket_rows(rt)
        assert t.reason == "stuck"


async def test_sla_flags_after_24_and_48_office_hours(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await ask(chat)
        sched = Scheduler(rt.db, rt.deps, rt.outbox, clock=clock, jobs=[ticket_ops.sla_job])
        clock.advance(days=2)  # Wednesday 10.00: 16 office hours
        await sched.run_once()
        [t] = await ticket_rows(rt)
        assert t.supervisor_flag_at is None
        clock.advance(days=1, minutes=1)  # Thursday 10.01: 24 office hours
        await sched.run_once()
        [t] = await ticket_rows(rt)
        assert t.supervisor_flag_at is not None and t.head_flag_at is None
        clock.advance(days=4)  # Monday 10.01: 40 office hours (the weekend does not count)
        await sched.run_once()
        assert (await ticket_rows(rt))[0].head_flag_at is None
        clock.advance(days=1)  # Tuesday 10.01: 48 office hours
        await sched.run_once()
        [t] = await ticket_rows(rt)
        assert t.head_flag_at is not None
        async with rt.db.tx(write=False) as c:
            actions = [
                r.action
                for r in await c.execute(
                    sa.select(audit_log).where(audit_log.c.actor == "system:sla")
                )
            ]
        assert actions == ["ticket.escalate.supervisor", "ticket.escalate.head"]


async def test_dashboard_inbox_reply_note_close_and_operator_scope(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        async with rt.db.tx() as c:
            await add_staff(
                c,
                username="ani",
                name="Ani",
                role="verifikator",
                password=PASSWORD,
                kelurahan_code=None,
                now=clock(),
                actor="test",
            )
            await add_staff(
                c,
                username="wati",
                name="Wati",
                role="operator",
                password=PASSWORD,
                kelurahan_code="3271031005",
                now=clock(),
                actor="test",
            )
        chat = Chat(rt)
        await chat.onboard()
        await ask(chat)
        client = TestClient(TestServer(rt.web))
        await client.start_server()
        try:
            assert (await login(client)).status == 302
            html = await (await client.get("/inbox")).text()
            assert "T-1" in html and QUESTION[:30] in html and "Baru (1)" in html
            page = await (await client.get("/inbox/1")).text()
            assert QUESTION in page and "belum dicocokkan" in page
            token = hidden(page)
            # An empty reply is refused and nothing is sent.
            r = await client.post("/inbox/1/reply", data={"_csrf": token, "text": "  "})
            assert r.status == 409 and "Balasan kosong" in await r.text()
            # Without the CSRF token nothing happens.
            r = await client.post("/inbox/1/reply", data={"text": "Halo"}, allow_redirects=False)
            assert r.status == 403
            before = len(rt.transport.sent)
            r = await client.post(
                "/inbox/1/reply",
                data={"_csrf": token, "text": "Halo Bu, bisa."},
                allow_redirects=False,
            )
            assert r.status == 302
            await rt.outbox.idle()
            assert rt.transport.sent[before][1]["text"].startswith(
                "Petugas Dinas Sosial:\nHalo Bu, bisa."
            )
            await client.post("/inbox/1/note", data={"_csrf": token, "text": "Cek data ibunya."})
            page = await (await client.get("/inbox/1?ok=reply")).text()
            assert "Balasan dikirim ke warga" in page and "Cek data ibunya." in page
            mine = await (await client.get("/inbox?tab=mine")).text()
            assert "T-1" in mine  # the reply assigned it to the one who answered
            r = await client.post("/inbox/1/close", data={"_csrf": token}, allow_redirects=False)
            assert r.status == 302
            await rt.outbox.idle()
            assert "Bagaimana jawabannya?" in rt.transport.sent[-1][1]["text"]
            closed = await (await client.get("/inbox?tab=closed")).text()
            assert "T-1" in closed
            # An operator of a kelurahan does not see a ticket outside it.
            await client.post("/logout", data={"_csrf": token})
            assert (await login(client, user="wati")).status == 302
            assert (await client.get("/inbox/1")).status == 404
            assert "T-1" not in await (await client.get("/inbox?tab=closed")).text()
        finally:
            await client.close()
        async with rt.db.tx(write=False) as c:
            actions = [
                r.action
                for r in await c.execute(
                    sa.select(audit_log)
                    .where(audit_log.c.action.like("ticket.%"))
                    .order_by(audit_log.c.id)
                )
            ]
        assert actions == ["ticket.reply", "ticket.note", "ticket.close"]
        assert re.search(r"Terima kasih|Bagaimana", rt.transport.sent[-1][1]["text"])
