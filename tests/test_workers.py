"""Three workers on one PostgreSQL database (issue #14 item 2, docs/scaling.md).

`python bot.py run --workers 3` as a real process tree (webhook mode, one port shared with
SO_REUSEPORT) against a fake Telegram Bot API with 50 ms of latency, send limits in Redis.
Residents go through the whole check flow, typing quickly (each posts its updates without
waiting for the replies, on new connections, so they land on every worker). Midway the worker
that leads the scheduler is killed with SIGKILL while sends are in flight (the fake answers after
100 ms); the supervisor starts it again. Then:

- every reply is sent exactly once, but for the counted mid-request resends (`interrupted`);
  nothing failed (a starting worker no longer fails a live worker's rows); the rows the killed
  worker was sending were taken over after its lease and resent once;
- each resident's replies arrive in the order they were made;
- every scheduled job ran at most once per tick across the fleet, and went on after the kill
  (another worker took the lead);
- the replies were sent by several workers.

PostgreSQL only (skipped without JARING_TEST_PG_URL); needs Redis on 127.0.0.1:6379 (db 11).
`run --workers N` on SQLite is refused with a message.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
import time

import aiohttp
import pytest
import sqlalchemy as sa

from db.database import Database
from db.schema import outbound_messages, scheduled_jobs
from tests.chatkit import KK_1, NIK_1
from tests.fakes.telegram_api import FakeTelegramAPI, callback_update, text_update
from tests.test_telegram_e2e import ROOT, SECRET, import_csv, service_env

REDIS = "redis://127.0.0.1:6379/11"
RESIDENTS = 12
BASE_USER = 7_770_000
O = outbound_messages.c


def steps(update_base: int, user: int) -> list[dict]:
    return [
        text_update(update_base + 1, user, "/start"),
        callback_update(update_base + 2, user, "c:agree"),
        callback_update(update_base + 3, user, "l:id"),
        callback_update(update_base + 4, user, "m:check"),
        text_update(update_base + 5, user, NIK_1),
        callback_update(update_base + 6, user, "k:yes"),
        text_update(update_base + 7, user, KK_1),
    ]


class Fleet:
    """`bot.py run --workers 3`; the workers' pids from its output."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.log = b""
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, n: int = 3) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "bot.py",
            "run",
            "--workers",
            str(n),
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())
        await self.wait_for(lambda: self.text.count("Staff dashboard:") >= n, 90)

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while chunk := await self.proc.stdout.read(65536):
            self.log += chunk

    @property
    def text(self) -> str:
        return self.log.decode(errors="replace")

    def pids(self) -> dict[int, int]:
        """worker index -> its newest pid."""
        return {
            int(i): int(p) for i, p in re.findall(r"worker (\d+) started \(pid (\d+)\)", self.text)
        }

    async def wait_for(self, cond, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert self.proc is not None and self.proc.returncode is None, self.text[-4000:]
            assert time.monotonic() < deadline, self.text[-4000:]
            await asyncio.sleep(0.1)

    async def stop(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await self._reader
        return self.proc.returncode or 0


async def post_all(url: str, updates: list[dict]) -> None:
    """One resident typing quickly: each update on a new connection (so the kernel spreads them
    over the workers), retried like Telegram does while a worker is down."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
        for update in updates:
            for _ in range(100):
                try:
                    async with s.post(
                        url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
                    ) as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"update {update['update_id']} never accepted")
            await asyncio.sleep(random.uniform(0.0, 0.08))


async def _clean_redis() -> None:
    import redis.asyncio as redis

    client = redis.from_url(REDIS)
    try:
        keys = [k async for k in client.scan_iter("jaring:limits*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def sending_of(db: Database, pid: int) -> list[int]:
    """Rows a worker (by pid) is sending right now."""
    async with db.tx(write=False) as c:
        return [
            r[0]
            for r in await c.execute(
                sa.select(O.id).where(O.status == "sending", O.lease_owner.like(f"%:{pid}:%"))
            )
        ]


async def leader_pid(db: Database) -> int | None:
    async with db.tx(write=False) as c:
        worker = await c.scalar(
            sa.select(scheduled_jobs.c.last_worker).order_by(scheduled_jobs.c.last_run_at.desc())
        )
    return int(worker.split(":")[1]) if worker else None


@pytest.mark.serial
async def test_three_workers_one_killed_every_reply_once_in_order_jobs_once_per_tick(db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL only")
    assert import_csv(db_url).returncode == 0
    users = [BASE_USER + r for r in range(RESIDENTS)]
    db = Database(db_url)
    async with FakeTelegramAPI(latency=0.1) as fake:
        env = service_env(
            db_url,
            fake.base_url,
            TELEGRAM_WEBHOOK_URL="https://bot.example/tg/webhook",
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            JARING_REDIS_URL=REDIS,
            JARING_OUTBOX_LEASE_SECONDS="3",
            JARING_SCHEDULER_INTERVAL="1",
        )
        env["LOG_LEVEL"] = "INFO"
        url = f"http://127.0.0.1:{env['WEB_PORT']}/tg/webhook"
        fleet = Fleet(env)
        try:
            await fleet.start(3)
            first_pids = fleet.pids()
            assert len(first_pids) == 3
            # The residents, in two waves; the leader is killed between them, with sends in
            # flight (the first wave's replies are still going out through 50 ms calls).
            wave1 = [
                asyncio.create_task(post_all(url, steps(1000 * (r + 1), u)))
                for r, u in enumerate(users[: RESIDENTS // 2])
            ]
            await fake.wait_for(lambda: len(fake.sent) >= 20, timeout=30)
            victim = await leader_pid(db)
            assert victim in first_pids.values(), (victim, first_pids)
            # Preferably while it has a request in flight (the fake answers after 100 ms).
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not await sending_of(db, victim):
                await asyncio.sleep(0.005)
            os.kill(victim, signal.SIGKILL)
            killed_at = time.time()
            await asyncio.sleep(0.2)  # gone, with its connections
            caught = await sending_of(db, victim)  # caught mid-request: resent once, later
            wave2 = [
                asyncio.create_task(post_all(url, steps(1000 * (r + 1), u)))
                for r, u in enumerate(users)
                if r >= RESIDENTS // 2
            ]
            await asyncio.wait_for(asyncio.gather(*wave1, *wave2), 60)
            await fleet.wait_for(
                lambda: len(fleet.pids()) == 3 and victim not in fleet.pids().values(), 20
            )

            # Until every event is answered and every reply is marked.
            deadline = time.monotonic() + 30
            while True:
                async with db.tx(write=False) as c:
                    statuses = [r[0] for r in await c.execute(sa.select(O.status))]
                if len(statuses) == 7 * RESIDENTS and set(statuses) <= {"sent", "failed"}:
                    break
                assert time.monotonic() < deadline, sorted(set(statuses))
                await asyncio.sleep(0.2)
            # a tick or two more with the new leader
            await asyncio.sleep(2.5)
            ended_at = time.time()
        finally:
            code = await fleet.stop()
            await _clean_redis()
        assert code == 0, fleet.text[-3000:]

        async with db.tx(write=False) as c:
            rows = (
                await c.execute(
                    sa.select(
                        O.id, O.user_key, O.payload, O.status, O.interrupted, O.lease_owner
                    ).order_by(O.id)
                )
            ).all()
            jobs = (await c.execute(sa.select(scheduled_jobs))).all()
        await db.dispose()

    # Every reply sent, none failed (no live worker's row was recovered as "interrupted").
    assert [r.status for r in rows] == ["sent"] * len(rows), [r for r in rows if r.status != "sent"]
    resent = 0
    for u in users:
        made = [r.payload["text"] for r in rows if r.user_key == f"tg:{u}"]
        assert len(made) == 7
        got = [m["text"] for m in fake.messages_to(u)]
        firsts = list(dict.fromkeys(got))
        assert firsts == made, (u, got, made)  # each reply arrived, in the order it was made
        extra = len(got) - len(made)
        interrupted = sum(r.interrupted for r in rows if r.user_key == f"tg:{u}")
        assert extra <= interrupted, (u, got)  # a second copy only for a counted resend
        resent += extra
    # The killed worker's requests in flight were taken over once its lease expired, resent once.
    assert {r.id: r.interrupted for r in rows if r.id in caught} == {i: 1 for i in caught}
    assert "Desil 2 dari 10" in rows[-1].payload["text"] or any(
        "Desil 2 dari 10" in r.payload["text"] for r in rows
    )
    senders = {r.lease_owner.split(":")[1] for r in rows if r.lease_owner}
    assert len(senders) >= 2, senders  # the work was spread over the workers

    # Scheduled jobs: at most once per tick across the fleet, and on through the kill.
    assert len(jobs) >= 5, jobs
    for j in jobs:
        span = j.last_tick - j.first_tick + 1
        assert j.runs <= span, (j.name, j.runs, span)  # never twice in one tick
        assert j.runs >= 0.6 * span, (j.name, j.runs, span)  # and in most ticks
        assert j.last_tick >= int(ended_at) - 2, j.name  # still running at the end
        assert int(j.last_worker.split(":")[1]) != victim, j.name  # a new leader took over
        assert j.last_run_at.timestamp() > killed_at
    print(f"caught mid-request: {len(caught)}; resent twice: {resent}; senders: {len(senders)}")


def test_several_workers_are_refused_on_sqlite(tmp_path, monkeypatch, capsys):
    import bot

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'j.db'}")
    for k in ("TELEGRAM_BOT_TOKEN", "WHATSAPP_TOKEN", "JARING_WORKERS"):
        monkeypatch.delenv(k, raising=False)
    assert bot.main(["run", "--workers", "3"]) == 2
    err = capsys.readouterr().err
    assert "--workers 3 needs PostgreSQL" in err and "DATABASE_URL=postgresql+asyncpg://" in err
