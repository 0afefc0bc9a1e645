"""Human handoff: a resident asks a person, the bot stays silent while staff own the
conversation, staff answer from the dashboard, close, and the resident rates the answer.
Leaving the ticket's chat keeps the question open; only staff close it, or the resident
withdraws it (confirmed); the answer reaches the resident wherever they are."""

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
        assert "selesai" not in opened["text"].lower()
        assert [c[:2] for c in opened["choices"]] == [
            ["h:withdraw", "Tarik pertanyaan"],
            ["g:menu", "Menu utama"],
        ]
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
        answer = chat.rt.transport.sent[-1][1]
        assert answer["text"] == (
            "Petugas Dinas Sosial:\nSilakan datang ke kelurahan membawa KK.\n\n"
            "(Tiket T-1. Untuk membalas, ketuk Balas petugas.)"
        )
        assert [c[:2] for c in answer["choices"]] == [["g:contact", "Balas petugas"]]
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
    """`selesai` leaves the ticket's chat for the menu; the question stays open and staff can
    still answer it."""
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await ask(chat)
        [end] = await chat.send("Selesai")
        assert end["text"].startswith(
            "Pertanyaan Anda (tiket T-1) masih menunggu petugas; jawabannya akan dikirim ke sini."
        )
        assert "m:check" in chat.choices
        [t] = await ticket_rows(rt)
        assert (t.status, t.closed_by) == ("open", None)
        async with rt.db.tx() as c:  # staff can still answer it
            ids = await ticket_ops.reply(
                c, t.id, "Bisa, Bu.", staff_id=None, actor="t", now=Clock()()
            )
        rt.outbox.notify(ids)
        await rt.outbox.idle()
        assert chat.rt.transport.sent[-1][1]["text"].startswith("Petugas Dinas Sosial:\nBisa, Bu.")


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


async def staff_reply(rt, tid: int, text: str, clock=None) -> dict:
    """The officer's answer, relayed: the payload the resident got."""
    async with rt.db.tx() as c:
        ids = await ticket_ops.reply(
            c, tid, text, staff_id=None, actor="test", now=(clock or Clock())()
        )
    rt.outbox.notify(ids)
    await rt.outbox.idle()
    return rt.transport.sent[-1][1]


async def conversation_of(rt, user: str = "u1"):
    async with rt.db.tx(write=False) as c:
        return (
            await c.execute(
                sa.select(conversations).where(conversations.c.user_key == f"test:{user}")
            )
        ).first()


async def test_every_way_out_of_the_ticket_chat_keeps_the_question_open(db_url):
    """menu, batal, selesai, /start and a menu button leave the chat for the bot; the ticket
    stays open, the resident is told once with its number, and the answer still reaches them."""
    ways = [
        ("menu", "Menu utama. Apa yang ingin Anda lakukan?"),
        ("batal", "Menu utama. Apa yang ingin Anda lakukan?"),
        ("selesai", "Menu utama. Apa yang ingin Anda lakukan?"),
        ("/start", "Menu utama. Apa yang ingin Anda lakukan?"),
        ("m:check", "NIK"),
        ("/cek", "NIK"),
        ("bahasa", "Basa Sunda"),
    ]
    async with running(db_url) as rt:
        for n, (way, then) in enumerate(ways, start=1):
            chat = Chat(rt, user=f"w{n}")
            await chat.onboard()
            await ask(chat)
            got = await (chat.tap(way) if way.startswith("m:") else chat.send(way))
            text = "\n".join([m["text"] for m in got] + [c[1] for m in got for c in m["choices"]])
            assert text.count(f"tiket T-{n}") == 1, way
            assert "masih menunggu petugas" in text and then in text, way
            assert "Dibatalkan" not in text  # batal leaves the chat, it cancels nothing
            conv = await conversation_of(rt, f"w{n}")
            assert conv.owner == "bot", way
            # Back in the bot: a number is a menu choice again, not a message to the officer.
            t = (await ticket_rows(rt))[n - 1]
            assert (t.status, t.closed_by) == ("open", None), way
            answer = await staff_reply(rt, t.id, f"Jawaban {n}")
            assert rt.transport.sent[-1][0] == f"w{n}"
            assert answer["text"].startswith(f"Petugas Dinas Sosial:\nJawaban {n}")
        assert len(await ticket_rows(rt)) == len(ways)


async def test_contact_again_goes_back_to_the_open_ticket(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await ask(chat)
        await chat.send("menu")
        [back] = await chat.tap("g:contact")
        assert back["text"].startswith("Pertanyaan Anda (tiket T-1) masih terbuka.")
        assert chat.choices == ["h:withdraw", "g:menu"]
        assert await chat.send("Ibu saya lahir tahun 1950.") == []
        # "Hubungi petugas" typed in words from the menu does the same.
        await chat.send("menu")
        await chat.send("hubungi petugas")
        assert "tiket T-1" in chat.text and "masih terbuka" in chat.text
        assert await chat.send("2") == []  # a number in the chat is an answer, kept
        [t] = await ticket_rows(rt)
        assert t.status == "open"
        async with rt.db.tx(write=False) as c:
            bodies = [
                r.body
                for r in await c.execute(
                    sa.select(ticket_messages)
                    .where(ticket_messages.c.kind == "resident")
                    .order_by(ticket_messages.c.id)
                )
            ]
        assert bodies == [QUESTION, "Ibu saya lahir tahun 1950.", "2"]


async def test_answer_reaches_a_resident_busy_elsewhere_and_balas_petugas_goes_back(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await ask(chat)
        await chat.tap("m:check")  # leaves for the status check, at the NIK step
        assert (await conversation_of(rt)).step == "nik"
        answer = await staff_reply(rt, 1, "Silakan bawa KK ke kelurahan.", clock)
        assert rt.transport.sent[-1][0] == "u1"
        assert "selesai" not in answer["text"].lower()
        conv = await conversation_of(rt)
        assert (conv.flow, conv.step, conv.owner) == ("check", "nik", "bot")  # not cut off
        # The answer's button works from any step: back into the ticket's chat.
        [back] = await chat.tap("g:contact")
        assert "tiket T-1" in back["text"] and chat.choices == ["h:withdraw", "g:menu"]
        assert await chat.send("Terima kasih, KK asli atau fotokopi?") == []
        # Coming back to the chat hours later: the first message gets one line, then silence.
        clock.advance(hours=2)
        [ack] = await chat.send("Halo, masih ada pertanyaan.")
        assert ack["text"].startswith("Pesan Anda sudah ditambahkan ke pertanyaan Anda (tiket T-1)")
        assert await chat.send("Apakah bisa diwakilkan?") == []
        # Tapping it again inside the chat says where they are.
        [here] = await chat.tap("g:contact")
        assert "Anda sedang dalam percakapan" in here["text"]
        async with rt.db.tx(write=False) as c:
            kinds = [
                r.kind
                for r in await c.execute(sa.select(ticket_messages).order_by(ticket_messages.c.id))
            ]
        assert kinds == ["resident", "staff", "resident", "resident", "resident"]
        # Staff close while the resident is in the chat: the rating follows.
        async with rt.db.tx() as c:
            ids = await ticket_ops.close(c, 1, staff_id=None, actor="test", now=clock())
        rt.outbox.notify(ids)
        await rt.outbox.idle()
        assert "Bagaimana jawabannya?" in rt.transport.sent[-1][1]["text"]


async def test_staff_close_while_the_resident_is_busy_tells_without_cutting_off(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        busy, idle = Chat(rt, user="busy"), Chat(rt, user="idle")
        for chat in (busy, idle):
            await chat.onboard()
            await ask(chat)
        await busy.tap("m:check")
        await idle.send("menu")
        for tid in (1, 2):
            async with rt.db.tx() as c:
                ids = await ticket_ops.close(c, tid, staff_id=None, actor="test", now=clock())
            rt.outbox.notify(ids)
        await rt.outbox.idle()
        sent = {addr: p for addr, p in rt.transport.sent[-2:]}
        assert sent["busy"]["text"] == "Petugas sudah menutup pertanyaan Anda (tiket T-1)."
        assert sent["busy"]["choices"] == []
        conv = await conversation_of(rt, "busy")
        assert (conv.flow, conv.step) == ("check", "nik")
        assert "Bagaimana jawabannya?" in sent["idle"]["text"]  # resting at the menu: asked
        await idle.send("4")
        assert [t.rating for t in await ticket_rows(rt)] == [None, 4]


async def test_withdraw_needs_a_confirmation(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await ask(chat)
        [confirm] = await chat.tap("h:withdraw")
        assert confirm["text"].startswith("Tarik pertanyaan Anda (tiket T-1)?")
        assert chat.choices == ["h:wd:yes", "h:wd:no"]
        assert chat.labels == ["Ya, tarik", "Tidak, biarkan"]
        [kept] = await chat.tap("h:wd:no")
        assert "tetap terbuka" in kept["text"] and chat.choices == ["h:withdraw", "g:menu"]
        # The label typed asks again; a typed number answers the confirmation.
        await chat.send("Tarik pertanyaan")
        assert chat.choices == ["h:wd:yes", "h:wd:no"]
        await chat.send("2")
        assert "tetap terbuka" in chat.text
        # Something else at the confirmation is a message for the officer; the question stays.
        await chat.tap("h:withdraw")
        [added] = await chat.send("Sebentar, saya tanya suami dulu")
        assert "pesan Anda sudah ditambahkan" in added["text"]
        assert (await ticket_rows(rt))[0].status == "open"
        await chat.tap("h:withdraw")
        [done] = await chat.send("ya")
        assert done["text"].startswith(
            "Pertanyaan Anda (tiket T-1) sudah ditarik. Petugas tidak akan menjawabnya."
        )
        assert "m:check" in chat.choices
        [t] = await ticket_rows(rt)
        assert (t.status, t.closed_by) == ("closed", "resident")
        assert (await conversation_of(rt)).owner == "bot"
        async with rt.db.tx(write=False) as c:
            msgs = [
                (r.kind, r.body)
                for r in await c.execute(sa.select(ticket_messages).order_by(ticket_messages.c.id))
            ]
        assert msgs[-1] == ("system", "Warga menarik pertanyaan.")
        assert ("resident", "Sebentar, saya tanya suami dulu") in msgs
        async with rt.db.tx() as c:  # staff can no longer answer, and are told why
            try:
                await ticket_ops.reply(c, t.id, "x", staff_id=None, actor="t", now=Clock()())
            except ticket_ops.TicketError as e:
                assert "menarik pertanyaan" in str(e)
            else:
                raise AssertionError("reply to a withdrawn ticket")
        # A new question after that opens a new ticket.
        await ask(chat, "Pertanyaan lain tentang BPNT")
        assert "tiket T-2" in chat.text


async def test_withdrawn_ticket_and_escalation_flags_show_on_the_dashboard(db_url):
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
        first, second = Chat(rt, user="a"), Chat(rt, user="b")
        for chat in (first, second):
            await chat.onboard()
            await ask(chat)
        await first.send("menu")  # left, still open: it escalates
        await second.tap("h:withdraw")
        await second.tap("h:wd:yes")
        sched = Scheduler(rt.db, rt.deps, rt.outbox, clock=clock, jobs=[ticket_ops.sla_job])
        clock.advance(days=3, minutes=1)  # Thursday 10.01: 24 office hours
        await sched.run_once()
        client = TestClient(TestServer(rt.web))
        await client.start_server()
        try:
            assert (await login(client)).status == 302
            html = await (await client.get("/inbox?tab=all")).text()
            row = html[html.index("T-1") :].split("</tr>")[0]
            assert "dilaporkan ke kepala bidang" in row and "terlambat" in row
            page = await (await client.get("/inbox/1")).text()
            assert "Eskalasi" in page and "kepala bidang (26-11-2026 10.01 WIB)" in page
            assert "kepala dinas" not in page
            clock.advance(days=5)  # Tuesday 10.01: 48 office hours
            await sched.run_once()
            assert (await login(client)).status == 302  # the session ran out meanwhile
            html = await (await client.get("/inbox?tab=overdue")).text()
            assert "dilaporkan ke kepala dinas" in html
            page = await (await client.get("/inbox/1")).text()
            assert (
                "kepala bidang (26-11-2026 10.01 WIB), kepala dinas (01-12-2026 10.01 WIB)" in page
            )
            closed = await (await client.get("/inbox?tab=closed")).text()
            assert "T-2" in closed and "ditarik warga" in closed and "T-1" not in closed
            page = await (await client.get("/inbox/2")).text()
            assert "ditarik warga" in page and "Warga menarik pertanyaan." in page
            assert "warga menarik pertanyaan)" in page  # the Ditutup row says by whom
            assert 'action="/inbox/2/reply"' not in page
            # /stats counts both: one waiting (past due, missed), one withdrawn (not judged).
            stats = await (await client.get("/stats")).text()
            sla = stats[stats.index('id="sla"') :]
            week = sla[sla.index("23/11–29/11/2026") :].split("</tr>")[0]
            cells = re.findall(r"<td>(.*?)</td>", week)
            assert cells == ["2", "1", "0", "0", "1", "1", "0", "0%"]
        finally:
            await client.close()
