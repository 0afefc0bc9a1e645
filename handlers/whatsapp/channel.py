"""WhatsApp adapter: Cloud API webhooks become `Event`s, reply payloads become Graph API messages.

In:  GET /wa/webhook answers Meta's subscription handshake; POST /wa/webhook checks the
     X-Hub-Signature-256 HMAC over the raw body, stores every message of every entry and change
     in the inbox (`receive`) under its wamid and only then answers 200. Processing, image
     downloads and status bookkeeping happen after. Delivery statuses are recorded in
     `wa_statuses` against the wamid that `outbound_messages.external_id` holds.
Out: `WhatsAppTransport.send` renders a reply payload (text, reply buttons, a list, a paged list,
     a location request; long bodies split at paragraph, line or word boundaries) and posts it
     to the Graph API (`GraphClient.send`: a JSON POST over aiohttp). Outside the 24-hour
     customer-service window it sends the approved "a reply is waiting" template once and raises
     `SendHeld`; held rows are released through the outbox, in order and before the reply to
     the new message, when the user writes again.

The package, one module per job: parse (webhook JSON, signature), render (payload -> messages),
graph (Graph API client, error mapping), window (contacts, the 24-hour window), media (image
downloads), channel (this: routes, webhook handlers, transport, start/stop). All SQL is in
db/whatsapp_store.py and, for outbox rows, behind the `Outbox` API (db/outbox_store.py).

Privacy: phone numbers (wa_id) and message contents never go to the log; log lines carry wamids,
media ids, outbox row ids, error codes and exception types.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from pywa_async.errors import WhatsAppError

from config import Settings
from core.health import Health
from core.inbox import record_handled
from core.model import Event
from db import media_store
from db import whatsapp_store as store
from db.database import Database
from domain.cleaning import loads
from domain.clock import utcnow
from handlers.plugin import Route
from handlers.whatsapp.graph import REENGAGEMENT, GraphClient, recipient, send_error
from handlers.whatsapp.media import MediaFetcher
from handlers.whatsapp.parse import (
    CHANNEL,
    Delivery,
    Inbound,
    Status,
    parse_delivery,
    signature_ok,
)
from handlers.whatsapp.render import LIST_ROWS_MAX, render
from handlers.whatsapp.window import Window, in_window

log = logging.getLogger("handlers.whatsapp")

WEBHOOK_PATH = "/wa/webhook"
SIGNATURE_HEADER = "X-Hub-Signature-256"


class WhatsAppTransport:
    """What the outbox calls to deliver one reply to a WhatsApp user."""

    channel = CHANNEL

    def __init__(
        self,
        api: GraphClient,
        settings: Settings,
        window: Window,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.api = api
        self.window = window
        self.clock = clock
        self.rate_global = settings.whatsapp_rate_global
        self.rate_per_chat = settings.whatsapp_rate_per_chat
        # A reply split into several messages: how many went out, so a retry resumes after them.
        self._progress: OrderedDict[tuple[str, str], int] = OrderedDict()

    async def send(self, address: str, payload: dict[str, Any]) -> str | None:
        now = self.clock()
        contact = await self.window.check(address, now)  # raises SendHeld outside the window
        to = recipient(address, contact)
        messages = render(payload)
        # Which pieces of a split reply went out already (a retry resumes after them); a reply
        # of one message has nothing to resume, so it is not keyed (saves a JSON dump and hash).
        key = (
            (address, hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest())
            if len(messages) > 1
            else None
        )
        done = self._progress.get(key, 0) if key else 0
        wamid = None
        for i, (typ, obj) in enumerate(messages):
            if i < done:
                continue
            try:
                wamid = await self.api.send(to, typ, obj)
            except WhatsAppError as e:
                if e.code == REENGAGEMENT:  # Meta says the window is closed
                    self._remember(key, i)
                    await self.window.hold(
                        address, await self.window.close(address, now), now, reopened_ok=False
                    )
                error = send_error(e)
                self._remember(key, i)
                raise error from e
            except Exception as e:
                error = send_error(e)
                if error is e:
                    raise
                self._remember(key, i)
                raise error from e
        if key is not None:
            self._progress.pop(key, None)
        return wamid

    def _remember(self, key: tuple[str, str] | None, sent: int) -> None:
        if sent and key is not None:
            self._progress[key] = sent
            self._progress.move_to_end(key)
            while len(self._progress) > 10_000:
                self._progress.popitem(last=False)


Receive = Callable[[Event], Awaitable[bool]]


class WhatsAppChannel:
    """WhatsApp in (webhook) and out (`transport`).

    Lifecycle: construct; bot.py adds `routes()` to the web app before it starts; `await start()`;
    ... the web app stops; `await stop_receiving()`; the outbox stops; `await stop()`.
    """

    def __init__(
        self,
        settings: Settings,
        receive: Receive,
        *,
        db: Database,
        outbox,
        clock: Callable[[], datetime] = utcnow,
        api: GraphClient | None = None,
    ) -> None:
        if not settings.whatsapp_enabled:
            raise ValueError(
                "WHATSAPP_TOKEN, WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_APP_SECRET and "
                "WHATSAPP_VERIFY_TOKEN must all be set"
            )
        assert settings.whatsapp_app_secret and settings.whatsapp_verify_token
        self.settings = settings
        self.receive = receive
        self.db = db
        self.outbox = outbox
        self.clock = clock
        self.api = api or GraphClient(settings)
        self.window = Window(db, outbox, self.api, settings, clock, self._background)
        self.windows = self.window.cache
        self.transport = WhatsAppTransport(self.api, settings, self.window, clock)
        self.media_dir = Path(settings.jaring_media_dir)
        self.media = MediaFetcher(db, self.api, self.media_dir, clock, lambda: self._stopping)
        self._secret = settings.whatsapp_app_secret.get_secret_value().encode()
        self._verify = settings.whatsapp_verify_token.get_secret_value().encode()
        self._tasks: set[asyncio.Task] = set()
        self._stopping = False
        # For health(): the last signed delivery and the last refused signature (monotonic).
        self._last_delivery: float | None = None
        self._last_refused: float | None = None

    def routes(self) -> list[Route]:
        """The webhook, public: authenticated by the verify token and the HMAC signature."""
        return [
            Route("GET", WEBHOOK_PATH, self.handle_verify),
            Route("POST", WEBHOOK_PATH, self.handle_webhook),
        ]

    def describe(self, web_url: str) -> str:
        return f"webhook at {web_url}{WEBHOOK_PATH}"

    async def start(self) -> None:
        """Resume image downloads interrupted by a restart."""
        for media_id in await self.media.pending():
            self._background(self.media.download(media_id))
        log.info(
            "whatsapp: webhook at %s, Graph API %s",
            WEBHOOK_PATH,
            "override" if self.settings.whatsapp_api_url else "Meta",
        )

    def health(self) -> Health:
        """Configured (all four settings: the channel is built only then) and receiving. Refused
        signatures are told, not failed on: anyone can post junk to a public webhook."""
        if self._stopping:
            return Health(False, "receiving stopped")
        now = time.monotonic()
        last = self._last_delivery
        detail = "configured; " + (
            f"last delivery {now - last:.0f} s ago" if last is not None else "no delivery yet"
        )
        if self._last_refused is not None and (last is None or self._last_refused > last):
            detail += (
                f"; a delivery with a wrong signature {now - self._last_refused:.0f} s ago "
                "(WHATSAPP_APP_SECRET?)"
            )
        return Health(True, detail)

    async def stop_receiving(self) -> None:
        self._stopping = True
        await self.idle()

    async def idle(self) -> None:
        """Wait for background work (downloads, status follow-ups): tests use this."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        await self.stop_receiving()
        await self.api.close()

    def _background(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----------------------------------------------------------------- webhook

    async def handle_verify(self, request: web.Request) -> web.Response:
        """GET /wa/webhook: Meta's subscription handshake."""
        q = request.query
        token = q.get("hub.verify_token")
        challenge = q.get("hub.challenge")
        if (
            q.get("hub.mode") == "subscribe"
            and token is not None
            and challenge is not None
            and hmac.compare_digest(token.encode("utf-8", "replace"), self._verify)
        ):
            return web.Response(text=challenge)
        log.warning("whatsapp: webhook verification refused")
        return web.Response(status=403, text="Forbidden")

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """POST /wa/webhook: verify the signature, store every message, then answer 200."""
        body = await request.read()
        header = request.headers.get(SIGNATURE_HEADER)
        if not header:
            return web.Response(status=401, text="Unauthorized")
        if not signature_ok(body, header, self._secret):
            log.warning("whatsapp: webhook with a wrong signature refused")
            self._last_refused = time.monotonic()
            return web.Response(status=403, text="Forbidden")
        self._last_delivery = time.monotonic()
        try:
            # Decoded without NUL, control characters or lone surrogates; too deep, NaN or
            # Infinity is refused (domain/cleaning.py, docs/security.md "Bad input").
            delivery = parse_delivery(loads(body))
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError):
            # JSONDecodeError, UnicodeDecodeError, BadJson, BadDelivery, or fields of the wrong
            # JSON type
            return web.Response(status=400, text="Bad Request: not a WhatsApp webhook delivery")
        if delivery.skipped:
            log.info(
                "whatsapp: %d message item(s) without an id or sender skipped", delivery.skipped
            )
        try:
            await self._store(delivery)
        except Exception as exc:
            log.error("whatsapp: storing a delivery failed (%s)", type(exc).__name__, exc_info=exc)
            return web.Response(status=500, text="Internal Server Error")
        return web.Response(text="ok")

    async def _store(self, delivery: Delivery) -> None:
        for m in delivery.messages:
            if not self.windows.open_for(m.bsuid, m.wa_id, self.clock()):
                await self.window.settle_in_flight(m, self.clock())
            out: dict[str, Any] = {}
            await self.receive(
                None, prepare=lambda c, after, m=m, out=out: self._prepare(c, after, m, out)
            )
            if out.get("media"):
                self._background(self.media.download(out["media"]))
        if delivery.statuses:
            failed = await self._record_statuses(delivery.statuses)
            for wamid in failed:
                self._background(self.window.reengage(wamid))

    async def _prepare(self, c, after: list, m: Inbound, out: dict[str, Any]) -> Event | None:
        """Inside the inbox transaction (Service.receive's group commit): link the user's ids,
        move the 24 h window, claim held replies (sent right after the commit, so they go before
        the reply to this message), note an image to download, and serve a "Lainnya" tap.
        Returns the event for the inbox (None when handled here). May run twice for one message
        (a failed batch is retried event by event), so it only *sets* `out`."""
        now = self.clock()
        out.clear()
        user_key, address, last_in, closed_at, moved = await self.window.link(c, m, now)
        if moved and in_window(last_in, now, closed_at):
            rows = await self.outbox.release(c, CHANNEL, user_key, address, now)
            if rows:
                log.info("whatsapp: %d held message(s) re-sent (wamid %s)", len(rows), m.wamid)
                after.append(lambda rows=rows: self.outbox.submit(rows))
        if m.more_page is not None:
            page_id = await self._more(c, m, user_key, address, now)
            if page_id is not None:
                if page_id > 0:
                    after.append(lambda: self.outbox.notify([page_id]))
                return None
        if m.media is not None:
            if await media_store.claim(
                c,
                channel=CHANNEL,
                media_id=m.media.id,
                ref=m.payload["ref"],
                user_key=user_key,
                message_id=m.wamid,
                mime=m.media.mime,
                now=now,
            ):
                out["media"] = m.media.id
        return Event(
            CHANNEL,
            user_key,
            m.wamid,
            m.kind,
            m.payload,  # type: ignore[arg-type]
            address,
            None,
        )

    async def _more(self, c, m: Inbound, user_key: str, address: str, now: datetime) -> int | None:
        """A "Lainnya" tap: queue the next page of the user's last list. Stored in the inbox as
        done (so a redelivery does nothing). None when there is no such list: the core then
        answers it like any stale button. 0 for a redelivery."""
        recent = await self.outbox.recent_payloads(c, CHANNEL, user_key)
        last = next((p for p in recent if (p or {}).get("choices")), None)
        if last is None or len(last["choices"]) <= LIST_ROWS_MAX:
            return None
        event_id = await record_handled(
            c,
            Event(CHANNEL, user_key, m.wamid, m.kind, m.payload, address),
            now,  # type: ignore[arg-type]
        )
        if event_id is None:
            return 0
        payload = {**last, "wa_page": m.more_page}
        return await self.outbox.enqueue(c, CHANNEL, user_key, address, payload, now, event_id)

    async def _record_statuses(self, statuses: list[Status]) -> list[str]:
        """Store sent / delivered / read / failed per wamid; returns wamids that failed because
        the 24-hour window had closed (Meta may accept a send and fail it afterwards)."""
        now = self.clock()
        failed = []
        async with self.db.tx() as c:
            for s in statuses:
                new = await store.insert_status(
                    c, s.wamid, s.status, s.timestamp, s.error_code, s.error_title, now
                )
                if new and s.status == "failed":
                    log.warning(
                        "whatsapp: message %s failed at Meta (code %s)", s.wamid, s.error_code
                    )
                    if s.error_code == REENGAGEMENT:
                        failed.append(s.wamid)
        return failed
