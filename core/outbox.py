"""The outbox sender: drains queued rows through each channel's transport.

- Claim before send (queued -> sending in one UPDATE ... RETURNING), so a row is never sent twice;
  rows found in `sending` at start-up were interrupted mid-send and are marked failed, not resent.
- Channel limits: a token bucket per channel (e.g. Telegram ~30/s) and one per chat (~1/s with a
  small burst); messages to one chat go out in order.
- Typed errors from the transport: SendRetry (429 retry_after, 5xx, timeouts) is retried with
  backoff, first in place (keeps order), then by re-queueing; SendFinal fails the row with its
  reason; SendStopped (blocked bot) stops this row and the chat's queued rows; SendHeld parks the
  row as `held` (WhatsApp outside the 24 h window) until the adapter re-queues it.
- A channel's window, as an API (no channel is known here): `release` claims a user's held rows
  for sending inside the caller's transaction, `requeue_held` puts them back in the queue, `hold`
  parks a row again that was sent but failed at the channel afterwards. The SQL is in
  db/outbox_store.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.model import SendFinal, SendHeld, SendRetry, SendStopped
from db import outbox_store as store
from db.database import Database
from domain.clock import utcnow

log = logging.getLogger("jaring.outbox")

MAX_ATTEMPTS = 8
IN_PLACE_RETRIES = 3
MAX_IN_PLACE_WAIT = 30.0


class Transport(Protocol):
    channel: str
    rate_global: float
    rate_per_chat: float

    async def send(self, address: str, payload: dict) -> str | None: ...


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
        return (
            time.monotonic() >= self.paused_until
            and self.tokens + (time.monotonic() - self.stamp) * self.rate >= self.cap
        )


class _Chat:
    __slots__ = ("lock", "bucket")

    def __init__(self, rate: float):
        self.lock = asyncio.Lock()
        self.bucket = Bucket(rate, burst=3)


class Outbox:
    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime] = utcnow,
        poll_interval: float = 1.0,
        max_in_flight: int = 64,
    ):
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

    # --- a channel's window: hold and release ---------------------------------------------
    # Called inside the caller's transaction (`conn`); the caller hands the result to `submit`
    # (release) or `notify` (requeue_held) once it has committed.
    async def release(
        self, conn, channel: str, user_key: str, address: str, now: datetime
    ) -> list[dict[str, Any]]:
        """The window opened again: claim this user's held rows for sending (to `address`, in id
        order, so they go before anything queued later), as the rows `submit` takes."""
        return await store.release_held(conn, channel, user_key, address, now)

    async def requeue_held(
        self, conn, channel: str, user_key: str, address: str, now: datetime
    ) -> list[int]:
        """The window opened again: this user's held rows back to the queue; their ids in order,
        for `notify`."""
        return await store.requeue_held(conn, channel, user_key, address, now)

    async def hold(self, conn, channel: str, external_id: str, reason: str) -> str | None:
        """A row sent as `external_id` failed at the channel because its window had closed: held
        again. The row's address, None when there is no such sent row."""
        return await store.hold_sent(conn, channel, external_id, reason)

    async def sending(self, conn, channel: str, user_key: str) -> int:
        """How many rows of this user are being sent right now (a hold may be on its way)."""
        return await store.count_sending(conn, channel, user_key)

    async def recent_payloads(self, conn, channel: str, user_key: str) -> list[dict]:
        """The payloads of this user's 20 newest rows on the channel, newest first."""
        return await store.recent_payloads(conn, channel, user_key)

    async def enqueue(
        self,
        conn,
        channel: str,
        user_key: str,
        address: str,
        payload: dict,
        now: datetime,
        inbound_event_id: int | None = None,
    ) -> int:
        """One row queued by a channel itself (not a reply of the engine), due now; its id, for
        `notify` after the commit."""
        return await store.insert_queued(
            conn, channel, user_key, address, payload, now, inbound_event_id
        )

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
            return await store.recover(c)

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
            except Exception:
                log.exception("outbox poll failed")
            await asyncio.sleep(self.poll_interval)

    async def _poll_once(self) -> None:
        if not self.transports:
            return
        async with self.db.tx(write=False) as c:
            ids = await store.due(c, self.clock(), list(self.transports))
        ids = [i for i in ids if i not in self._inflight]
        if ids:
            await self._dispatch(ids)
        for key in [
            k
            for k, chat in self._chats.items()
            if not chat.lock.locked() and chat.bucket.idle_full()
        ]:
            del self._chats[key]

    async def _dispatch(self, ids: list[int]) -> None:
        ids = [i for i in ids if i not in self._inflight]
        if not ids:
            return
        async with self.db.tx() as c:
            rows = await store.claim(c, ids, list(self.transports))
        for row in sorted(rows, key=lambda r: r.id):
            self._start_send(row)

    def _start_send(self, row) -> None:
        self._inflight.add(row.id)
        chat = self._chats.get((row.channel, row.address))
        if chat is None:
            chat = self._chats[(row.channel, row.address)] = _Chat(
                self.transports[row.channel].rate_per_chat
            )
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
                        wait = e.retry_after if e.retry_after is not None else min(2**try_no, 30)
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
                        await self._mark(row.id, "failed", e.reason)
                        return
                    except SendHeld as e:  # e.g. WhatsApp outside the 24 h window
                        await self._mark(row.id, "held", e.reason, attempts=attempts)
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
        self._sent.append(
            ({"rid": row_id, "ext": external_id, "att": attempts, "at": self.clock()}, fut)
        )
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._flush_sent())
        await fut

    async def _flush_sent(self) -> None:
        while self._sent:
            batch, self._sent = self._sent, []
            try:
                async with self.db.tx() as c:
                    await store.mark_sent(c, [p for p, _ in batch])
            except Exception as exc:  # noqa: BLE001
                for _, fut in batch:
                    fut.set_exception(exc)
                continue
            for _, fut in batch:
                fut.set_result(None)

    async def _mark(
        self,
        row_id: int,
        status: str,
        reason: str | None,
        *,
        attempts: int | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        async with self.db.tx() as c:
            await store.mark(
                c, row_id, status, reason, attempts=attempts, next_attempt_at=next_attempt_at
            )

    async def _requeue(self, row_id: int, attempts: int, wait: float, reason: str) -> None:
        if attempts >= MAX_ATTEMPTS:
            await self._mark(row_id, "failed", reason, attempts=attempts)
            return
        await self._mark(
            row_id,
            "queued",
            reason,
            attempts=attempts,
            next_attempt_at=self.clock() + timedelta(seconds=max(wait, 1)),
        )

    async def _stop(self, row, reason: str) -> None:
        async with self.db.tx() as c:
            await store.stop_chat(c, row.id, row.channel, row.address, reason)
        log.info("chat stopped (blocked bot) on %s; its queued messages are stopped", row.channel)
