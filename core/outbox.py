"""The outbox sender: drains queued rows through each channel's transport.

- Claim before send (queued -> sending in one UPDATE ... RETURNING), so a row is never sent twice;
  rows found in `sending` at start-up were interrupted mid-send and are marked failed, not resent.
- Channel limits: a token bucket per channel (e.g. Telegram ~30/s) and one per chat (~1/s with a
  small burst); messages to one chat go out in order.
- Typed errors from the transport: SendRetry (429 retry_after, 5xx, timeouts) is retried with
  backoff, first in place (keeps order), then by re-queueing; SendFinal fails the row with its
  reason; SendStopped (blocked bot) stops this row and the chat's queued rows; SendHeld parks the
  row as `held` (WhatsApp outside the 24 h window) until the adapter re-queues it.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Callable, Protocol

import sqlalchemy as sa

from core.model import SendFinal, SendHeld, SendRetry, SendStopped
from db.database import Database
from domain.clock import utcnow
from db.schema import outbound_messages

log = logging.getLogger("jaring.outbox")
O = outbound_messages.c

MAX_ATTEMPTS = 8
IN_PLACE_RETRIES = 3
MAX_IN_PLACE_WAIT = 30.0


class Transport(Protocol):
    channel: str
    rate_global: float
    rate_per_chat: float

    async def send(self, address: str, payload: dict) -> str | None: ...


_upd_sent = (sa.update(outbound_messages).where(O.id == sa.bindparam("rid"))
             .values(status="sent", sent_at=sa.bindparam("at"), external_id=sa.bindparam("ext"),
                     attempts=sa.bindparam("att")))


class _Row:
    __slots__ = ("id", "channel", "address", "payload", "attempts")

    def __init__(self, id, channel, address, payload, attempts):
        self.id, self.channel, self.address = id, channel, address
        self.payload, self.attempts = payload, attempts


class Bucket:
    """Token bucket; `wait()` sleeps until a token is free. `pause()` blocks it for a while."""

    __slots__ = ("rate", "cap", "tokens", "stamp", "paused_until")

    def __init__(self, rate: float, burst: float):
        self.rate, self.cap = rate, max(1.0, burst)
        self.tokens, self.stamp, self.paused_until = self.cap, time.monotonic(), 0.0

    async def wait(self) -> None:
        while True:
            now = time.monotonic()
            if now < self.paused_until:
                await asyncio.sleep(self.paused_until - now)
                continue
            self.tokens = min(self.cap, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await asyncio.sleep((1 - self.tokens) / self.rate)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    def idle_full(self) -> bool:
        return time.monotonic() >= self.paused_until and \
            self.tokens + (time.monotonic() - self.stamp) * self.rate >= self.cap


class _Chat:
    __slots__ = ("lock", "bucket")

    def __init__(self, rate: float):
        self.lock = asyncio.Lock()
        self.bucket = Bucket(rate, burst=3)



class Outbox:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow,
                 poll_interval: float = 1.0, max_in_flight: int = 64):
        self.db = db
        self.clock = clock
        self.poll_interval = poll_interval
        self.transports: dict[str, Transport] = {}
        self._global: dict[str, Bucket] = {}
        self._chats: dict[tuple[str, str], _Chat] = {}
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._inflight: set[int] = set()
        self._tasks: set[asyncio.Task] = set()
        self._sem = asyncio.Semaphore(max_in_flight)
        self._runner: asyncio.Task | None = None
        self._dispatching = 0  # batches taken off the queue but not yet turned into tasks
        self._sent: list[tuple[dict, asyncio.Future]] = []
        self._marker: asyncio.Task | None = None

    def register(self, transport: Transport) -> None:
        self.transports[transport.channel] = transport
        self._global[transport.channel] = Bucket(transport.rate_global, burst=transport.rate_global)

    def notify(self, ids: list[int]) -> None:
        """Rows queued in the database (by this or another process): claim and send them."""
        for i in ids:
            self._queue.put_nowait(i)

    def submit(self, rows: list[dict]) -> None:
        """Rows this process inserted already claimed (`sending`): send them, no claim needed."""
        for r in rows:
            self._start_send(_Row(r["id"], r["channel"], r["address"], r["payload"], r["attempts"]))

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        await self.recover()
        self._runner = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._runner:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def recover(self) -> int:
        """Rows left in `sending` by a crash may or may not have gone out: never send twice."""
        async with self.db.tx() as c:
            res = await c.execute(sa.update(outbound_messages).where(O.status == "sending").values(
                status="failed", last_error="interrupted during send; not resent"))
            return res.rowcount or 0

    async def idle(self) -> None:
        """Wait until the queue is empty and nothing is in flight (tests and the console)."""
        while not self._queue.empty() or self._tasks or self._dispatching:
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            else:
                await asyncio.sleep(0.005)

    async def _run(self) -> None:
        poller = asyncio.create_task(self._poll())
        try:
            while True:
                ids = [await self._queue.get()]
                self._dispatching += 1
                try:
                    while not self._queue.empty():
                        ids.append(self._queue.get_nowait())
                    await self._dispatch(ids)
                finally:
                    self._dispatching -= 1
        finally:
            poller.cancel()

    async def _poll(self) -> None:
        """Pick up due retries and rows queued by other processes or before a restart."""
        while True:
            try:
                await self._poll_once()
            except Exception:  # noqa: BLE001
                log.exception("outbox poll failed")
            await asyncio.sleep(self.poll_interval)

    async def _poll_once(self) -> None:
        if not self.transports:
            return
        async with self.db.tx(write=False) as c:
            ids = [r[0] for r in await c.execute(
                sa.select(O.id).where(O.status == "queued", O.next_attempt_at <= self.clock(),
                                      O.channel.in_(list(self.transports)))
                .order_by(O.id).limit(500))]
        ids = [i for i in ids if i not in self._inflight]
        if ids:
            await self._dispatch(ids)
        for key in [k for k, chat in self._chats.items()
                    if not chat.lock.locked() and chat.bucket.idle_full()]:
            del self._chats[key]

    async def _dispatch(self, ids: list[int]) -> None:
        ids = [i for i in ids if i not in self._inflight]
        if not ids:
            return
        async with self.db.tx() as c:
            rows = (await c.execute(
                sa.update(outbound_messages)
                .where(O.id.in_(ids), O.status == "queued", O.channel.in_(list(self.transports)))
                .values(status="sending", attempts=O.attempts + 1)
                .returning(O.id, O.channel, O.address, O.payload, O.attempts))).all()
        for row in sorted(rows, key=lambda r: r.id):
            self._start_send(row)

    def _start_send(self, row) -> None:
        self._inflight.add(row.id)
        chat = self._chats.get((row.channel, row.address))
        if chat is None:
            chat = self._chats[(row.channel, row.address)] = _Chat(
                self.transports[row.channel].rate_per_chat)
        task = asyncio.create_task(self._send(row, chat))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, row, chat: _Chat) -> None:
        transport = self.transports[row.channel]
        glob = self._global[row.channel]
        attempts = row.attempts
        try:
            async with chat.lock:  # FIFO: a chat's messages go out in order
                for try_no in range(IN_PLACE_RETRIES + 1):
                    await chat.bucket.wait()
                    try:
                        async with self._sem:
                            await glob.wait()
                            ext = await transport.send(row.address, row.payload)
                    except SendRetry as e:
                        wait = e.retry_after if e.retry_after is not None else min(2 ** try_no, 30)
                        if e.retry_after is not None:  # Telegram 429: slow the whole channel
                            glob.pause(wait)
                        chat.bucket.pause(wait)
                        if try_no < IN_PLACE_RETRIES and wait <= MAX_IN_PLACE_WAIT:
                            log.warning("send retry in %.1fs (row %s): %s", wait, row.id, e.reason)
                            attempts += 1
                            await asyncio.sleep(wait)
                            continue
                        await self._requeue(row.id, attempts, wait, e.reason)
                        return
                    except SendStopped as e:
                        await self._stop(row, e.reason)
                        return
                    except SendFinal as e:
                        await self._mark(row.id, status="failed", last_error=e.reason)
                        return
                    except SendHeld as e:  # e.g. WhatsApp outside the 24 h window
                        await self._mark(row.id, status="held", last_error=e.reason,
                                         attempts=attempts)
                        return
                    await self._mark_sent(row.id, ext, attempts)
                    return
        except Exception as exc:  # noqa: BLE001 - unexpected transport error: keep the row
            log.error("send failed unexpectedly (row %s): %s", row.id, type(exc).__name__)
            await self._requeue(row.id, attempts, 30, type(exc).__name__)
        finally:
            self._inflight.discard(row.id)

    async def _mark_sent(self, row_id: int, external_id: str | None, attempts: int) -> None:
        """Record a sent row. Marks from concurrent sends share one transaction (under load
        that is one commit for many messages); the caller returns once its mark is committed."""
        fut = asyncio.get_running_loop().create_future()
        self._sent.append(({"rid": row_id, "ext": external_id, "att": attempts,
                            "at": self.clock()}, fut))
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._flush_sent())
        await fut

    async def _flush_sent(self) -> None:
        while self._sent:
            batch, self._sent = self._sent, []
            try:
                async with self.db.tx() as c:
                    await c.execute(_upd_sent, [p for p, _ in batch])
            except Exception as exc:  # noqa: BLE001
                for _, fut in batch:
                    fut.set_exception(exc)
                continue
            for _, fut in batch:
                fut.set_result(None)

    async def _mark(self, row_id: int, **values) -> None:
        async with self.db.tx() as c:
            await c.execute(sa.update(outbound_messages).where(O.id == row_id).values(**values))

    async def _requeue(self, row_id: int, attempts: int, wait: float, reason: str) -> None:
        if attempts >= MAX_ATTEMPTS:
            await self._mark(row_id, status="failed", last_error=reason, attempts=attempts)
            return
        await self._mark(row_id, status="queued", attempts=attempts, last_error=reason,
                         next_attempt_at=self.clock() + timedelta(seconds=max(wait, 1)))

    async def _stop(self, row, reason: str) -> None:
        async with self.db.tx() as c:
            await c.execute(sa.update(outbound_messages).where(O.id == row.id).values(
                status="stopped", last_error=reason))
            await c.execute(sa.update(outbound_messages).where(
                O.channel == row.channel, O.address == row.address, O.status == "queued"
            ).values(status="stopped", last_error=reason))
        log.info("chat stopped (blocked bot) on %s; its queued messages are stopped", row.channel)
