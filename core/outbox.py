"""The outbox sender: drains queued rows through each channel's transport.

- A row is `queued` until the moment its request goes to the network: waiting for a chat's turn,
  a rate-limit bucket or a retry delay keeps it queued. Right before `transport.send` it is
  claimed (queued -> sending, one UPDATE ... RETURNING shared by the sends ready at that moment),
  so a row is never sent twice. A row caught mid-request by a crash is queued again once
  (counted, logged, shown on the dashboard's home); a second time it fails.
- Several workers on one database (docs/scaling.md): each holds the queued rows it has in memory
  under a lease (its worker id + an expiry, renewed while it lives). It takes new rows in small
  batches (FOR UPDATE SKIP LOCKED on PostgreSQL), never a row another live worker holds; a row
  left in `sending` is recovered only once its worker's lease has expired (on SQLite, a single
  process, every such row at start-up). The claim takes a row only when no earlier row of its
  conversation (channel + user key) is still queued or sending, whichever worker made it: replies
  leave in the order they were made. In this process a conversation's rows go one at a time,
  lowest id first.
- A send that succeeded is never sent again: its mark (`sent`) is kept in memory and retried
  until the database takes it; nothing re-queues a row whose send succeeded.
- Channel limits (core/limits.py): a token bucket per channel (e.g. Telegram ~30/s) and one per
  chat (~1/s with a small burst), in this process or shared through Redis by the fleet.
- Typed errors from the transport: SendRetry (429 retry_after, 5xx, timeouts, network errors)
  is retried in place (keeps order; the row is `queued` with its next attempt time meanwhile)
  with capped exponential backoff and jitter, or after retry_after, until the row is older than
  the horizon (`max_age`, JARING_SEND_HORIZON_HOURS, 24 h); SendFinal fails the row with its
  reason; SendStopped (blocked bot) stops this row and the chat's queued rows; SendHeld parks the
  row as `held` (WhatsApp outside the 24 h window) until the adapter re-queues it.
- stop(): intake ends, requests in flight finish (bounded by `grace`), the rest stays queued.
- A channel's window, as an API (no channel is known here): `release` claims a user's held rows
  for sending inside the caller's transaction, `requeue_held` puts them back in the queue, `hold`
  parks a row again that was sent but failed at the channel afterwards. The SQL is in
  db/outbox_store.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from core import logcontext, metrics
from core.limits import Bucket, Limits, LocalLimits
from core.model import SendFinal, SendHeld, SendRetry, SendStopped
from db import outbox_store as store
from db.database import Database
from domain.clock import utcnow

log = logging.getLogger("jaring.outbox")

# Backoff for retryable errors without a retry_after: 1, 2, 4 ... seconds, capped, times a
# jitter of 0.5-1 (so a recovered server is not hit by every chat at once). Capped at 30 s: after
# an outage a resident waits at most about that long for the replies that piled up.
BACKOFF_CAP = 30.0
DEFAULT_MAX_AGE = timedelta(hours=24)
# How long stop() lets requests in flight (and their marks) finish.
STOP_GRACE = 6.0
# A worker's hold on its rows: renewed every third of it while the worker lives; another worker
# takes them over (or recovers them, when caught mid-request) once it has expired.
DEFAULT_LEASE = timedelta(seconds=30)
# Rows leased per poll, and how many rows a worker keeps in memory at most.
LEASE_BATCH = 100
MAX_HELD = 5000
# A claim refused because an earlier row of the conversation is still on its way: look again
# after this long, doubling up to WAIT_CAP.
WAIT_FIRST, WAIT_CAP = 0.02, 0.5

__all__ = ["Bucket", "Outbox", "Transport", "backoff", "make_worker_id"]


def make_worker_id() -> str:
    """host:pid:random, unique across the fleet and across restarts."""
    return f"{socket.gethostname()[:48]}:{os.getpid()}:{secrets.token_hex(4)}"


def backoff(attempts: int, retry_after: float | None) -> float:
    """Seconds before the next try of a row that has been tried `attempts` times."""
    if retry_after is not None:
        return max(0.0, retry_after)
    return min(BACKOFF_CAP, 2.0 ** max(0, attempts - 1)) * random.uniform(0.5, 1.0)


class Transport(Protocol):
    channel: str
    rate_global: float
    rate_per_chat: float

    async def send(self, address: str, payload: dict) -> str | None: ...


class _Row:
    __slots__ = ("id", "channel", "user_key", "address", "payload", "attempts", "created_at")

    def __init__(self, id, channel, user_key, address, payload, attempts, created_at):
        self.id, self.channel, self.user_key, self.address = id, channel, user_key, address
        self.payload, self.attempts, self.created_at = payload, attempts, created_at

    @classmethod
    def of(cls, r) -> _Row:
        return cls(r.id, r.channel, r.user_key, r.address, r.payload, r.attempts, r.created_at)


class _Conv:
    """One conversation's rows in this process (by id), sent one at a time, lowest id first."""

    __slots__ = ("rows", "task")

    def __init__(self) -> None:
        self.rows: dict[int, _Row] = {}
        self.task: asyncio.Task | None = None


# _claim's answer for a row that waits for an earlier row of its conversation.
_WAIT = object()


class Outbox:
    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime] = utcnow,
        poll_interval: float = 1.0,
        max_in_flight: int = 64,
        max_age: timedelta = DEFAULT_MAX_AGE,
        worker_id: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
        limits: Limits | None = None,
        single_process: bool | None = None,
    ):
        self.db = db
        self.clock = clock
        self.poll_interval = poll_interval
        self.max_age = max_age
        self.worker_id = worker_id or make_worker_id()
        self.lease = lease
        self.limits: Limits = limits or LocalLimits()
        # SQLite serves one process: a row in `sending` at start-up is a dead process's.
        self.single_process = db.is_sqlite if single_process is None else single_process
        self.transports: dict[str, Transport] = {}
        self._convs: dict[tuple[str, str], _Conv] = {}
        self._renewed = self._recovered = time.monotonic()
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._inflight: set[int] = set()
        self._tasks: set[asyncio.Task] = set()
        self._in_request: set[asyncio.Task] = set()  # claiming, sending or marking: not cancelled
        self._sem = asyncio.Semaphore(max_in_flight)
        self._runner: asyncio.Task | None = None
        self._dispatching = 0  # batches taken off the queue but not yet turned into tasks
        self._claims: list[tuple[int, asyncio.Future]] = []
        self._claimer: asyncio.Task | None = None
        self._sent: list[tuple[dict, asyncio.Future]] = []
        self._marker: asyncio.Task | None = None
        self._stopping = False
        self.resent_at_start = 0  # rows caught mid-request by the last crash, queued again
        self.senders = metrics.Senders()  # each channel's last send outcome (/readyz)

    def register(self, transport: Transport) -> None:
        self.transports[transport.channel] = transport
        self.limits.register(transport.channel, transport.rate_global, transport.rate_per_chat)

    def lease_values(self, now: datetime) -> dict[str, Any]:
        """The lease columns of a row this worker queues and sends itself (`submit`)."""
        return {"lease_owner": self.worker_id, "lease_until": now + self.lease}

    def notify(self, ids: list[int]) -> None:
        """Rows queued in the database (by this or another process): send them."""
        if self._stopping:
            return  # they stay queued for the next start
        for i in ids:
            self._queue.put_nowait(i)

    def submit(self, rows: list[dict]) -> None:
        """Queued rows this process just committed (replies, released held rows): send them in
        this order, without reading them back. Each is claimed right before its request."""
        if self._stopping:
            return
        for r in rows:
            if r["channel"] in self.transports:
                self._start_send(
                    _Row(
                        r["id"],
                        r["channel"],
                        r.get("user_key") or r["address"],
                        r["address"],
                        r["payload"],
                        r["attempts"],
                        r["created_at"],
                    )
                )

    # --- a channel's window: hold and release ---------------------------------------------
    # Called inside the caller's transaction (`conn`); the caller hands the result to `submit`
    # (release) or `notify` (requeue_held) once it has committed.
    async def release(
        self, conn, channel: str, user_key: str, address: str, now: datetime
    ) -> list[dict[str, Any]]:
        """The window opened again: this user's held rows queued again (to `address`, in id
        order, leased to this worker), as the rows `submit` takes; the claim sends them before
        anything queued later in the conversation."""
        return await store.release_held(
            conn, channel, user_key, address, now, self.worker_id, now + self.lease
        )

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
        self._stopping = False
        await self.recover(everything=self.single_process)
        try:
            await self._poll_once()  # what was queued before the start goes out first
        except Exception as exc:  # noqa: BLE001 - the poller tries again
            log.warning("outbox first poll failed (%s)", type(exc).__name__)
        self._runner = asyncio.create_task(self._run())

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop taking rows; let the requests in flight finish and their marks commit (within
        `grace` seconds); everything else stays queued, its lease let go, for the next worker."""
        self._stopping = True
        if self._runner:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        for task in list(self._tasks):
            if task not in self._in_request:
                task.cancel()  # waiting for its turn, a bucket or a retry: the row is queued
        deadline = time.monotonic() + grace
        pending = [t for t in list(self._tasks) if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=max(0.0, deadline - time.monotonic()))
        helpers = [t for t in (self._marker, self._claimer) if t is not None and not t.done()]
        if helpers:
            await asyncio.wait(helpers, timeout=max(0.1, deadline - time.monotonic()))
        left = [t for t in (*self._tasks, *helpers) if not t.done()]
        if left:
            log.warning(
                "outbox stopped with %d send(s) unfinished; they stay for the next start", len(left)
            )
            for t in left:
                t.cancel()
            await asyncio.gather(*left, return_exceptions=True)
        try:  # queued rows free for other workers at once; one cut short is resent once
            async with self.db.tx() as c:
                await store.release_leases(c, self.worker_id)
        except Exception as exc:  # noqa: BLE001 - the leases expire by themselves
            log.warning("outbox could not let go of its leases (%s)", type(exc).__name__)

    async def recover(self, *, everything: bool = False) -> int:
        """Rows left in `sending` by a worker that died (its lease expired; `everything`: any,
        at a single process's start-up) were caught mid-request: each is queued again once (it
        may have gone out: at most one second send), failed when caught a second time. How many
        were queued again."""
        async with self.db.tx() as c:
            resent, failed = await store.recover(c, self.clock(), everything=everything)
        if resent or failed:
            log.warning(
                "outbox recovery: %d message(s) caught mid-request are resent once; "
                "%d caught a second time failed",
                resent,
                failed,
            )
        if everything or not self._runner:
            self.resent_at_start = resent
        metrics.RESENT_AT_START.inc(resent)
        return resent

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
                    try:
                        await self._dispatch(ids)
                    except Exception as exc:  # noqa: BLE001 - the poller finds them again
                        log.warning("outbox dispatch failed (%s)", type(exc).__name__)
                finally:
                    self._dispatching -= 1
        finally:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)

    async def _poll(self) -> None:
        """Keep this worker's leases, recover a dead worker's rows, and take due rows nobody
        holds: retries, rows queued by other processes or before a restart."""
        while True:
            try:
                await self._poll_once()
            except Exception as exc:  # noqa: BLE001
                log.warning("outbox poll failed (%s)", type(exc).__name__)
            await asyncio.sleep(self.poll_interval)

    async def _poll_once(self) -> None:
        if not self.transports:
            return
        period = self.lease.total_seconds()
        if self._inflight and time.monotonic() - self._renewed >= period / 3:
            await self._renew()
        if time.monotonic() - self._recovered >= period / 2:
            self._recovered = time.monotonic()
            await self.recover()
        if len(self._inflight) < MAX_HELD:
            now = self.clock()
            async with self.db.tx() as c:
                rows = await store.lease_due(
                    c, self.worker_id, now, now + self.lease, list(self.transports), LEASE_BATCH
                )
            for row in rows:
                self._start_send(_Row.of(row))
        self.limits.forget_idle()

    async def _renew(self) -> None:
        self._renewed = time.monotonic()
        now = self.clock()
        async with self.db.tx() as c:
            await store.renew(c, list(self._inflight), self.worker_id, now, now + self.lease)

    async def _dispatch(self, ids: list[int]) -> None:
        ids = [i for i in ids if i not in self._inflight]
        if not ids:
            return
        now = self.clock()
        async with self.db.tx() as c:
            rows = await store.lease_ids(
                c, ids, self.worker_id, now, now + self.lease, list(self.transports)
            )
        for row in rows:
            self._start_send(_Row.of(row))

    def _start_send(self, row: _Row) -> None:
        if row.id in self._inflight or self._stopping:
            return
        self._inflight.add(row.id)
        key = (row.channel, row.user_key)
        conv = self._convs.get(key)
        if conv is None:
            conv = self._convs[key] = _Conv()
        conv.rows[row.id] = row
        if conv.task is None:
            task = conv.task = asyncio.create_task(self._drain(key, conv))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _drain(self, key: tuple[str, str], conv: _Conv) -> None:
        """Send a conversation's rows in this process one at a time, lowest id first (a row
        that arrives later with a lower id, e.g. taken over from a dead worker, goes next)."""
        try:
            while conv.rows and not self._stopping:
                row = conv.rows[min(conv.rows)]
                logcontext.set_outbound(row.id)  # this task's log lines name the row
                await self.limits.take(row.channel, row.address)
                async with self._sem:
                    if self._stopping:
                        return
                    wait = await self._try_once(row)
                if wait is None:
                    del conv.rows[row.id]
                    self._inflight.discard(row.id)
                elif wait is _WAIT:
                    await self._wait_turn(row, conv)
                else:
                    await asyncio.sleep(wait)  # the row is queued meanwhile
        finally:
            conv.task = None
            if self._stopping or not conv.rows:
                for rid in conv.rows:
                    self._inflight.discard(rid)
                conv.rows.clear()
                if self._convs.get(key) is conv:
                    del self._convs[key]

    async def _wait_turn(self, row: _Row, conv: _Conv) -> None:
        """An earlier row of this conversation is still queued or being sent (by another worker,
        or waiting for its retry): take it when nobody holds it, else wait until it is gone,
        without taking rate tokens."""
        delay = WAIT_FIRST
        while not self._stopping:
            if min(conv.rows) < row.id:
                return  # an earlier row came to this process: it goes first
            now = self.clock()
            try:
                # Earlier rows nobody holds (e.g. queued by a job, not yet polled): take them.
                async with self.db.tx() as c:
                    earlier = await store.lease_earlier(
                        c, row.channel, row.user_key, row.id, self.worker_id, now, now + self.lease
                    )
                for r in earlier:
                    self._start_send(_Row.of(r))
                if earlier:
                    return
                async with self.db.tx(write=False) as c:
                    if not await store.earlier_active(c, row.channel, row.user_key, row.id):
                        return
            except Exception as exc:  # noqa: BLE001 - the claim will tell
                log.warning("outbox turn check failed (%s)", type(exc).__name__)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, WAIT_CAP)

    async def _try_once(self, row: _Row) -> Any:
        """Claim the row and send it once. None when done with it (sent, failed, stopped, held,
        or no longer this worker's); _WAIT when an earlier row of its conversation goes first;
        else the seconds to wait before trying again."""
        task = asyncio.current_task()
        assert task is not None
        self._in_request.add(task)
        try:
            try:
                claimed = await self._claim(row.id)
            except Exception as exc:  # noqa: BLE001 - the database: still queued, try later
                log.warning("outbox claim failed (%s); retrying", type(exc).__name__)
                return backoff(1, None)
            if claimed is None or claimed is _WAIT:
                return claimed  # None: sent, stopped or held meanwhile, or another worker's
            row.attempts = claimed.attempts
            try:
                ext = await self.transports[row.channel].send(row.address, row.payload)
            except SendRetry as e:
                metrics.send_retry(self.senders, row.channel, e.reason, e.retry_after)
                return await self._retry(row, e.reason, e.retry_after)
            except SendStopped as e:
                metrics.send_result(self.senders, row.channel, "stopped")
                await self._settle(self._stop, row, e.reason)
                return None
            except SendFinal as e:
                metrics.send_result(self.senders, row.channel, "failed")
                await self._settle(self._mark, row.id, "failed", e.reason)
                return None
            except SendHeld as e:  # e.g. WhatsApp outside the 24 h window
                metrics.send_result(self.senders, row.channel, "held")
                await self._settle(self._mark, row.id, "held", e.reason)
                return None
            except Exception as exc:  # noqa: BLE001 - unexpected transport error: keep the row
                log.error("send failed unexpectedly (row %s): %s", row.id, type(exc).__name__)
                metrics.send_result(self.senders, row.channel, "retry", type(exc).__name__)
                return await self._retry(row, type(exc).__name__, None)
            metrics.send_result(self.senders, row.channel, "sent")
            await self._mark_sent(row.id, ext, row.attempts)
            return None
        finally:
            self._in_request.discard(task)

    async def _retry(self, row: _Row, reason: str, retry_after: float | None) -> float | None:
        """A retryable error: the row back to `queued` with its next attempt time, or failed when
        it is older than the horizon. The wait, or None when failed."""
        now = self.clock()
        if row.created_at is not None and now - row.created_at >= self.max_age:
            metrics.send_gave_up(row.channel)
            await self._settle(
                self._mark,
                row.id,
                "failed",
                f"gave up after {row.attempts} attempts: {reason}"[:250],
            )
            return None
        wait = backoff(row.attempts, retry_after)
        metrics.send_retried(row.channel)
        if retry_after is not None:  # Telegram 429: slow the whole channel
            self.limits.pause(row.channel, wait)
        log.warning(
            "send retry in %.1fs (row %s, attempt %d): %s", wait, row.id, row.attempts, reason
        )
        await self._settle(
            self._mark,
            row.id,
            "queued",
            reason,
            next_attempt_at=now + timedelta(seconds=max(wait, 0.0)),
        )
        return wait

    async def _settle(self, fn, *args, **kw) -> None:
        """A status write after a send, retried while the database fails (a few seconds): the
        row stays `sending` otherwise, and the next start-up resends it once."""
        delay = 0.05
        for _ in range(8):
            try:
                await fn(*args, **kw)
                return
            except Exception as exc:  # noqa: BLE001
                log.warning("outbox status write failed (%s); retrying", type(exc).__name__)
                if self._stopping:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    # --- claims and marks, shared by the sends of a moment (group commit) ------------------
    async def _claim(self, row_id: int):
        """queued -> sending for this row, in one transaction with the other sends ready now;
        the claimed row (its attempts), _WAIT when an earlier row of its conversation goes
        first, or None when it is no longer queued (or another worker holds it)."""
        fut = asyncio.get_running_loop().create_future()
        self._claims.append((row_id, fut))
        if self._claimer is None or self._claimer.done():
            self._claimer = asyncio.create_task(self._flush_claims())
        return await fut

    async def _flush_claims(self) -> None:
        while self._claims:
            batch, self._claims = self._claims, []
            now = self.clock()
            try:
                async with self.db.tx() as c:
                    rows, waiting = await store.claim(
                        c,
                        [i for i, _ in batch],
                        list(self.transports),
                        self.worker_id,
                        now,
                        now + self.lease,
                    )
            except Exception as exc:  # noqa: BLE001
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            by_id: dict[int, Any] = {r.id: r for r in rows}
            by_id.update((i, _WAIT) for i in waiting)
            for i, fut in batch:
                if not fut.done():
                    fut.set_result(by_id.get(i))

    async def _mark_sent(self, row_id: int, external_id: str | None, attempts: int) -> None:
        """Record a sent row. Marks from concurrent sends share one transaction (under load
        that is one commit for many messages); the caller returns once its mark is committed.
        A mark the database refuses stays in memory and is tried again: the row is never
        re-queued, so never sent a second time."""
        fut = asyncio.get_running_loop().create_future()
        self._sent.append(
            ({"rid": row_id, "ext": external_id, "att": attempts, "at": self.clock()}, fut)
        )
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._flush_sent())
        await asyncio.shield(fut)

    async def _flush_sent(self) -> None:
        delay = 0.05
        while self._sent:
            batch = list(self._sent)
            try:
                async with self.db.tx() as c:
                    await store.mark_sent(c, [p for p, _ in batch])
            except Exception as exc:  # noqa: BLE001 - keep them and try again
                log.warning(
                    "marking %d sent message(s) failed (%s); retrying (they are not resent)",
                    len(batch),
                    type(exc).__name__,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.05
            del self._sent[: len(batch)]
            for _, fut in batch:
                if not fut.done():
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

    async def _stop(self, row, reason: str) -> None:
        async with self.db.tx() as c:
            await store.stop_chat(c, row.id, row.channel, row.address, reason)
        log.info("chat stopped (blocked bot) on %s; its queued messages are stopped", row.channel)
