"""Shared services flows build on: require_match, notify (outside an inbound event), the scheduler,
and the pluggable staff CLI."""

from __future__ import annotations

import sqlalchemy as sa

from conversations import identity
from core.engine import Ctx, Flow, Input
from core.notify import notify, notify_many
from core.scheduler import Scheduler
from db.database import Database
from db.schema import conversations, outbound_messages
from tests.chatkit import KK_1, NIK_1, Chat, Clock, running

demo = Flow("demo")


@demo.ask("start")
async def _ask(ctx: Ctx) -> None:
    if not await identity.require_match(ctx, "demo", "start"):
        return
    ctx.say(f"demo person={identity.person_id(ctx)} household={identity.household_id(ctx)}")


@demo.on("start")
async def _on(ctx: Ctx, inp: Input) -> None:
    await ctx.not_understood()


async def _with_demo(rt) -> None:
    rt.service.engine.flows["demo"] = demo


async def test_require_match_runs_the_check_then_returns_to_the_flow(db_url):
    async with running(db_url) as rt:
        await _with_demo(rt)
        chat = Chat(rt)
        await chat.onboard()
        async with rt.db.tx() as c:  # send the resident into the demo flow, as a menu entry would
            await c.execute(sa.update(conversations).values(flow="demo", step="start"))
        *_, ask_nik = await chat.send("apa saja")  # the demo step does not understand; re-asks
        assert "Pertama, kami perlu mencocokkan data Anda" in ask_nik["text"]
        assert "Ketik NIK Anda" in ask_nik["text"] and "Cek status bansos" not in ask_nik["text"]
        await chat.send(NIK_1)
        await chat.tap("k:yes")
        [done] = await chat.send(KK_1)
        assert done["text"].startswith("Data Anda cocok: Kelurahan")
        assert "demo person=" in done["text"] and "household=" in done["text"]
        assert "Desil" not in done["text"]  # the short note, not the full status answer
        # A second visit needs no new check.
        async with rt.db.tx() as c:
            await c.execute(sa.update(conversations).values(flow="demo", step="start"))
        *_, again = await chat.send("lagi")
        assert "Pertama" not in again["text"] and "demo person=" in again["text"]


async def test_cancel_during_the_check_forgets_the_waiting_flow(db_url):
    async with running(db_url) as rt:
        await _with_demo(rt)
        chat = Chat(rt)
        await chat.onboard()
        async with rt.db.tx() as c:
            await c.execute(sa.update(conversations).values(flow="demo", step="start"))
        await chat.send("x")
        await chat.send("batal")
        await chat.tap("m:check")
        await chat.send(NIK_1)
        await chat.tap("k:yes")
        [result] = await chat.send(KK_1)
        assert "Desil" in result["text"]  # the plain check answer, not a jump into the demo flow


async def test_notify_queues_in_the_conversations_language_and_channel(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        en, idn = Chat(rt, "en-user"), Chat(rt, "id-user")
        await en.onboard("en")
        await idn.onboard("id")
        async with rt.db.tx(write=False) as c:
            cid = {r.user_key: r.id for r in await c.execute(sa.select(conversations))}
        async with rt.db.tx() as c:
            ids = await notify_many(
                c,
                [cid["test:en-user"], cid["test:id-user"]],
                lambda t: t._("Main menu"),
                now=clock(),
            )
            assert await notify(c, 999999, lambda t: "x", now=clock()) == []
        rt.outbox.notify(ids)
        await rt.outbox.idle()
        sent = {a: p["text"] for a, p in rt.transport.sent[-2:]}
        assert sent == {"en-user": "Main menu", "id-user": "Menu utama"}
        async with rt.db.tx(write=False) as c:
            rows = (
                await c.execute(sa.select(outbound_messages).where(outbound_messages.c.id.in_(ids)))
            ).all()
        assert {r.status for r in rows} == {"sent"} and all(
            r.inbound_event_id is None for r in rows
        )


async def test_scheduler_runs_jobs_in_their_own_transactions(db_url):
    clock = Clock()
    calls = []

    async def broken(conn, now, deps):
        raise RuntimeError("boom")

    async def remind(conn, now, deps):
        calls.append(now)
        cids = [r[0] for r in await conn.execute(sa.select(conversations.c.id))]
        return await notify_many(conn, cids, lambda t: "pengingat", now=now)

    async with running(db_url, clock=clock) as rt:
        chat = Chat(rt)
        await chat.onboard()
        sched = Scheduler(rt.db, rt.deps, rt.outbox, clock=clock, jobs=[broken, remind])
        assert await sched.run_once() == 1
        await rt.outbox.idle()
        assert rt.transport.sent[-1][1]["text"] == "pengingat"
        assert calls == [clock()]


def test_staff_cli_modules_plug_into_bot_py(monkeypatch, capsys):
    import types

    import bot
    import cli

    async def handler(settings, args):
        if args.fail:
            raise cli.CommandError("Tidak ditemukan: 7")
        print("ok", args.name)
        return 0

    import sys

    mod = types.ModuleType("cli_demo")

    monkeypatch.setitem(sys.modules, "cli_demo", mod)
    monkeypatch.setattr(cli, "MODULES", ("cli_demo",))

    def add(sub):
        p = sub.add_parser("demo")
        p.add_argument("name")
        p.add_argument("--fail", action="store_true")
        p.set_defaults(handler=handler)

    mod.add_parsers = add
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///:memory:")
    assert bot.main(["demo", "x"]) == 0
    assert capsys.readouterr().out.strip() == "ok x"
    assert bot.main(["demo", "x", "--fail"]) == 1
    assert "Tidak ditemukan: 7" in capsys.readouterr().err


async def test_the_scheduler_runs_a_job_once_per_tick_and_leads_alone(db_url):
    """Two schedulers (two workers): a tick's jobs run once (the second skips a job already run
    in that tick), counted in scheduled_jobs; on PostgreSQL only one holds the leader lock until
    it lets go (docs/scaling.md)."""
    from db.leader import SCHEDULER, AdvisoryLock, job_runs

    clock = Clock()
    runs: list[str] = []

    async def tick_job(conn, now, deps):
        runs.append("ran")
        return []

    db1, db2 = Database(db_url), Database(db_url)
    try:
        leaders = [AdvisoryLock(d, SCHEDULER, "scheduler") for d in (db1, db2)]
        s1, s2 = (
            Scheduler(d, None, None, clock=clock, jobs=[tick_job], leader=lead, worker_id=w)
            for d, lead, w in zip((db1, db2), leaders, ("h:1:a", "h:2:b"), strict=True)
        )
        assert await leaders[0].hold() and s1.is_leader
        if db_url.startswith("sqlite"):
            assert await leaders[1].hold() and s2.is_leader  # one process: it leads
        else:
            assert not await leaders[1].hold() and not s2.is_leader
            await leaders[0].release()
            assert await leaders[1].hold() and s2.is_leader
        await s1.run_once(tick=100)
        await s2.run_once(tick=100)  # the same tick: skipped
        await s2.run_once(tick=101)
        await s1.run_once()  # by hand (tests, tools): always runs, not counted
        assert runs == ["ran"] * 3
        async with db1.tx(write=False) as c:
            [row] = await job_runs(c)
        assert (row.name, row.runs, row.first_tick, row.last_tick, row.last_worker) == (
            "tick_job",
            2,
            100,
            101,
            "h:2:b",
        )
    finally:
        for lead in leaders:
            await lead.release()
        await db1.dispose()
        await db2.dispose()
