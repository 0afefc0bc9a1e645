"""The outbox: claim-before-send (never twice), typed retries, stop on a blocked chat, order."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from core.model import SendFinal, SendHeld, SendRetry, SendStopped
from core.outbox import Bucket, Outbox
from db.database import Database
from db.schema import outbound_messages

O = outbound_messages.c


class Scripted:
    """A transport whose answers are scripted per call: None = ok, or an exception to raise."""

    channel = "test"
    rate_global = 1000.0
    rate_per_chat = 1000.0

    def __init__(self, script=None):
        self.script = list(script or [])
        self.sent: list[tuple[float, str, str]] = []

    async def send(self, address, payload):
        await asyncio.sleep(0)
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        self.sent.append((time.monotonic(), address, payload["text"]))
        return str(len(self.sent))


async def queue(db, texts, address="a1"):
    now = datetime.now(UTC)
    async with db.tx() as c:
        res = await c.execute(
            sa.insert(outbound_messages).returning(O.id, sort_by_parameter_order=True),
            [
                dict(
                    channel="test",
                    user_key=f"test:{address}",
                    address=address,
                    payload={"text": t, "choices": [], "request": None},
                    status="queued",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
                for t in texts
            ],
        )
        return [r[0] for r in res]


async def statuses(db):
    async with db.tx(write=False) as c:
        return [
            (r.status, r.last_error)
            for r in await c.execute(sa.select(O.status, O.last_error).order_by(O.id))
        ]


async def run_outbox(db, transport, ids, **kw):
    ob = Outbox(db, **kw)
    ob.register(transport)
    await ob.start()
    ob.notify(ids)
    await ob.idle()
    await ob.stop()
    return ob


async def test_sends_in_order_and_marks_sent(db):
    t = Scripted()
    ids = await queue(db, ["one", "two", "three"])
    await run_outbox(db, t, ids)
    assert [s[2] for s in t.sent] == ["one", "two", "three"]
    assert await statuses(db) == [("sent", None)] * 3


async def test_retry_after_is_honoured(db):
    t = Scripted([SendRetry("Too Many Requests", retry_after=0.4)])
    ids = await queue(db, ["hello", "after"])
    start = time.monotonic()
    await run_outbox(db, t, ids)
    assert [s[2] for s in t.sent] == ["hello", "after"]  # order kept across the retry
    assert t.sent[0][0] - start >= 0.4
    assert [s[0] for s in await statuses(db)] == ["sent", "sent"]


async def test_server_errors_are_retried_until_sent(db):
    # No small attempt cap: 12 server errors in a row, then the row goes out (in place, in order).
    t = Scripted([SendRetry("500", retry_after=0.01)] * 12)
    ids = await queue(db, ["x", "y"])
    await run_outbox(db, t, ids)
    async with db.tx(write=False) as c:
        rows = (await c.execute(sa.select(outbound_messages).order_by(O.id))).all()
    assert [r.status for r in rows] == ["sent", "sent"]
    assert rows[0].attempts == 13 and rows[0].last_error == "500"
    assert [s[2] for s in t.sent] == ["x", "y"]


async def test_a_retry_waits_queued_not_sending(db):
    t = Scripted([SendRetry("502", retry_after=5)])
    ids = await queue(db, ["x"])
    ob = Outbox(db)
    ob.register(t)
    await ob.start()
    ob.notify(ids)
    for _ in range(200):
        await asyncio.sleep(0.01)
        async with db.tx(write=False) as c:
            row = (await c.execute(sa.select(outbound_messages))).one()
        if row.last_error == "502":
            break
    assert row.status == "queued" and row.next_attempt_at > datetime.now(UTC)
    started = time.monotonic()
    await ob.stop()
    assert time.monotonic() - started < 1  # the wait is not a request in flight
    assert await statuses(db) == [("queued", "502")]


async def test_retries_end_at_the_horizon(db):
    from datetime import timedelta

    t = Scripted([SendRetry("503", retry_after=0.01)] * 3)
    ids = await queue(db, ["x"])
    async with db.tx() as c:
        await c.execute(
            sa.update(outbound_messages).values(created_at=datetime.now(UTC) - timedelta(hours=2))
        )
    await run_outbox(db, t, ids, max_age=timedelta(hours=1))
    [(status, reason)] = await statuses(db)
    assert status == "failed" and reason.endswith("503") and t.sent == []


async def test_final_error_is_kept_with_reason(db):
    t = Scripted([SendFinal("Bad Request: message is too long")])
    ids = await queue(db, ["x", "y"])
    await run_outbox(db, t, ids)
    assert await statuses(db) == [("failed", "Bad Request: message is too long"), ("sent", None)]


async def test_blocked_chat_stops_its_queued_rows(db):
    t = Scripted([SendStopped("Forbidden: bot was blocked by the user")])
    first = await queue(db, ["x"])
    later = await queue(db, ["y"])  # queued for later (e.g. a retry not yet due)
    async with db.tx() as c:
        await c.execute(
            sa.update(outbound_messages)
            .where(O.id.in_(later))
            .values(next_attempt_at=datetime(2100, 1, 1, tzinfo=UTC))
        )
    await run_outbox(db, t, first)
    assert [s[0] for s in await statuses(db)] == ["stopped", "stopped"]
    assert t.sent == []


async def test_interrupted_rows_are_resent_at_most_once(db):
    ids = await queue(db, ["x"])
    async with db.tx() as c:
        await c.execute(sa.update(outbound_messages).values(status="sending"))
    t = Scripted()
    ob = await run_outbox(db, t, [])
    await asyncio.sleep(0)
    assert ob.resent_at_start == 1
    assert [s[2] for s in t.sent] == ["x"]  # caught mid-request: resent once
    assert [s[0] for s in await statuses(db)] == ["sent"]
    # Caught mid-request a second time: failed, not sent a third time.
    async with db.tx() as c:
        await c.execute(sa.update(outbound_messages).values(status="sending"))
    t2 = Scripted()
    ob = await run_outbox(db, t2, ids)
    assert t2.sent == [] and ob.resent_at_start == 0
    assert await statuses(db) == [("failed", "interrupted twice during send; not resent")]


async def test_two_senders_never_send_a_row_twice(db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("two senders in one process share SQLite's single writer; see the PG run")
    a_db, b_db = Database(db_url), Database(db_url)
    try:
        ids = await queue(a_db, [f"m{i}" for i in range(40)], address="a")
        ta, tb = Scripted(), Scripted()
        a, b = Outbox(a_db), Outbox(b_db)
        a.register(ta)
        b.register(tb)
        await a.start()
        await b.start()
        a.notify(ids)
        b.notify(ids)
        await asyncio.gather(a.idle(), b.idle())
        await a.stop()
        await b.stop()
        texts = sorted(s[2] for s in ta.sent + tb.sent)
        assert texts == sorted(f"m{i}" for i in range(40))
    finally:
        await a_db.dispose()
        await b_db.dispose()


async def test_bucket_limits_rate():
    b = Bucket(rate=20, burst=1)
    start = time.monotonic()
    for _ in range(6):
        await b.wait()
    assert time.monotonic() - start >= 5 / 20 * 0.9


async def test_per_chat_limit_spaces_messages(db):
    t = Scripted()
    t.rate_per_chat = 10.0  # burst 3, then 10/s
    ids = await queue(db, [str(i) for i in range(6)])
    await run_outbox(db, t, ids)
    stamps = [s[0] for s in t.sent]
    assert stamps[-1] - stamps[0] >= 0.25


async def test_a_channels_window_holds_and_releases_through_the_outbox_api(db):
    """Held rows (SendHeld) wait until the channel releases them (queued again in the caller's
    transaction, in order, to the new address, for `submit`) or re-queues them; a row sent but failed
    at the channel afterwards is held again by its external id. No channel is known to the
    outbox: any channel name works."""
    t = Scripted([SendHeld("window closed"), SendHeld("window closed")])
    ids = await queue(db, ["one", "two"])
    ob = await run_outbox(db, t, ids)
    assert [s[0] for s in await statuses(db)] == ["held", "held"]
    now = datetime.now(UTC)
    async with db.tx() as c:
        assert await ob.sending(c, "test", "test:a1") == 0
        assert await ob.release(c, "other", "test:a1", "a2", now) == []  # another channel's
        rows = await ob.release(c, "test", "test:a1", "a2", now)
    assert [(r["id"], r["address"], r["payload"]["text"]) for r in rows] == [
        (ids[0], "a2", "one"),
        (ids[1], "a2", "two"),
    ]
    # Queued until each one's request goes out (the sender claims it then).
    assert [s[0] for s in await statuses(db)] == ["queued", "queued"]
    async with db.tx() as c:
        assert await ob.sending(c, "test", "test:a1") == 0
        await c.execute(sa.update(outbound_messages).values(status="sending"))
        assert await ob.sending(c, "test", "test:a1") == 2
        await c.execute(sa.update(outbound_messages).values(status="sent"))
        await c.execute(
            sa.update(outbound_messages).where(O.id == ids[0]).values(external_id="ext-1")
        )
        assert await ob.hold(c, "test", "ext-1", "failed at the channel") == "a2"
        assert await ob.hold(c, "test", "ext-unknown", "x") is None
        assert await ob.requeue_held(c, "test", "test:a1", "a3", now) == [ids[0]]
    assert [s[0] for s in await statuses(db)] == ["queued", "sent"]
    async with db.tx() as c:
        assert await ob.recent_payloads(c, "test", "test:a1") == [
            {"text": "two", "choices": [], "request": None},
            {"text": "one", "choices": [], "request": None},
        ]
        new = await ob.enqueue(c, "test", "test:a1", "a3", {"text": "page"}, now)
    assert new > ids[1]


async def test_a_long_queue_in_one_chat_does_not_hide_other_chats(db):
    """Rows waiting for their chat's turn stay `queued`, so they are due: the poll looks past
    them (600 rows of one chat at 1/s, then another chat's row: it goes out at once)."""

    class Slow(Scripted):
        rate_per_chat = 1.0

    t = Slow()
    await queue(db, [f"a{i}" for i in range(600)], address="a1")
    await queue(db, ["b"], address="b1")
    ob = Outbox(db, poll_interval=0.05)
    ob.register(t)
    await ob.start()
    try:
        for _ in range(100):
            if any(s[1] == "b1" for s in t.sent):
                break
            await asyncio.sleep(0.05)
        assert any(s[1] == "b1" for s in t.sent)
    finally:
        await ob.stop()
    assert len(t.sent) < 20  # the rest of a1 stays queued


# --- several workers on one database (docs/scaling.md); PostgreSQL only ----------------------


class Recorder(Scripted):
    """Records into a list shared by several workers, with a little network time."""

    def __init__(self, log, delay=0.01, hang=None):
        super().__init__()
        self.log, self.delay, self.hang = log, delay, hang

    async def send(self, address, payload):
        if self.hang is not None and payload["text"] == self.hang[0]:
            await self.hang[1].wait()
        await asyncio.sleep(self.delay)
        self.log.append(payload["text"])
        return str(len(self.log))


async def _lease_to(db, ids, owner, seconds=30.0):
    from datetime import timedelta

    async with db.tx() as c:
        await c.execute(
            sa.update(outbound_messages)
            .where(O.id.in_(ids))
            .values(lease_owner=owner, lease_until=datetime.now(UTC) + timedelta(seconds=seconds))
        )


async def _rows(db, ids):
    async with db.tx(write=False) as c:
        rows = await c.execute(sa.select(*outbound_messages.c).where(O.id.in_(ids)).order_by(O.id))
        return [dict(r._mapping) for r in rows]


async def test_two_workers_send_one_conversation_in_the_order_it_was_made(db_url):
    """Replies of one conversation made alternately by two workers (each holding its own, as
    the inbox leases them): each worker sends only its own rows, yet the resident gets them in
    the order they were made (a reply goes only after the one before it was sent)."""
    if db_url.startswith("sqlite"):
        pytest.skip("several workers: PostgreSQL")
    a_db, b_db = Database(db_url), Database(db_url)
    a, b = Outbox(a_db, worker_id="a:1:x"), Outbox(b_db, worker_id="b:2:y")
    got: list[str] = []
    a.register(Recorder(got, delay=0.02))
    b.register(Recorder(got, delay=0.001))
    try:
        ids = await queue(a_db, [f"m{i}" for i in range(16)], address="r1")
        await _lease_to(a_db, ids[0::2], a.worker_id)
        await _lease_to(a_db, ids[1::2], b.worker_id)
        await a.start()
        await b.start()
        rows = await _rows(a_db, ids)
        a.submit(rows[0::2])
        b.submit(rows[1::2])
        await asyncio.wait_for(asyncio.gather(a.idle(), b.idle()), 30)
        assert got == [f"m{i}" for i in range(16)]
        assert [s[0] for s in await statuses(a_db)] == ["sent"] * 16
        async with a_db.tx(write=False) as c:
            owners = [r[0] for r in await c.execute(sa.select(O.lease_owner).order_by(O.id))]
        assert owners == ["a:1:x", "b:2:y"] * 8  # each sent by the worker that held it
    finally:
        await a.stop()
        await b.stop()
        await a_db.dispose()
        await b_db.dispose()


async def test_a_starting_worker_leaves_a_live_workers_sends_alone(db_url):
    """Worker a is in the middle of a request; worker b starts (and recovers periodically):
    a's row stays a's and goes out once. A row left in `sending` by a dead worker (its lease
    expired) is recovered: resent once, counted."""
    if db_url.startswith("sqlite"):
        pytest.skip("several workers: PostgreSQL")
    from datetime import timedelta

    a_db, b_db = Database(db_url), Database(db_url)
    release = asyncio.Event()
    got: list[str] = []
    a = Outbox(a_db, worker_id="a:1:x")
    b = Outbox(b_db, worker_id="b:2:y", lease=timedelta(seconds=2), poll_interval=0.05)
    a.register(Recorder(got, hang=("live", release)))
    b.register(Recorder(got))
    try:
        [live] = await queue(a_db, ["live"], address="r1")
        await _lease_to(a_db, [live], a.worker_id)
        await a.start()
        a.submit(await _rows(a_db, [live]))
        for _ in range(200):  # a's request is on its way
            if (await _rows(a_db, [live]))[0]["status"] == "sending":
                break
            await asyncio.sleep(0.01)
        [dead] = await queue(a_db, ["dead"], address="r2")
        async with a_db.tx() as c:
            await c.execute(
                sa.update(outbound_messages)
                .where(O.id == dead)
                .values(
                    status="sending",
                    lease_owner="gone:9:z",
                    lease_until=datetime.now(UTC) - timedelta(seconds=1),
                )
            )
        await b.start()
        assert b.resent_at_start == 1  # the dead worker's row, not a's
        await asyncio.sleep(1.5)  # b's periodic recovery runs meanwhile (every second)
        assert (await _rows(a_db, [live]))[0]["status"] == "sending"
        release.set()
        await asyncio.wait_for(asyncio.gather(a.idle(), b.idle()), 10)
        rows = await _rows(a_db, [live, dead])
        assert [(r["status"], r["interrupted"]) for r in rows] == [("sent", 0), ("sent", 1)]
        assert sorted(got) == ["dead", "live"]  # each once
    finally:
        release.set()
        await a.stop()
        await b.stop()
        await a_db.dispose()
        await b_db.dispose()
