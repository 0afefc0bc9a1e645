from datetime import UTC, datetime

import sqlalchemy as sa

from db.schema import audit_log


async def test_tx_roundtrip_and_utc(db):
    now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    async with db.tx() as c:
        await c.execute(sa.insert(audit_log).values(at=now, actor="test", action="ping"))
    async with db.tx(write=False) as c:
        row = (await c.execute(sa.select(audit_log))).one()
    assert row.at == now and row.at.tzinfo is not None
    assert await db.ping()


async def test_tx_rolls_back_on_error(db):
    now = datetime.now(UTC)
    try:
        async with db.tx() as c:
            await c.execute(sa.insert(audit_log).values(at=now, actor="t", action="x"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with db.tx(write=False) as c:
        assert await c.scalar(sa.select(sa.func.count()).select_from(audit_log)) == 0
