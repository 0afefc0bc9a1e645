"""Storing several inbound events at once (issue #14): `Service.receive_many` (a getUpdates
answer), the multi-row insert under it, and the Telegram polling loop that uses it."""

from __future__ import annotations

import sqlalchemy as sa

from core.model import Event
from db import inbox_store
from db.schema import inbound_events
from tests.chatkit import running


def _ev(user: str, external_id: str, text: str = "/start") -> Event:
    return Event(
        "test",
        f"test:{user}",
        external_id,
        "command",
        {"command": text.lstrip("/"), "args": ""},
        user,
        "id",
    )


async def test_receive_many_stores_in_order_drops_duplicates_and_processes(db_url):
    async with running(db_url, csv=None) as rt:
        first = await rt.service.receive_many([_ev("a", "1"), _ev("b", "2"), _ev("a", "3")])
        assert first == [True, True, True]
        # A redelivery of the same answer, and a duplicate inside one list: False for each.
        again = await rt.service.receive_many([_ev("a", "1"), _ev("c", "4"), _ev("c", "4")])
        assert again == [False, True, False]
        await rt.service.idle()
        await rt.outbox.idle()
        async with rt.db.tx(write=False) as c:
            rows = (
                await c.execute(
                    sa.select(inbound_events.c.external_id, inbound_events.c.status).order_by(
                        inbound_events.c.id
                    )
                )
            ).all()
        assert [r.external_id for r in rows] == ["1", "2", "3", "4"]  # in the order given
        assert {r.status for r in rows} == {"done"}
        # Every stored event was processed once: a welcome for each of a, b, c, and a's
        # second /start answered too.
        sent_to = [address for address, _ in rt.transport.sent]
        assert sorted(set(sent_to)) == ["a", "b", "c"]
        assert sent_to.count("a") == 2 * sent_to.count("b")


async def test_insert_events_is_one_statement_for_a_batch(db):
    events = [_ev("a", "x1"), _ev("b", "x2"), _ev("a", "x1")]
    from datetime import UTC, datetime

    now = datetime(2026, 11, 29, tzinfo=UTC)
    statements: list[str] = []
    engine = db.engine if db.engine is not None else db.aengine.sync_engine

    def count(conn, cursor, statement, *a):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        async with db.tx() as c:
            stored = await inbox_store.insert_events(c, events, now)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert stored == [True, True, False]
    assert len([s for s in statements if s.lstrip().upper().startswith("INSERT")]) == 1
