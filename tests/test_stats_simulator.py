"""Statistik (/stats: inline SVG charts and tables of the same numbers, operator scoping, the
simulator left out) and the simulator (/simulator: chat with the bot as a resident through the
same core, on the "web" channel)."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from datetime import date, timedelta
from html import unescape

import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from db.schema import (
    audit_log,
    conversations,
    inbound_events,
    reports,
    tickets,
    training_registrations,
    training_sessions,
)
from services.staff import add_staff
from tests.chatkit import Clock, running
from tests.test_web_auth import PASSWORD, hidden, login

TEGAL_GUNDIL, MULYAHARJA, KEDUNG_BADAK = "3271051002", "3271011007", "3271061003"


@asynccontextmanager
async def site(db_url, clock=None):
    clock = clock or Clock()  # Monday 23 Nov 2026, 10.00 WIB
    async with running(db_url, clock=clock) as rt:
        async with rt.db.tx() as c:
            for user, role, kel in (
                ("ani", "admin", None),
                ("budi", "verifikator", None),
                ("citra", "operator", TEGAL_GUNDIL),
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


def table(html: str, section: str) -> list[list[str]]:
    """The rows (header cell first) of the table in <section id=section>."""
    m = re.search(rf'<section class="card" id="{section}">(.*?)</section>', html, re.S)
    assert m, section
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S):
        rows.append(
            [
                unescape(re.sub(r"<[^>]+>", "", c)).strip()
                for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)
            ]
        )
    return rows


async def fill(rt, clock):
    """Residents on Telegram and WhatsApp, one simulated resident (must never be counted)."""
    now = clock()
    async with rt.db.tx() as c:

        def conv(key, channel, hh):
            return (
                sa.insert(conversations)
                .values(
                    user_key=key,
                    channel=channel,
                    address=key,
                    data={},
                    household_id=hh,
                    last_activity_at=now,
                    created_at=now,
                )
                .returning(conversations.c.id)
            )

        # The households of tests/data/dtsen_small.csv by No. KK (ids depend on the import's
        # order, which differs between the databases): 1, 2, 3 below are these.
        ids = dict((await c.execute(sa.text("SELECT no_kk, id FROM households"))).all())
        hh_of = {
            1: ids["3271052301150001"],  # Tegal Gundil, desil 2
            2: ids["3271011008090007"],  # Mulyaharja, desil 1
            3: ids["3271060203200002"],  # Kedung Badak, desil 7
        }
        tg1 = (await c.execute(conv("tg:1", "tg", hh_of[1]))).scalar_one()  # Tegal Gundil
        tg2 = (await c.execute(conv("tg:2", "tg", hh_of[1]))).scalar_one()  # the same again
        wa1 = (await c.execute(conv("wa:1", "wa", hh_of[2]))).scalar_one()  # Mulyaharja
        await c.execute(conv("tg:3", "tg", None))  # not matched
        web = (await c.execute(conv("web:ani:1", "web", hh_of[3]))).scalar_one()  # simulator
        for i, (ch, days) in enumerate(
            [("tg", 1), ("tg", 2), ("tg", 3), ("wa", 1), ("tg", 40), ("web", 1), ("web", 1)]
        ):
            await c.execute(
                sa.insert(inbound_events).values(
                    channel=ch,
                    external_id=f"x{i}",
                    user_key=f"{ch}:1",
                    address="1",
                    kind="text",
                    payload={"text": "halo"},
                    status="done",
                    received_at=now - timedelta(days=days),
                )
            )
        for i, (kel, state, who) in enumerate(
            [
                (TEGAL_GUNDIL, "DITERIMA", tg1),
                (TEGAL_GUNDIL, "SELESAI", tg2),
                (TEGAL_GUNDIL, "DITERIMA", None),
                (MULYAHARJA, "VERIFIKASI_RT", wa1),
                (TEGAL_GUNDIL, "DITERIMA", web),
            ]
        ):
            await c.execute(
                sa.insert(reports).values(
                    code=f"LPR-{i}",
                    category="USUL",
                    state=state,
                    reporter_conversation_id=who,
                    reporter_role="warga",
                    target_key=f"k{i}",
                    kelurahan_code=kel,
                    created_at=now,
                    updated_at=now,
                    due_at=now + timedelta(days=14),
                )
            )
        h = timedelta(hours=1)
        open_ = ("open", None, None)
        for conv_id, kel, opened, due, first, (status, closed_by, closed_at) in [
            (tg1, TEGAL_GUNDIL, now - 2 * h, now - h, now - 1.5 * h, open_),  # on time
            (tg2, TEGAL_GUNDIL, now - 2 * h, now - h, now - 0.5 * h, open_),  # late
            (wa1, MULYAHARJA, now - 3 * h, now - h, None, open_),  # past due, no answer
            (wa1, MULYAHARJA, now - h, now + 8 * h, None, open_),  # not due yet: not judged
            # closed by staff, answered on time
            (tg2, TEGAL_GUNDIL, now - 2 * h, now - h, now - 1.5 * h, ("closed", "staff", now)),
            # withdrawn by the resident before its due time, unanswered: not judged
            (
                tg1,
                TEGAL_GUNDIL,
                now - 2 * h,
                now - h,
                None,
                ("closed", "resident", now - 1.5 * h),
            ),
            # withdrawn after its due time, unanswered: missed
            (wa1, MULYAHARJA, now - 3 * h, now - 2 * h, None, ("closed", "resident", now - h)),
            (
                tg1,
                TEGAL_GUNDIL,
                now - timedelta(days=7),
                now - timedelta(days=6),
                now - timedelta(days=6, hours=1),
                open_,
            ),
            (web, TEGAL_GUNDIL, now - 2 * h, now - h, None, open_),  # simulator: left out
        ]:
            await c.execute(
                sa.insert(tickets).values(
                    conversation_id=conv_id,
                    status=status,
                    reason="asked",
                    kelurahan_code=kel,
                    opened_at=opened,
                    due_at=due,
                    first_response_at=first,
                    last_message_at=opened,
                    closed_at=closed_at,
                    closed_by=closed_by,
                )
            )
        sid = (
            await c.execute(
                sa.insert(training_sessions)
                .values(
                    title="Menjahit dasar",
                    sector="jahit",
                    organiser="Dinsos",
                    kecamatan_code="327105",
                    place="Aula",
                    starts_at=now + timedelta(days=10),
                    days=3,
                    quota=20,
                    deadline=date(2026, 12, 1),
                    desil_max=5,
                    age_min=17,
                    age_max=60,
                    priority=False,
                    created_at=now,
                )
                .returning(training_sessions.c.id)
            )
        ).scalar_one()
        people = dict((await c.execute(sa.text("SELECT id, household_id FROM people"))).all())
        by_hh: dict[int, list[int]] = {}
        for pid, hh in sorted(people.items()):
            by_hh.setdefault(next(k for k, v in hh_of.items() if v == hh), []).append(pid)
        for i, (pid, status, conv_id) in enumerate(
            [
                (by_hh[1][0], "CONFIRMED", tg1),
                (by_hh[1][1], "WAITLIST", tg2),
                (by_hh[2][0], "CONFIRMED", wa1),
                (by_hh[2][1], "CANCELLED", wa1),
                (by_hh[3][0], "CONFIRMED", web),
            ]
        ):
            await c.execute(
                sa.insert(training_registrations).values(
                    session_id=sid,
                    person_id=pid,
                    conversation_id=conv_id,
                    code=f"P{i}",
                    status=status,
                    desil=2,
                    registered_at=now,
                    updated_at=now,
                )
            )


async def test_stats_empty_is_friendly(db_url):
    async with site(db_url) as (rt, client, _):
        await login(client, next_="/stats")
        r = await client.get("/stats")
        html = await r.text()
        assert r.status == 200 and "Statistik layanan" in html
        assert html.count("Belum ada data untuk ditampilkan") == 5
        assert "<svg" not in html and 'href="/stats" aria-current="page"' in html


async def test_stats_numbers_match_the_data_and_leave_the_simulator_out(db_url):
    async with site(db_url) as (rt, client, clock):
        await fill(rt, clock)
        await login(client, user="budi")
        html = await (await client.get("/stats")).text()
        assert html.count('<svg class="chart"') == 6
        assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
        rep = table(html, "laporan")
        assert rep[0][0] == "Kelurahan" and rep[0][1] == "Diterima" and rep[0][-1] == "Jumlah"
        rows = {r[0]: r[1:] for r in rep[1:]}
        assert rows["Tegal Gundil"] == ["2", "0", "0", "0", "0", "1", "3"]  # not the simulator's
        assert rows["Mulya Harja"] == ["0", "1", "0", "0", "0", "0", "1"]
        assert rows["Jumlah"][-1] == "4"
        sla = table(html, "sla")
        # Every ticket counts, open or closed: week, opened, waiting, answered and open, closed
        # by staff, withdrawn, judged, on time, share.
        assert sla[0][:7] == [
            "Minggu",
            "Tiket dibuka",
            "Menunggu jawaban",
            "Dijawab, masih terbuka",
            "Ditutup petugas",
            "Ditarik warga",
            "Sudah dapat dinilai",
        ]
        assert len(sla) == 10
        assert sla[-2] == ["23/11–29/11/2026", "7", "2", "2", "1", "2", "5", "2", "40%"]
        assert sla[-3] == ["16/11–22/11/2026", "1", "0", "1", "0", "0", "1", "1", "100%"]
        assert sla[-1] == ["Jumlah", "8", "2", "3", "1", "2", "6", "3", "50%"]
        assert sla[1][1:] == ["0", "0", "0", "0", "0", "0", "0", "—"]
        desil = {r[0]: r[1] for r in table(html, "desil")[1:]}
        assert desil["1"] == "1" and desil["2"] == "1" and desil["7"] == "0"
        assert desil["Jumlah"] == "2"  # distinct households; the simulator's is not counted
        reg = table(html, "pelatihan")
        assert reg[1][0].startswith("Menjahit dasar (03-12-2026)")
        assert reg[1][1:] == ["2", "0", "1", "20"]
        chan = {r[0]: r[1:] for r in table(html, "kanal")[1:]}
        assert chan == {"Telegram": ["3", "3"], "WhatsApp": ["1", "1"]}
        assert "Simulator (uji coba petugas, tidak dihitung di atas): 1 percakapan, 2 pesan" in html


async def test_stats_operator_sees_their_kelurahan(db_url):
    async with site(db_url) as (rt, client, clock):
        await fill(rt, clock)
        await login(client, user="citra")
        html = await (await client.get("/stats")).text()
        assert "hanya untuk kelurahan Tegal Gundil" in html
        names = [r[0] for r in table(html, "laporan")[1:]]
        assert names == ["Tegal Gundil", "Jumlah"]
        sla = table(html, "sla")
        assert sla[-2] == ["23/11–29/11/2026", "4", "0", "2", "1", "1", "3", "2", "67%"]
        desil = {r[0]: r[1] for r in table(html, "desil")[1:]}
        assert desil["2"] == "1" and desil["1"] == "0" and desil["Jumlah"] == "1"
        assert table(html, "pelatihan")[1][1:] == ["1", "0", "1", "20"]
        assert "Penggunaan kanal (seluruh kota)" in html


async def _post(client, path, data):
    page = await client.get("/simulator")
    return await client.post(
        path, data={"_csrf": hidden(await page.text()), **data}, allow_redirects=False
    )


def _buttons(html: str) -> dict[str, str]:
    return {
        unescape(label): v
        for v, label in re.findall(
            r'name="choice" value="([^"]+)" class="secondary">([^<]+)</button>', html
        )
    }


async def test_simulator_start_consent_menu_choice_in_both_languages(db_url):
    async with site(db_url) as (rt, client, clock):
        await login(client, user="budi")
        page = await client.get("/simulator")
        assert page.status == 200 and "Belum ada warga simulasi" in await page.text()
        # CSRF: a start without the token is refused and starts nothing.
        r = await client.post("/simulator/start", data={"lang": "id"}, allow_redirects=False)
        assert r.status == 403
        r = await _post(client, "/simulator/start", {"lang": "id"})
        assert r.status == 302 and r.headers["Location"] == "/simulator?lang=id#pesan"
        html = await (await client.get("/simulator?lang=id")).text()
        assert "web:budi:1" in html and "Warga (Anda)" in html
        buttons = _buttons(html)
        assert "c:agree" in buttons.values(), buttons
        await _post(client, "/simulator/send", {"choice": "c:agree", "lang": "id"})
        html = await (await client.get("/simulator")).text()
        await _post(client, "/simulator/send", {"choice": "l:id", "lang": "id"})
        html = await (await client.get("/simulator")).text()
        menu = _buttons(html)
        assert "g:contact" in menu.values(), menu
        await _post(client, "/simulator/send", {"choice": "g:contact", "lang": "id"})
        html = await (await client.get("/simulator")).text()
        assert "Tulis pertanyaan Anda dalam satu pesan" in unescape(html)
        # Typed text goes through the same core.
        await _post(client, "/simulator/send", {"text": "menu", "lang": "id"})
        assert "g:contact" in _buttons(await (await client.get("/simulator")).text()).values()

        # "Mulai ulang" in English: a new simulated resident, its replies in English.
        await _post(client, "/simulator/start", {"lang": "en"})
        await _post(client, "/simulator/send", {"choice": "c:agree", "lang": "en"})
        await _post(client, "/simulator/send", {"choice": "l:en", "lang": "en"})
        html = unescape(await (await client.get("/simulator?lang=en")).text())
        assert "web:budi:2" in html and "English" in html
        assert "Tulis pertanyaan" not in html  # the old resident's log is not shown
        en_menu = _buttons(html)
        assert "g:contact" in en_menu.values() and en_menu != menu  # translated labels

        async with rt.db.tx(write=False) as c:
            convs = (
                await c.execute(
                    sa.select(
                        conversations.c.user_key, conversations.c.channel, conversations.c.locale
                    ).order_by(conversations.c.id)
                )
            ).all()
            starts = (
                await c.execute(
                    sa.select(audit_log.c.actor, audit_log.c.subject).where(
                        audit_log.c.action == "simulator.start"
                    )
                )
            ).all()
        assert [tuple(r) for r in convs] == [
            ("web:budi:1", "web", "id"),
            ("web:budi:2", "web", "en"),
        ]
        assert [tuple(r) for r in starts] == [
            ("staff:budi", "web:budi:1"),
            ("staff:budi", "web:budi:2"),
        ]
        # Another staff member has their own residents, and sees none of budi's.
        client2 = TestClient(TestServer(rt.web))
        await client2.start_server()
        try:
            await login(client2, user="citra")
            assert "Belum ada warga simulasi" in await (await client2.get("/simulator")).text()
        finally:
            await client2.close()
        # Statistics leave the simulator out.
        stats = await (await client.get("/stats")).text()
        assert "Simulator (uji coba petugas, tidak dihitung di atas): 2 percakapan" in stats
        assert table(stats, "kanal") == [] or "Simulator" not in [
            r[0] for r in table(stats, "kanal")
        ]


async def test_simulator_transport_is_bounded():
    from handlers.simulator import WebTransport

    t = WebTransport(max_users=2, max_lines=3)
    for u in ("a", "b", "c"):
        for i in range(5):
            await t.send(u, {"text": str(i)})
    assert list(t.logs) == ["b", "c"] and [p["text"] for _, p in t.lines("c")] == ["2", "3", "4"]


async def test_simulated_question_reaches_the_inbox_and_the_answer_the_simulator(db_url):
    async with site(db_url) as (rt, client, clock):
        await login(client, user="ani")
        await _post(client, "/simulator/start", {"lang": "id"})
        for choice in ("c:agree", "l:id", "g:contact"):
            await _post(client, "/simulator/send", {"choice": choice, "lang": "id"})
        await _post(client, "/simulator/send", {"text": "Uji coba: kapan PKH cair?", "lang": "id"})
        html = unescape(await (await client.get("/simulator")).text())
        assert "Uji coba: kapan PKH cair?" in html and "tiket T-1" in html
        inbox = await (await client.get("/inbox")).text()
        assert "T-1" in inbox and "Simulator" in inbox
        ticket = await client.get("/inbox/1")
        r = await client.post(
            "/inbox/1/reply",
            data={"_csrf": hidden(await ticket.text()), "text": "Jawaban dari petugas."},
            allow_redirects=False,
        )
        assert r.status == 302
        await rt.outbox.idle()
        html = unescape(await (await client.get("/simulator")).text())
        assert "Jawaban dari petugas." in html
