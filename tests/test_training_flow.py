"""Skills training on the core: list, filter, register, waitlist, cancel and promotion, refusals,
reminders at the right Jakarta time, DTSEN-priority allocation, and the last-seat race."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa

from conversations.registry import JOBS
from core.scheduler import Scheduler
from db.schema import training_registrations, training_sessions
from tests.chatkit import Clock
from tests.kubekit import add_session, matched, world


async def _regs(rt):
    async with rt.db.tx(write=False) as c:
        return (
            await c.execute(sa.select(training_registrations).order_by(training_registrations.c.id))
        ).all()


async def test_list_detail_register_waitlist_cancel_promotes(db_url):
    async with world(db_url) as rt:
        sid = await add_session(rt, quota=1)
        other = await add_session(
            rt,
            title="Barista pemula",
            sector="barista",
            kecamatan="Bogor Selatan",
            start="2026-12-10 09:00",
        )
        siti = await matched(rt, "siti", "m:training")
        # The resident's kecamatan (Bogor Utara) first.
        assert siti.choices[:2] == [f"t:{sid}", f"t:{other}"]
        assert "Menjahit dasar" in siti.text
        await siti.tap("t:sector")
        await siti.tap("s:barista")
        assert siti.choices[0] == f"t:{other}" and f"t:{sid}" not in siti.choices
        await siti.tap("t:sector")
        await siti.tap("s:all")
        await siti.tap(f"t:{sid}")
        assert "LPK Maju" in siti.text and "t:reg" in siti.choices
        [ok] = await siti.tap("t:reg")
        regs = await _regs(rt)
        assert regs[0].status == "CONFIRMED" and regs[0].code in ok["text"]
        # Second resident: the session is full, so the waitlist, number 1.
        budi = await matched(rt, "budi", "m:training")
        await budi.tap(f"t:{sid}")
        [wait] = await budi.tap("t:reg")
        assert (await _regs(rt))[1].status == "WAITLIST" and " 1 " in wait["text"]
        # Registering again is refused with the reason.
        await budi.tap("t:list")
        await budi.tap(f"t:{sid}")
        await budi.tap("t:reg")
        assert "g:contact" in budi.choices
        # Siti cancels: Budi gets the seat and is told.
        await siti.tap("t:mine")
        await siti.tap(f"r:{regs[0].id}")
        await siti.tap("r:cancel")
        await siti.tap("r:yes")
        regs = await _regs(rt)
        assert [r.status for r in regs] == ["CANCELLED", "CONFIRMED"]
        told = [p["text"] for a, p in rt.transport.sent if a == "budi"][-1]
        assert regs[1].code in told  # the notification
        async with rt.db.tx(write=False) as c:
            assert (
                await c.scalar(
                    sa.select(training_sessions.c.seats_taken).where(training_sessions.c.id == sid)
                )
                == 1
            )


async def test_refusals_desil_age_overlap_keep_the_resident_in_the_flow(db_url):
    async with world(db_url) as rt:
        sid = await add_session(rt, desil_max=2, quota=5)
        clash = await add_session(
            rt, title="Tata boga", sector="tata_boga", start="2026-12-07 13:00", quota=5
        )
        dewi = await matched(rt, "dewi", "m:training")  # desil 3
        await dewi.tap(f"t:{sid}")
        [r] = await dewi.tap("t:reg")
        assert "desil 1–2" in r["text"] and "3" in r["text"] and "g:contact" in dewi.choices
        putri = await matched(rt, "putri", "m:training")  # 16 years old
        await putri.tap(f"t:{clash}")
        [r] = await putri.tap("t:reg")
        assert "18–60" in r["text"] and "16" in r["text"]
        siti = await matched(rt, "siti", "m:training")
        await siti.tap(f"t:{sid}")
        await siti.tap("t:reg")
        await siti.tap("t:list")
        await siti.tap(f"t:{clash}")  # 7 Dec falls within 5-7 Dec
        [r] = await siti.tap("t:reg")
        assert "Menjahit dasar" in r["text"]
        assert [x.status for x in await _regs(rt)] == ["CONFIRMED"]
        # A bad input keeps the step.
        await siti.tap("t:list")
        await siti.send("bukan pilihan")
        assert f"t:{sid}" in siti.choices


async def test_reminders_at_jakarta_time_once(db_url):
    clock = Clock(datetime(2026, 11, 23, 3, 0, tzinfo=UTC))
    async with world(db_url, clock=clock) as rt:
        sid = await add_session(rt, quota=5)  # starts 5 Dec 08.00 WIB
        siti = await matched(rt, "siti", "m:training")
        await siti.tap(f"t:{sid}")
        await siti.tap("t:reg")
        sched = Scheduler(rt.db, rt.deps, rt.outbox, clock=clock, jobs=JOBS)
        # 2 Dec 07.59 WIB: not yet (3-day reminder from 08.00 WIB on 2 Dec).
        clock.now = datetime(2026, 12, 2, 0, 59, tzinfo=UTC)
        assert await sched.run_once() == 0
        clock.now = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
        assert await sched.run_once() == 1
        await rt.outbox.idle()
        assert (
            "3" in rt.transport.sent[-1][1]["text"]
            and "Menjahit dasar" in rt.transport.sent[-1][1]["text"]
        )
        assert await sched.run_once() == 0  # idempotent
        clock.now = datetime(2026, 12, 4, 0, 59, tzinfo=UTC)
        assert await sched.run_once() == 0
        clock.now = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
        assert await sched.run_once() == 1
        assert await sched.run_once() == 0
        clock.now = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
        assert await sched.run_once() == 0
        regs = await _regs(rt)
        assert regs[0].reminded_3d_at and regs[0].reminded_1d_at


async def test_priority_session_allocates_by_desil_then_time_at_the_deadline(db_url):
    clock = Clock(datetime(2026, 11, 23, 3, 0, tzinfo=UTC))
    async with world(db_url, clock=clock) as rt:
        sid = await add_session(rt, quota=2, priority=1, desil_max=4)
        chats = {}
        for who in ("dewi", "budi", "rina", "siti"):  # desil 3, 2, 2, 1 in this order
            c = chats[who] = await matched(rt, who, "m:training")
            await c.tap(f"t:{sid}")
            await c.tap("t:reg")
            clock.advance(minutes=1)
        assert {r.status for r in await _regs(rt)} == {"PENDING"}
        sched = Scheduler(rt.db, rt.deps, rt.outbox, clock=clock, jobs=JOBS)
        clock.now = datetime(2026, 12, 1, 16, 59, tzinfo=UTC)  # 1 Dec 23.59 WIB
        assert await sched.run_once() == 0
        clock.now = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 2 Dec 00.00 WIB
        assert await sched.run_once() == 4
        await rt.outbox.idle()
        by = {r.person_id: r.status for r in await _regs(rt)}
        status = [r.status for r in await _regs(rt)]  # dewi, budi, rina, siti
        assert status == ["WAITLIST", "CONFIRMED", "WAITLIST", "CONFIRMED"], by
        assert await sched.run_once() == 0
        told = {a: p["text"] for a, p in rt.transport.sent[-4:]}
        assert set(told) == {"dewi", "budi", "rina", "siti"}
        assert all("Menjahit dasar" in t for t in told.values())
        assert "nomor 1 di daftar tunggu" in told["rina"] and "nomor 2" in told["dewi"]
        # Siti cancels: the first on the waiting list by the allocation's order (Rina, desil 2)
        # gets the seat, not the earliest registration (Dewi, desil 3).
        siti = chats["siti"]
        await siti.tap("g:menu")
        await siti.tap("m:training")
        await siti.tap("t:mine")
        await siti.tap(siti.choices[0])
        await siti.tap("r:cancel")
        await siti.tap("r:yes")
        assert [r.status for r in await _regs(rt)] == [
            "WAITLIST",
            "CONFIRMED",
            "CONFIRMED",
            "CANCELLED",
        ]
        assert "Kabar baik" in [p["text"] for a, p in rt.transport.sent if a == "rina"][-1]


async def test_two_residents_race_for_the_last_seat(db_url):
    async with world(db_url) as rt:
        sid = await add_session(rt, quota=1)
        a = await matched(rt, "siti", "m:training")
        b = await matched(rt, "budi", "m:training")
        await a.tap(f"t:{sid}")
        await b.tap(f"t:{sid}")
        await asyncio.gather(a.tap("t:reg"), b.tap("t:reg"))
        assert sorted(r.status for r in await _regs(rt)) == ["CONFIRMED", "WAITLIST"]
        async with rt.db.tx(write=False) as c:
            assert await c.scalar(sa.select(training_sessions.c.seats_taken)) == 1


async def test_store_register_in_two_transactions_at_once(db_url):
    """The store call itself, two transactions in flight together (on PostgreSQL truly
    concurrent): one CONFIRMED, one WAITLIST, seats_taken never above the quota."""
    from db import training_store
    from db.schema import people
    from tests.kubekit import PEOPLE

    async with world(db_url) as rt:
        sid = await add_session(rt, quota=1)
        async with rt.db.tx(write=False) as c:
            pids = [
                await c.scalar(sa.select(people.c.id).where(people.c.nik == PEOPLE[w][0]))
                for w in ("siti", "budi")
            ]

        async def register(pid):
            async with rt.db.tx() as c:
                s = await training_store.session(c, sid)
                status, _ = await training_store.register(
                    c, s=s, person_id=pid, desil=2, now=rt.service.clock(), conversation_id=None
                )
                await asyncio.sleep(0)  # let the other transaction run before this one commits
                return status

        assert sorted(await asyncio.gather(*map(register, pids))) == ["CONFIRMED", "WAITLIST"]
        async with rt.db.tx(write=False) as c:
            assert await c.scalar(sa.select(training_sessions.c.seats_taken)) == 1
