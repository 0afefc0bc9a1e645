"""Delivery that survives crashes, outages and a stop (issue #13, docs/delivery.md).

The real core (inbox, engine, outbox) is driven through tests/chatkit.py; the transports fail the
way core/model.py's send errors say (retry-after, network error, final answer); a "crash" is the
end of a Runtime without its writes (its tasks cancelled, the database left as it is) and a new
Runtime on the same database. Every scenario counts, per outbox row: lost 0, doubled 0 (except
the counted mid-request resend).
"""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
import sqlalchemy as sa

import core.outbox as outbox_mod
from core.inbox import MAX_EVENT_ATTEMPTS
from core.model import SendFinal, SendRetry
from db import dashboard_store, inbox_store, outbox_store
from db.schema import inbound_events, outbound_messages
from tests.chatkit import Chat, Clock, running

O, I = outbound_messages.c, inbound_events.c


class Flaky:
    """A transport that answers from a script, then succeeds. Each script item: None (ok), an
    exception to raise, or "hang" (the request never returns: a crash catches it mid-request).
    `sent` holds what reached the network (address, payload); `tries` every call."""

    channel = "test"
    rate_global = 1e9
    rate_per_chat = 1e9

    def __init__(self, script=(), fail_all: BaseException | None = None):
        self.script = list(script)
        self.fail_all = fail_all
        self.sent: list[tuple[str, dict]] = []
        self.tries = 0

    async def send(self, address: str, payload: dict) -> str:
        self.tries += 1
        await asyncio.sleep(0)
        outcome = self.script.pop(0) if self.script else None
        if self.fail_all is not None:
            raise self.fail_all
        if outcome == "hang":
            await asyncio.Event().wait()
        if isinstance(outcome, BaseException):
            raise outcome
        self.sent.append((address, payload))
        return f"m{len(self.sent)}"


def use(rt, transport) -> None:
    rt.outbox.register(transport)
    rt.transport = transport


async def crash(rt) -> None:
    """The process dies: no status is written; whatever was in memory is gone."""
    await rt.outbox.stop(grace=0)
    rt.outbox.notify = lambda ids: None
    rt.outbox.submit = lambda rows: None


async def rows(rt) -> list:
    async with rt.db.tx(write=False) as c:
        return (await c.execute(sa.select(outbound_messages).order_by(O.id))).all()


def texts_of(transports) -> list[str]:
    return [p["text"] for t in transports for _, p in t.sent]


async def settle(rt) -> None:
    await rt.outbox._poll_once()
    await rt.service.idle()
    await rt.outbox.idle()


async def converse(rt, n: int = 3) -> None:
    """n residents start, agree and pick a language without waiting for the sends."""
    for i in range(n):
        chat = Chat(rt, f"w{i}")
        await chat.send("/start")
        await chat.tap("c:agree")


def assert_each_row_sent_once(all_rows, transports, resent: int = 0) -> None:
    sent = texts_of(transports)
    assert [r.status for r in all_rows] == ["sent"] * len(all_rows)  # lost 0
    assert len(sent) == len(all_rows) + resent  # doubled 0 (but the counted resends)


@pytest.fixture
def fast_backoff(monkeypatch):
    monkeypatch.setattr(outbox_mod, "BACKOFF_CAP", 0.01)


async def test_a_retry_storm_and_a_crash_lose_nothing(db_url, fast_backoff):
    """429 with retry_after for every send, then a crash while the rows wait: they are queued
    (not `sending`), and the next start sends each one once."""
    clock = Clock()
    t1 = Flaky(fail_all=SendRetry("Too Many Requests", retry_after=30))
    async with running(db_url, clock=clock, csv=None) as rt:
        use(rt, t1)
        for i in range(3):
            await rt.service.receive(_event(f"w{i}"))
        await rt.service.idle()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if all(r.last_error for r in await rows(rt)):
                break
        before = await rows(rt)
        assert before and {r.status for r in before} == {"queued"}
        await crash(rt)
    clock.advance(minutes=1)
    t2 = Flaky()
    async with running(db_url, clock=clock, csv=None) as rt2:
        use(rt2, t2)
        await settle(rt2)
        assert rt2.outbox.resent_at_start == 0
        assert t1.sent == []
        assert_each_row_sent_once(await rows(rt2), [t2])


def _event(user: str, text: str = "/start"):
    from core.model import Event

    return Event(
        "test",
        f"test:{user}",
        f"{user}-{time.monotonic_ns()}",
        "command",
        {"command": text.lstrip("/"), "args": ""},
        user,
        "id",
    )


async def test_network_errors_and_a_long_outage_do_not_fail_rows(db_url, fast_backoff):
    """Network errors and 5xx (no retry_after) far beyond the old 8 attempts: every row goes out
    once the server is back, in order per chat."""
    script = [SendRetry("ClientConnectorError")] * 6 + [SendRetry("502 Bad Gateway")] * 10
    t = Flaky(script)
    async with running(db_url, csv=None) as rt:
        use(rt, t)
        await converse(rt, 2)
        await settle(rt)
        all_rows = await rows(rt)
        assert_each_row_sent_once(all_rows, [t])
        assert max(r.attempts for r in all_rows) >= 9
        assert t.tries == len(all_rows) + len(script)


async def test_a_final_answer_fails_the_row_at_once(db_url):
    t = Flaky([SendFinal("Bad Request: chat not found")])
    async with running(db_url, csv=None) as rt:
        use(rt, t)
        await Chat(rt, "w0").send("/start")
        await settle(rt)
        first, *rest = await rows(rt)
        assert (first.status, first.attempts) == ("failed", 1)
        assert [r.status for r in rest] == ["sent"] * len(rest)


async def test_a_failed_mark_never_sends_twice(db_url, monkeypatch):
    """The send succeeds, the database refuses the mark once: the mark is tried again, the row
    is never re-queued, never sent a second time."""
    real = outbox_store.mark_sent
    failures = []

    async def flaky_mark(conn, marks):
        if not failures:
            failures.append(len(marks))
            raise sa.exc.OperationalError("UPDATE", {}, Exception("database is locked"))
        await real(conn, marks)

    monkeypatch.setattr(outbox_store, "mark_sent", flaky_mark)
    t = Flaky()
    async with running(db_url, csv=None) as rt:
        use(rt, t)
        await converse(rt, 2)
        await settle(rt)
        assert failures
        assert_each_row_sent_once(await rows(rt), [t])
    async with running(db_url, csv=None) as rt2:  # and a restart finds nothing to resend
        t2 = Flaky()
        use(rt2, t2)
        await settle(rt2)
        assert t2.sent == [] and rt2.outbox.resent_at_start == 0


async def test_a_row_caught_mid_request_is_resent_once_and_counted(db_url):
    clock = Clock()
    t1 = Flaky(["hang"])
    async with running(db_url, clock=clock, csv=None) as rt:
        use(rt, t1)
        await rt.service.receive(_event("w0"))
        await rt.service.idle()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if any(r.status == "sending" for r in await rows(rt)):
                break
        assert [r.status for r in await rows(rt)][0] == "sending"
        await crash(rt)
    t2 = Flaky()
    async with running(db_url, clock=clock, csv=None) as rt2:
        use(rt2, t2)
        await settle(rt2)
        assert rt2.outbox.resent_at_start == 1
        all_rows = await rows(rt2)
        assert_each_row_sent_once(all_rows, [t1, t2])  # the hung one never reached t1.sent
        assert all_rows[0].interrupted == 1
        async with rt2.db.tx(write=False) as c:
            stats = await dashboard_store.summary(c, now=clock(), day_start=clock())
        assert stats["outbound_resent"] == 1


async def test_stop_with_a_full_queue_is_quick_and_keeps_the_rest(db_url):
    """A stop while one chat has many replies waiting for its 1/s turn: it returns within a
    few seconds, nothing is lost, and the next start sends the rest once, in order."""
    clock = Clock()

    class Slow(Flaky):
        rate_per_chat = 1.0

    t1 = Slow()
    async with running(db_url, clock=clock, csv=None) as rt:
        use(rt, t1)
        for _ in range(12):  # 12 questions: each answered, all to one chat
            await rt.service.receive(_event("w0", "/menu"))
        await rt.service.idle()
        started = time.monotonic()
        await rt.stop()
        took = time.monotonic() - started
        assert took < 5
        left = [r for r in await rows(rt) if r.status != "sent"]
        assert left and {r.status for r in left} == {"queued"}
    t2 = Flaky()
    async with running(db_url, clock=clock, csv=None) as rt2:
        use(rt2, t2)
        await settle(rt2)
        assert rt2.outbox.resent_at_start == 0
        assert_each_row_sent_once(await rows(rt2), [t1, t2])


def _locked() -> Exception:
    return sa.exc.OperationalError("UPDATE conversations", {}, Exception("database is locked"))


async def test_a_transient_processing_error_is_retried_by_the_sweeper(db_url, monkeypatch):
    real = inbox_store.finish_event
    fails = [1, 1]

    async def flaky_finish(conn, state, *a, **kw):  # the write that ends an event's step
        if fails:
            fails.pop()
            raise _locked()
        await real(conn, state, *a, **kw)

    monkeypatch.setattr(inbox_store, "finish_event", flaky_finish)
    async with running(db_url, csv=None) as rt:
        chat = Chat(rt, "w0")
        assert await chat.send("/start") == []  # failed transiently: no apology, still pending
        async with rt.db.tx(write=False) as c:
            ev = (await c.execute(sa.select(inbound_events))).one()
        assert (ev.status, ev.attempts) == ("pending", 1)
        for _ in range(2):
            rt.service._retry_at.clear()  # the pause is over
            await rt.service.sweep()
            await settle(rt)
        async with rt.db.tx(write=False) as c:
            ev = (await c.execute(sa.select(inbound_events))).one()
        assert (ev.status, ev.attempts) == ("done", 2)
        texts = [p["text"] for _, p in rt.transport.sent]
        assert texts and not any("gangguan" in t for t in texts)
        assert_each_row_sent_once(await rows(rt), [rt.transport])


async def test_an_event_that_keeps_failing_is_dead_lettered_and_counted(db_url, monkeypatch):
    async def broken_finish(conn, state, *a, **kw):
        raise _locked()

    monkeypatch.setattr(inbox_store, "finish_event", broken_finish)
    async with running(db_url, csv=None) as rt:
        await Chat(rt, "w0").send("/start")
        for _ in range(MAX_EVENT_ATTEMPTS + 2):
            rt.service._retry_at.clear()
            await rt.service.sweep()
            await settle(rt)
        async with rt.db.tx(write=False) as c:
            ev = (await c.execute(sa.select(inbound_events))).one()
            assert await inbox_store.count_dead(c) == 1
            [dead] = await inbox_store.dead_events(c)
            stats = await dashboard_store.summary(c, now=rt.clock(), day_start=rt.clock())
        assert (ev.status, ev.attempts) == ("dead", MAX_EVENT_ATTEMPTS)
        assert dead.id == ev.id and dead.error == "OperationalError"
        assert stats["inbound_dead"] == 1
        [apology] = [p["text"] for _, p in rt.transport.sent]
        assert "gangguan" in apology  # told once


async def test_an_event_left_unprocessed_by_a_crash_is_processed_at_start(db_url):
    clock = Clock()
    async with running(db_url, clock=clock, csv=None) as rt:
        rt.service.schedule = lambda key: None  # dies before processing
        await rt.service.receive(_event("w0"))
        await crash(rt)
    async with running(db_url, clock=clock, csv=None) as rt2:
        await settle(rt2)
        async with rt2.db.tx(write=False) as c:
            ev = (await c.execute(sa.select(inbound_events))).one()
        assert ev.status == "done"
        assert_each_row_sent_once(await rows(rt2), [rt2.transport])


@pytest.mark.serial
async def test_sigterm_with_a_full_queue_exits_quickly_and_loses_nothing(db_url):
    """`bot.py run` as a real process against the fake Telegram server, 1 message/s per chat:
    40 messages from one resident, SIGTERM once the replies are trickling out. The process
    exits within 10 s (systemd's and Docker's patience); the next start sends the rest, once."""
    from db.database import Database
    from tests.fakes.telegram_api import FakeTelegramAPI, text_update
    from tests.test_telegram_e2e import Service, service_env

    user = 5550002
    async with FakeTelegramAPI() as fake:
        env = service_env(db_url, fake.base_url)
        env["TELEGRAM_RATE_PER_CHAT"] = "1"
        svc = Service(env)
        await svc.start()
        fake.push_updates([text_update(100 + i, user, "/start") for i in range(40)])
        await fake.wait_for_messages(user, 3, timeout=20)
        started = time.monotonic()
        svc.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(svc.proc.wait(), 30)
        took = time.monotonic() - started
        await svc._reader
        assert code == 0, svc.log.decode(errors="replace")[-3000:]
        assert took < 10, f"{took:.1f} s to exit"
        first = len(fake.messages_to(user))
        db = Database(db_url)
        try:
            async with db.tx(write=False) as c:
                statuses = [r[0] for r in await c.execute(sa.select(O.status))]
            assert "sending" not in statuses and "failed" not in statuses
            assert statuses.count("queued") > 0  # left for the next start
            env["TELEGRAM_RATE_PER_CHAT"] = "50"
            svc = Service(env)
            await svc.start()
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    async with db.tx(write=False) as c:
                        pending = await c.scalar(
                            sa.select(sa.func.count()).where(I.status == "pending")
                        )
                        rows_ = [r[0] for r in await c.execute(sa.select(O.status))]
                    if not pending and rows_ and set(rows_) == {"sent"}:
                        break
                    await asyncio.sleep(0.2)
                assert set(rows_) == {"sent"}, rows_
                await asyncio.sleep(0.5)
                total = len(fake.messages_to(user))
                assert total == len(rows_) and total > first  # lost 0, doubled 0
            finally:
                assert await svc.stop() == 0
        finally:
            await db.dispose()


def test_dead_letters_are_listed_without_the_message(db_url, monkeypatch, capsys):
    from datetime import UTC, datetime

    import bot
    from db.database import Database

    async def add_dead():
        db = Database(db_url)
        async with db.tx() as c:
            await c.execute(
                sa.insert(inbound_events).values(
                    channel="tg",
                    external_id="77",
                    user_key="tg:9",
                    address="9",
                    kind="text",
                    payload={"text": "3271051203780002"},
                    status="dead",
                    attempts=5,
                    error="OperationalError",
                    received_at=datetime(2026, 11, 29, 3, 0, tzinfo=UTC),
                )
            )
        await db.dispose()

    asyncio.run(add_dead())
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert bot.main(["dead-letters"]) == 0
    out = capsys.readouterr().out
    assert "1 dead-lettered inbound event(s)" in out
    assert "tg text received 2026-11-29 03:00 attempts 5: OperationalError" in out
    assert "3271051203780002" not in out


async def test_the_dashboard_home_shows_resends_and_dead_letters(db_url):
    from tests.test_web_auth import dashboard, login

    async with dashboard(db_url) as (rt, client, _clock):
        async with rt.db.tx() as c:
            await c.execute(
                sa.insert(inbound_events).values(
                    channel="tg",
                    external_id="1",
                    user_key="tg:1",
                    address="1",
                    kind="text",
                    payload={},
                    status="dead",
                    attempts=5,
                    received_at=rt.clock(),
                )
            )
            for interrupted in (1, 1, 0):
                await c.execute(
                    sa.insert(outbound_messages).values(
                        channel="tg",
                        user_key="tg:1",
                        address="1",
                        payload={"text": "x"},
                        status="sent",
                        interrupted=interrupted,
                        next_attempt_at=rt.clock(),
                        created_at=rt.clock(),
                    )
                )
        await login(client)
        html = await (await client.get("/")).text()
        assert "1 tidak dapat diproses setelah dicoba ulang" in html
        assert "2 dikirim ulang setelah terputus" in html
