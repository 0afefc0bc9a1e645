"""Retention (UU PDP): chat data of closed matters is deleted `retention_months` (24) after,
as the privacy notice says; open matters, recent data, the audit and consent logs stay."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from core.scheduler import Scheduler
from db.schema import (
    audit_log,
    check_attempts,
    consent_log,
    conversations,
    inbound_events,
    outbound_messages,
    ticket_messages,
    tickets,
)
from db.schema import reports as reports_t
from services import retention
from services import tickets as ticket_ops
from tests.chatkit import Chat, Clock, running
from tests.test_reports import KK_2, NIK_2, matched, usul_own


def test_months_before():
    f = retention.months_before
    utc = UTC
    assert f(datetime(2026, 11, 23, 3, tzinfo=utc), 24) == datetime(2024, 11, 23, 3, tzinfo=utc)
    assert f(datetime(2026, 3, 31, tzinfo=utc), 1) == datetime(2026, 2, 28, tzinfo=utc)
    assert f(datetime(2026, 1, 15, tzinfo=utc), 13) == datetime(2024, 12, 15, tzinfo=utc)


async def rows(rt, table, *where):
    async with rt.db.tx(write=False) as c:
        return (await c.execute(sa.select(table).where(*where))).all()


async def test_closed_matters_are_purged_after_the_retention_period(db_url):
    clock = Clock(datetime(2024, 6, 3, 3, 0, tzinfo=UTC))
    async with running(db_url, clock=clock) as rt:
        old = Chat(rt, "lama")
        await matched(old)
        closed_code = await usul_own(old)
        await old.tap("g:contact")
        await old.send("Kapan pencairan PKH?")
        [t] = await rows(rt, tickets)
        async with rt.db.tx() as c:
            await ticket_ops.reply(c, t.id, "Bulan depan.", staff_id=None, actor="t", now=clock())
            await ticket_ops.close(c, t.id, staff_id=None, actor="t", now=clock())
            await c.execute(
                sa.update(reports_t)
                .where(reports_t.c.code == closed_code)
                .values(state="SELESAI", outcome="DITOLAK", updated_at=clock())
            )
        still_open = Chat(rt, "masih")
        await matched(still_open, NIK_2, KK_2)
        open_code = await usul_own(still_open)

        clock.now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 29 months later
        new = Chat(rt, "baru")
        await matched(new)
        sched = Scheduler(rt.db, rt.deps, rt.outbox, clock=clock, jobs=[retention.retention_job])
        await sched.run_once()

        keys = lambda rs: {r.user_key for r in rs}  # noqa: E731
        assert keys(await rows(rt, inbound_events)) == {"test:baru"}
        assert keys(await rows(rt, outbound_messages)) == {"test:baru"}
        assert await rows(rt, ticket_messages) == []
        [t] = await rows(rt, tickets)
        assert t.status == "closed"  # the ticket row stays for the SLA figures
        (closed,) = await rows(rt, reports_t, reports_t.c.code == closed_code)
        assert (closed.detail, closed.target_name, closed.lat) == (None, None, None)
        assert (closed.category, closed.state, closed.outcome) == ("USUL", "SELESAI", "DITOLAK")
        (still,) = await rows(rt, reports_t, reports_t.c.code == open_code)
        assert still.state != "SELESAI" and still.household_id is not None
        convs = {r.user_key: r for r in await rows(rt, conversations)}
        assert convs["test:lama"].household_id is None and convs["test:lama"].data == {}
        assert convs["test:masih"].household_id is not None  # an open report: kept
        assert convs["test:baru"].household_id is not None
        assert {r.conversation_id for r in await rows(rt, check_attempts)} == {
            convs["test:baru"].id
        }
        assert len(await rows(rt, consent_log)) == 3  # proof of consent is kept
        [purge] = await rows(rt, audit_log, audit_log.c.action == "retention.purge")
        assert purge.actor == "system:retention" and purge.detail["ticket_messages"] == 3
        # Once a day: running again at once does nothing.
        await sched.run_once()
        assert len(await rows(rt, audit_log, audit_log.c.action == "retention.purge")) == 1
        # The old resident is asked for NIK + No. KK again before a service that needs them.
        await old.tap("m:kube")
        assert "Pertama, kami perlu mencocokkan data Anda" in old.text
