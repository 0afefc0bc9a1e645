"""One event at a time per conversation, in order, also with two worker processes (PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from core.model import Event
from db.schema import inbound_events, outbound_messages
from tests.chatkit import KK_1, NIK_1, running

STEPS = [
    ("command", {"command": "start", "args": ""}),
    ("choice", {"id": "c:agree"}),
    ("choice", {"id": "l:id"}),
    ("choice", {"id": "m:check"}),
    ("text", {"text": NIK_1}),
    ("choice", {"id": "k:yes"}),
    ("text", {"text": KK_1}),
]


def slow(engine):
    """Widen the race window: each event takes a while inside its transaction."""
    original = engine.handle

    async def handle(ctx):
        await asyncio.sleep(0.02)
        await original(ctx)

    engine.handle = handle


async def test_two_workers_keep_one_conversation_in_order(db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite serves one process at a time; worker ordering is a PostgreSQL concern")
    async with running(db_url) as a, running(db_url, csv=None) as b:
        for rt in (a, b):
            slow(rt.service.engine)
        real_schedule = a.service.schedule
        a.service.schedule = lambda key: None  # store only; both workers will race for them
        for i, (kind, payload) in enumerate(STEPS):
            await a.service.receive(Event("test", "test:w", f"w{i}", kind, payload, "w", "id"))
        a.service.schedule = real_schedule
        a.service.schedule("test:w")
        b.service.schedule("test:w")
        await asyncio.gather(a.service.idle(), b.service.idle())
        await asyncio.gather(a.outbox.idle(), b.outbox.idle())
        async with a.db.tx(write=False) as c:
            done = (await c.execute(sa.select(inbound_events.c.status))).scalars().all()
            texts = [
                r[0]["text"]
                for r in await c.execute(
                    sa.select(outbound_messages.c.payload).order_by(outbound_messages.c.id)
                )
            ]
        assert done == ["done"] * len(STEPS)
        assert len(texts) == len(STEPS)  # each event answered exactly once
        assert "Desil 2 dari 10" in texts[-1]
        assert "Apakah Anda setuju?" in texts[0]


async def test_burst_from_one_resident_is_processed_in_order(db_url):
    async with running(db_url) as rt:
        for i, (kind, payload) in enumerate(STEPS):
            await rt.service.receive(Event("test", "test:x", f"x{i}", kind, payload, "x", "id"))
        await rt.service.idle()
        await rt.outbox.idle()
        texts = [p["text"] for _, p in rt.transport.sent]
        assert len(texts) == len(STEPS) and "Desil 2 dari 10" in texts[-1]
