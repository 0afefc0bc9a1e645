"""The reliability shape around the engine: inbox, per-conversation processing, outbox.

receive(): the event is stored under a unique (channel, external_id) and committed before the
adapter acknowledges it; a redelivery is a no-op. Processing then happens in the background, one
event at a time per conversation and in arrival order: an asyncio lock per user in this process,
and SELECT ... FOR UPDATE on the conversation row across processes (PostgreSQL). Replies become
outbox rows in the same transaction that moves the conversation on, so a crash loses nothing and
a restart (recover()) picks up whatever was stored but not processed.

The sweeper (every few seconds) schedules conversations whose stored events nothing is
processing. A transient error (a killed or lost database connection, a locked SQLite file, a
timeout) leaves the event pending and counts an attempt; after MAX_EVENT_ATTEMPTS it is `dead`
(dead-lettered, counted on the dashboard's home) and the resident gets the apology. Any other
error (a bug meeting this input) fails the event at once, with the apology. stop() ends intake
and lets the event in hand finish, within a bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from core import logcontext, metrics
from core.engine import Ctx, Engine, State
from core.i18n import texts
from core.model import Event, Reply
from core.outbox import Outbox
from db import inbox_store as store
from db.database import Database
from domain.cleaning import clean_text, scrub_json
from domain.clock import utcnow
from domain.masking import masked_payload

log = logging.getLogger("jaring.service")

# The longest text an event keeps (Telegram's and WhatsApp's own limit is 4096); steps read at
# most the first 1000 characters (core/engine.py).
TEXT_MAX = 4096
# An event whose processing failed transiently (database, network) is retried by the sweeper,
# with a growing pause, this many times; then it is `dead` (the dashboard counts it) and the
# resident gets the apology.
MAX_EVENT_ATTEMPTS = 5
SWEEP_INTERVAL = 5.0
# Conversations processed at once. On SQLite a unit of work runs on the loop without yielding,
# so each processing step in the ready queue delays everything behind it, the webhooks'
# acknowledgements included: with 50 residents at once, 50 steps of ~2 ms stood between a POST
# and its 200 (WhatsApp's median ack was 93-175 ms). A few at a time keep the loop's turns short
# and cost no throughput (the steps were serial anyway). On PostgreSQL a step waits on the
# network, so more overlap pays: the connection pool's size, less a few connections kept for
# the inbox inserts (the webhooks' acks) and the outbox.
PROCESS_SLOTS_SQLITE = 2
PG_RESERVED_CONNECTIONS = 2


# An adapter's step inside the inbox transaction: (conn, after-commit callables) -> event or None.
Prepare = Callable[[object, list], Awaitable["Event | None"]]


class Service:
    def __init__(
        self,
        db: Database,
        engine: Engine,
        deps,
        outbox: Outbox,
        *,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.db = db
        self.engine = engine
        self.deps = deps
        self.outbox = outbox
        self.clock = clock
        self._dirty: dict[str, bool] = {}
        self._tasks: set[asyncio.Task] = set()
        self._incoming: list[tuple[Event | None, Prepare | None, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None
        self._stopping = False
        self._sweeper: asyncio.Task | None = None
        self._retry_at: dict[str, float] = {}  # user key -> loop time of its next retry
        self.sweep_interval = SWEEP_INTERVAL
        self._inline = bool(getattr(db, "is_sqlite", False))  # see receive()
        self._slots = asyncio.Semaphore(
            PROCESS_SLOTS_SQLITE
            if getattr(db, "is_sqlite", True)
            else max(1, db.pool_size - PG_RESERVED_CONNECTIONS)
        )

    # --- inbox ----------------------------------------------------------------------------
    async def receive(self, ev: Event | None = None, *, prepare: Prepare | None = None) -> bool:
        """Store the event (commit) and schedule processing. False for a duplicate delivery.

        Events arriving together (a burst of webhooks) are stored in one transaction (group
        commit) on PostgreSQL, where a commit is a round trip; each caller returns only after the
        commit that holds its event. On SQLite an event is stored at once when no group is
        forming (see below).

        `prepare(conn, after)`, when given, runs inside that same transaction and returns the
        event to store (None: nothing to store, the adapter handled it). An adapter uses it for
        its own per-message bookkeeping (WhatsApp: the user's ids and 24-hour window) so that it
        shares the inbox's commit instead of paying for a transaction of its own. Callables it
        appends to `after` run right after the commit, before any processing is scheduled. A
        batch that fails is retried one event per transaction, so one bad message cannot fail
        its neighbours."""
        if self._inline and not self._incoming and (self._flusher is None or self._flusher.done()):
            # SQLite, nothing waiting: store right here. A unit of work runs on the loop
            # without yielding, so the caller (a webhook) answers within this turn of the loop
            # instead of two turns later (the flusher task, then its wake-up), and under load a
            # turn is long: WhatsApp's ack was 93-175 ms (issue #14). A commit costs tens of
            # microseconds in WAL mode, so a burst loses little by not sharing one.
            [stored] = await self._store_batch([(ev, prepare, None)])
            if stored is not None:
                self.schedule(stored.user_key)
            return stored is not None
        fut = asyncio.get_running_loop().create_future()
        self._incoming.append((ev, prepare, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._store_incoming())
        stored = await fut
        if stored is not None:
            self.schedule(stored.user_key)
        return stored is not None

    async def receive_many(self, events: list[Event]) -> list[bool]:
        """`receive` for several events at once (a getUpdates answer): they join the same group
        commit, in the order given, so one transaction normally holds them all. Returns, per
        event, False for a duplicate; raises the first failure after the others settled (the
        caller retries them all: what was stored is then a duplicate)."""
        if not events:
            return []
        loop = asyncio.get_running_loop()
        futs = []
        for ev in events:
            fut = loop.create_future()
            self._incoming.append((ev, None, fut))
            futs.append(fut)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._store_incoming())
        outcomes = await asyncio.gather(*futs, return_exceptions=True)
        failure: BaseException | None = None
        out: list[bool] = []
        for o in outcomes:
            if isinstance(o, BaseException):
                failure = failure or o
                out.append(False)
            elif o is not None:
                self.schedule(o.user_key)
                out.append(True)
            else:
                out.append(False)
        if failure is not None:
            raise failure
        return out

    async def _store_incoming(self) -> None:
        while self._incoming:
            batch, self._incoming = self._incoming, []
            try:
                results = await self._store_batch(batch)
            except Exception as exc:  # noqa: BLE001
                if len(batch) > 1:  # find the bad one: each event on its own
                    await self._store_singly(batch)
                    continue
                for *_, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (*_, fut), stored in zip(batch, results, strict=False):
                if not fut.done():
                    fut.set_result(stored)

    async def _store_singly(self, batch) -> None:
        for item in batch:
            try:
                [stored] = await self._store_batch([item])
            except Exception as exc:  # noqa: BLE001 - this caller sees its own failure
                if not item[2].done():
                    item[2].set_exception(exc)
                continue
            if not item[2].done():
                item[2].set_result(stored)

    async def _store_batch(self, batch) -> list[Event | None]:
        """One transaction for the batch; the stored events (None: duplicate or not stored)."""
        results: list[Event | None] = []
        after: list[Callable[[], None]] = []
        seen: list[tuple[str, str, bool]] = []  # (channel, external id, new): the metrics
        # Without an adapter step the batch is one INSERT: atomic on its own, so on PostgreSQL
        # it goes without BEGIN and COMMIT (Database.single).
        plain = all(prepare is None for _, prepare, _ in batch)
        async with self.db.single() if plain else self.db.tx() as c:
            now = self.clock()
            events: list[Event | None] = []
            for ev, prepare, _ in batch:
                if prepare is not None:
                    ev = await prepare(c, after)
                events.append(clean_event(ev) if ev is not None else None)
            # One multi-row INSERT for the batch (one round trip on PostgreSQL).
            todo = [e for e in events if e is not None]
            stored = iter(await store.insert_events(c, todo, now) if todo else [])
            for e in events:
                new = e is not None and next(stored)
                results.append(e if new else None)
                if e is not None:
                    seen.append((e.channel, e.external_id, bool(new)))
        for channel, external_id, is_new in seen:
            metrics.stored(channel, external_id, is_new)
        for fn in after:
            try:
                fn()
            except Exception:
                log.exception("an after-commit step failed")
        return results

    def schedule(self, user_key: str) -> None:
        if self._stopping:
            return  # stored events wait for the next start (recover / the sweeper)
        if user_key in self._dirty:
            self._dirty[user_key] = True  # the running drain will look again
            return
        self._dirty[user_key] = True
        task = asyncio.create_task(self._drain(user_key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, user_key: str) -> None:
        try:
            while self._dirty.get(user_key) and not self._stopping:
                self._dirty[user_key] = False
                while not self._stopping and await self._process_in_slot(user_key):
                    pass
        except Exception:
            log.exception("processing failed for a conversation; it will be retried on recover")
        finally:
            self._dirty.pop(user_key, None)

    async def recover(self) -> int:
        """Schedule every conversation that has stored but unprocessed events (left by a crash
        or a stop), and start the sweeper that keeps doing so."""
        self._stopping = False
        n = await self.sweep()
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep_loop())
        return n

    async def sweep(self) -> int:
        """Schedule the conversations with pending events that nothing is processing: a
        transient error (its pause over), a killed connection, another process's crash."""
        async with self.db.tx(write=False) as c:
            keys = await store.pending_user_keys(c)
        now = asyncio.get_running_loop().time()
        n = 0
        for k in keys:
            if k in self._dirty or self._retry_at.get(k, 0.0) > now:
                continue
            self._retry_at.pop(k, None)
            self.schedule(k)
            n += 1
        return n

    async def _sweep_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.sweep()
            except Exception as exc:  # noqa: BLE001 - the database: next round
                log.warning("inbox sweep failed (%s)", type(exc).__name__)

    def busy(self, user_key: str) -> bool:
        """Whether this conversation has events scheduled or being processed (the simulator)."""
        return user_key in self._dirty

    async def idle(self) -> None:
        """Wait until nothing is being processed (tests and the console use this)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self, grace: float = 3.0) -> None:
        """Shutdown: no new processing; the event in hand of each conversation finishes (within
        `grace` seconds, else its transaction is rolled back); every other stored event stays
        pending for the next start."""
        self._stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        if self._tasks:
            done, left = await asyncio.wait(list(self._tasks), timeout=grace)
            for t in left:
                t.cancel()
            if left:
                log.warning("stopped %d conversation(s) mid-event; they resume at start", len(left))
                await asyncio.gather(*left, return_exceptions=True)

    # --- processing -----------------------------------------------------------------------
    async def _process_in_slot(self, user_key: str) -> bool:
        """One event of the conversation, in one of the processing slots (PROCESS_SLOTS_*):
        taken per event, so a long conversation does not keep the others waiting."""
        async with self._slots:
            if self._stopping:
                return False
            return await self._process_one(user_key)

    async def _process_one(self, user_key: str) -> bool:
        now = self.clock()
        queued: list[int] = []
        event_id: int | None = None
        logcontext.set_event()
        try:
            async with self.db.tx() as c:
                # Lock the conversation first, then read its oldest pending event: another
                # worker may have processed it while we waited for the lock.
                conv = await store.lock_conversation(c, user_key)
                if conv is None:
                    first = await store.first_pending(c, user_key)
                    if first is None:
                        return False
                    await store.create_conversation(c, user_key, first.channel, first.address, now)
                    conv = await store.lock_conversation(c, user_key)
                pending = await store.pending_events(c, user_key)
                if not pending:
                    return False
                ev, more = pending[0], len(pending) > 1
                event_id = ev.id
                logcontext.set_event(ev.id, conv.id)
                state = State(
                    conv.id,
                    conv.user_key,
                    conv.channel,
                    ev.address,
                    conv.locale,
                    conv.flow,
                    conv.step,
                    dict(conv.data or {}),
                    conv.owner,
                    conv.role,
                    conv.household_id,
                    conv.consent_version,
                    conv.misunderstood,
                    conv.last_activity_at,
                    is_new=conv.flow == "start" and conv.step == "start",
                )
                event = Event(
                    ev.channel,
                    ev.user_key,
                    ev.external_id,
                    ev.kind,
                    ev.payload or {},
                    ev.address,
                    ev.locale_hint,
                )
                # The stored copy keeps no NIK, No. KK or phone number: the step reads `event`,
                # and the masking commits with the step (docs/privacy.md). Before the step: a
                # step may redact the stored copy further (contact_store.redact_event).
                if (masked := masked_payload(ev.payload)) is not None:
                    await store.set_payload(c, ev.id, masked)
                ctx = Ctx(self.engine, c, state, self.deps, now, event)
                await self.engine.handle(ctx)
                rows = self._reply_rows(ev, ctx.replies, now, ctx.t.locale)
                # State, event done and replies together (one statement on PostgreSQL).
                await store.finish_event(c, state, ev.id, now, replies=rows)
                if ev.channel not in self.outbox.transports:
                    rows = []  # another process sends on this channel: it polls for them
                queued = ctx.notified
            metrics.finished(ev.channel, ev.external_id)
        except Exception as exc:
            if store.transient(exc):
                return await self._retry_later(user_key, event_id, now, type(exc).__name__)
            log.error(
                "event processing failed (%s); the resident gets an apology",
                type(exc).__name__,
                exc_info=exc,
            )
            failed = await self._fail_pending(user_key, now, type(exc).__name__)
            if failed is None:
                return False
            rows, more = failed, True
        self.outbox.submit(rows)
        if queued:
            self.outbox.notify(queued)
        return more

    def _reply_rows(self, ev, replies: list[Reply], now, locale: str | None = None) -> list[dict]:
        """The outbox rows (`queued`) for the replies. When this process sends on that channel,
        the rows are handed straight to the sender after the commit (no read back); it claims
        each right before its request. Otherwise they wait for a sender's poll."""
        local = ev.channel in self.outbox.transports
        return [
            dict(
                channel=ev.channel,
                user_key=ev.user_key,
                address=ev.address,
                inbound_event_id=ev.id,
                payload=r.to_payload(locale),
                status="queued",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                # This worker sends them: leased to it from the start (docs/scaling.md).
                **(
                    self.outbox.lease_values(now)
                    if local
                    else {"lease_owner": None, "lease_until": None}
                ),
            )
            for r in replies
        ]

    async def _queue_replies(
        self, c, ev, replies: list[Reply], now, locale: str | None = None
    ) -> list[dict]:
        """Insert the replies into the outbox (see `_reply_rows`); the rows to hand to this
        process's sender."""
        if not replies:
            return []
        rows = self._reply_rows(ev, replies, now, locale)
        await store.insert_replies(c, rows)
        return rows if ev.channel in self.outbox.transports else []

    async def _retry_later(self, user_key: str, event_id: int | None, now, error: str) -> bool:
        """A transient error: the event stays pending, its attempt counted, and the sweeper
        tries again after a pause (1, 2, 4 ... s, at most a minute). After MAX_EVENT_ATTEMPTS it
        is dead-lettered with the apology. Whether to go on with the conversation's next event
        (only after a dead letter: otherwise this drain stops here)."""
        try:
            async with self.db.tx() as c:
                if event_id is None:
                    first = await store.first_pending(c, user_key)
                    event_id = first.id if first is not None else None
                attempts = await store.count_attempt(c, event_id, error) if event_id else 0
        except Exception as exc:  # noqa: BLE001 - the database is away: not the event's fault
            log.warning("event processing failed (%s); retried later", type(exc).__name__)
            attempts = 0
        if attempts >= MAX_EVENT_ATTEMPTS:
            log.error("event %s dead-lettered after %d attempts (%s)", event_id, attempts, error)
            try:
                failed = await self._fail_pending(user_key, now, error, status="dead")
            except Exception as exc:  # noqa: BLE001
                log.warning("dead-lettering failed (%s); retried later", type(exc).__name__)
                failed = None
            if failed is None:
                return False
            self.outbox.submit(failed)
            return True  # the conversation's next event, if any
        log.warning("event processing failed (%s, attempt %d); retried later", error, attempts)
        metrics.INBOUND_RETRIES.inc()
        pause = min(60.0, 2.0 ** max(0, attempts - 1))
        self._retry_at[user_key] = asyncio.get_running_loop().time() + pause
        return False

    async def _fail_pending(
        self, user_key: str, now, error: str, status: str = "failed"
    ) -> list[dict] | None:
        async with self.db.tx() as c:
            ev = await store.first_pending(c, user_key)
            if ev is None:
                return None
            conv = await store.lock_conversation(c, user_key)
            logcontext.set_event(ev.id, conv.id if conv else None)
            t = texts((conv.locale if conv else None) or self.deps.default_locale)
            reply = Reply(
                t._("Sorry, something went wrong on our side. Please try again, or type menu.")
            )
            if status == "dead":
                await store.mark_dead(c, ev.id, now, error)
            else:
                await store.mark_failed(c, ev.id, now, error)
            metrics.finished(
                ev.channel, ev.external_id, "dead_lettered" if status == "dead" else "failed"
            )
            return await self._queue_replies(c, ev, [reply], now, t.locale)


def clean_event(ev: Event) -> Event:
    """The event as stored: no NUL, control characters or lone surrogates in any string
    (PostgreSQL refuses U+0000), payload strings cut to TEXT_MAX and ids to their columns
    (docs/security.md, "Bad input")."""
    return replace(
        ev,
        user_key=clean_text(ev.user_key, 128),
        external_id=clean_text(ev.external_id, 128),
        payload=scrub_json(ev.payload, limit=TEXT_MAX),
        address=clean_text(ev.address, 128),
        locale_hint=clean_text(ev.locale_hint, 8) if ev.locale_hint else ev.locale_hint,
    )


async def record_handled(conn, ev: Event, now: datetime) -> int | None:
    """Store, inside the caller's transaction, an inbound event the channel answered itself
    (WhatsApp's "Lainnya" page) as processed, so a redelivery does nothing. Its id, or None
    when it was stored before."""
    return await store.insert_handled_event(conn, clean_event(ev), now)
