"""Telegram in and out: webhook or long polling in, `transport` out.

The Bot API is spoken as plain JSON (handlers/telegram/botapi.py); aiogram is imported only to
validate the rare update shapes the fast parser does not read (handlers/telegram/parse.py).
Conversation state, i18n and rate limiting live in the core. Inbound, every update is handed to
`receive` (which commits it to the inbox) before Telegram is told it arrived: in polling mode
the next getUpdates offset acknowledges it, in webhook mode the 200 answers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from config import Settings
from core.health import Health
from core.model import Event
from db.leader import TELEGRAM_POLLING, AdvisoryLock
from domain.cleaning import loads
from domain.clock import utcnow
from handlers.plugin import Route, add_routes
from handlers.telegram.botapi import BotApi
from handlers.telegram.media import PhotoFetcher
from handlers.telegram.parse import webhook_event
from handlers.telegram.transport import TelegramTransport

log = logging.getLogger("handlers.telegram")

WEBHOOK_PATH = "/tg/webhook"
ALLOWED_UPDATES = ["message", "callback_query"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# The command menu Telegram shows next to the input field. This is Telegram metadata, not
# conversation text, so it lives here rather than in the catalog. "" is the default
# (Indonesian); other keys are language codes.
BOT_COMMANDS: dict[str, list[tuple[str, str]]] = {
    "": [
        ("start", "Mulai"),
        ("menu", "Menu utama"),
        ("cek", "Cek status bansos keluarga"),
        ("bahasa", "Ganti bahasa"),
        ("privasi", "Pemberitahuan privasi"),
        ("bantuan", "Bantuan"),
    ],
    "en": [
        ("start", "Start"),
        ("menu", "Main menu"),
        ("cek", "Check the family's social aid status"),
        ("bahasa", "Change language"),
        ("privasi", "Privacy notice"),
        ("bantuan", "Help"),
    ],
}

# Telegram's rule for webhook secret tokens.
_SECRET_OK = re.compile(r"[A-Za-z0-9_-]{1,256}\Z")

Receive = Callable[[Event], Awaitable[bool]]
# core.inbox.Service.receive_many: the events stored in one transaction, in order.
ReceiveMany = Callable[[list[Event]], Awaitable[list[bool]]]
# getUpdates answers are long polls: the HTTP timeout is the poll's plus this margin.
POLL_MARGIN = 10

# Long polling runs in one worker of the fleet (docs/scaling.md): the others try to take over
# this often.
POLLING_LEAD_RETRY = 5.0


class TelegramChannel:
    """Telegram in and out: webhook or long polling in, `transport` out.

    Lifecycle: construct; add `routes()` to the web app before it starts (webhook mode; bot.py
    does, `register_routes(app)` does it for a bare app); `await start()`; ...
    `await stop_receiving()`; stop the outbox; `await stop()`.
    """

    def __init__(
        self,
        settings: Settings,
        receive: Receive,
        *,
        receive_many: ReceiveMany | None = None,
        polling_timeout: int = 20,
        db=None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if not settings.telegram_enabled:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        assert settings.telegram_bot_token is not None
        self._settings = settings
        self._receive = receive
        self._receive_many = receive_many
        self.polling_timeout = polling_timeout
        self._api = BotApi(
            settings.telegram_bot_token.get_secret_value(), settings.telegram_api_url or None
        )
        self._transport = TelegramTransport(self._api, settings)
        secret = settings.telegram_webhook_secret
        # Bytes for hmac.compare_digest; an empty secret counts as none.
        self._secret = (secret.get_secret_value().encode() or None) if secret else None
        self._routes_given = False
        self._polling: asyncio.Task[None] | None = None
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_stored: int | None = None  # the newest update_id stored (polling)
        self._answers: set[asyncio.Task[None]] = set()
        # For health(): the webhook registered at start; the last getUpdates that answered and
        # the last that failed (monotonic time, exception class), seen by `_watch_polls`.
        self._webhook_set = False
        self._last_webhook: float | None = None
        self._poll_ok: float | None = None
        self._poll_error: tuple[float, str] | None = None
        self._poll_open: float | None = None  # when the getUpdates in flight was sent
        # Photos are fetched into JARING_MEDIA_DIR when a database is given (bot.py's Runtime).
        self._photos = (
            PhotoFetcher(self._api, db, Path(settings.jaring_media_dir), clock)
            if db is not None
            else None
        )
        # One getUpdates consumer per bot across the fleet: a PostgreSQL advisory lock.
        self._poll_lead = (
            AdvisoryLock(db, TELEGRAM_POLLING, "telegram polling") if db is not None else None
        )
        self._follow: asyncio.Task[None] | None = None

    @property
    def api(self) -> BotApi:
        return self._api

    @property
    def transport(self) -> TelegramTransport:
        return self._transport

    @property
    def webhook_mode(self) -> bool:
        return bool(self._settings.telegram_webhook_url)

    def routes(self) -> list[Route]:
        """POST /tg/webhook in webhook mode (authenticated by the secret token header)."""
        if not self.webhook_mode:
            return []
        self._routes_given = True
        return self._webhook_routes()

    def _webhook_routes(self) -> list[Route]:
        return [Route("POST", WEBHOOK_PATH, self.handle_webhook)]

    def register_routes(self, app: web.Application) -> None:
        """Add POST /tg/webhook to an app. Call before the app starts: aiohttp freezes its router
        then. (bot.py adds `routes()` itself and marks them public.)"""
        add_routes(app, self._webhook_routes())
        self._routes_given = True

    def describe(self, web_url: str) -> str:
        return "webhook" if self.webhook_mode else "polling"

    @property
    def polling_leader(self) -> bool:
        """Whether this worker is the one polling (False in webhook mode)."""
        return self._polling is not None

    async def start(self, app: web.Application | None = None) -> None:
        if not self.webhook_mode and self._poll_lead and not await self._poll_lead.hold():
            log.info("telegram: another worker polls; this one takes over if it stops")
            self._follow = asyncio.create_task(self._follow_lead(app), name="telegram-follow")
            return
        await self._start(app)

    async def _follow_lead(self, app: web.Application | None) -> None:
        assert self._poll_lead is not None
        while not self._stopping:
            await asyncio.sleep(POLLING_LEAD_RETRY)
            if not self._stopping and await self._poll_lead.hold():
                await self._start(app)
                return

    async def _start(self, app: web.Application | None = None) -> None:
        if self.webhook_mode:
            self._check_webhook_config(app)
        await self._set_commands()
        if self.webhook_mode:
            assert self._secret is not None
            await self._api.call(
                "setWebhook",
                {
                    "url": self._settings.telegram_webhook_url,
                    "secret_token": self._secret.decode(),
                    "allowed_updates": ALLOWED_UPDATES,
                    "drop_pending_updates": False,
                },
            )
            self._webhook_set = True
            log.info("telegram: webhook mode")
            return
        await self._api.call("deleteWebhook", {"drop_pending_updates": False})
        # getMe now, so a wrong token or an unreachable server fails the start, not the loop.
        await self._api.call("getMe")
        self._stopping = False
        self._polling = asyncio.create_task(self._poll(), name="telegram-polling")
        self._polling.add_done_callback(_log_polling_end)
        log.info("telegram: polling mode")

    def _check_webhook_config(self, app: web.Application | None) -> None:
        if self._secret is None:
            raise RuntimeError(
                "TELEGRAM_WEBHOOK_URL is set but TELEGRAM_WEBHOOK_SECRET is not: "
                "refusing to accept unauthenticated webhook calls"
            )
        if not _SECRET_OK.match(self._secret.decode("utf-8", "replace")):
            raise RuntimeError(
                "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
            )
        if not self._routes_given:
            if app is None or app.frozen:
                raise RuntimeError(
                    "Telegram webhook mode: call register_routes(app) before the web app starts"
                )
            self.register_routes(app)

    async def _set_commands(self) -> None:
        for language, commands in BOT_COMMANDS.items():
            await self._api.call(
                "setMyCommands",
                {
                    "commands": [{"command": c, "description": d} for c, d in commands],
                    "language_code": language or None,
                },
            )

    def health(self) -> Health:
        """Webhook: registered at start (and when Telegram last called it). Polling: the polling
        task is alive and its last getUpdates answered."""
        now = time.monotonic()
        if self.webhook_mode:
            if not self._webhook_set:
                return Health(False, "webhook not registered")
            last = self._last_webhook
            seen = f"; last update {now - last:.0f} s ago" if last is not None else ""
            return Health(True, "webhook registered" + seen)
        if self._polling is None:
            if self._follow is not None and not self._follow.done():
                # Several workers: one polls, the others wait to take over (docs/scaling.md).
                return Health(True, "another worker polls; this one takes over if it stops")
            return Health(False, "receiving stopped" if self._stopping else "polling not started")
        if self._polling.done():
            exc = None if self._polling.cancelled() else self._polling.exception()
            return Health(False, f"polling ended ({type(exc).__name__ if exc else 'stopped'})")
        err, opened = self._poll_error, self._poll_open
        if err is not None and opened is not None and opened > err[0] and now - opened >= 1.0:
            # A long poll sent after the failure has been open a while: Telegram took it.
            return Health(True, f"polling again, long poll open {now - opened:.0f} s")
        if err is not None and (self._poll_ok is None or err[0] > self._poll_ok):
            since = f", last answer {now - self._poll_ok:.0f} s ago" if self._poll_ok else ""
            return Health(False, f"getUpdates failing ({err[1]}{since})")
        if self._poll_ok is None:
            return Health(True, "polling, waiting for the first answer")
        return Health(True, f"polling, last answer {now - self._poll_ok:.0f} s ago")

    async def stop_receiving(self) -> None:
        """Stop polling, after the updates in hand are stored. Sending still works. Idempotent."""
        self._stopping = True
        if self._follow is not None:
            self._follow.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._follow
            self._follow = None
        if self._polling is not None:
            try:
                await asyncio.wait_for(self._idle.wait(), timeout=10)
            except TimeoutError:
                log.warning("telegram: receive() still busy after 10 s; stopping anyway")
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)
            self._polling = None
            await self._acknowledge_stored()

    async def stop(self) -> None:
        """stop_receiving(), then close the HTTP session. Call it after the outbox has stopped:
        a later send would open a new session, and nothing would close that."""
        await self.stop_receiving()
        if self._answers:
            await asyncio.wait(self._answers, timeout=5)
        if self._photos is not None:
            await self._photos.idle(timeout=10)
        if self._poll_lead is not None:
            await self._poll_lead.release()
        await self._api.close()

    async def _acknowledge_stored(self) -> None:
        """Tell Telegram about the updates already stored, so a restart doesn't fetch them again.
        Best effort: the inbox dedupes what slips through."""
        if self._last_stored is None:
            return
        try:
            await self._api.call(
                "getUpdates", {"offset": self._last_stored + 1, "limit": 1, "timeout": 0}, timeout=5
            )
        except Exception as e:  # noqa: BLE001
            log.info(
                "telegram: final acknowledgement failed (%s); updates may arrive again",
                type(e).__name__,
            )

    # ----------------------------------------------------------------- polling

    async def _poll(self) -> None:
        """The long-polling loop: getUpdates, store every update of the answer in one inbox
        transaction, then the next getUpdates, whose offset acknowledges them. An update is
        never acknowledged before it is committed: a crash in between fetches it again and the
        inbox drops the redelivery."""
        offset: int | None = None
        pause = 1.0
        while not self._stopping:
            self._poll_open = time.monotonic()
            try:
                updates = await self._api.call(
                    "getUpdates",
                    {
                        "offset": offset,
                        "timeout": self.polling_timeout,
                        "allowed_updates": ALLOWED_UPDATES,
                    },
                    timeout=self.polling_timeout + POLL_MARGIN,
                )
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - the network or Telegram: try again
                self._poll_error = (time.monotonic(), _why(e))
                self._poll_open = None
                log.warning("telegram: getUpdates failed (%s); again in %.0f s", _why(e), pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)
                continue
            self._poll_open = None
            self._poll_ok = time.monotonic()
            pause = 1.0
            if not isinstance(updates, list) or not updates:
                continue
            events, callbacks, last = self._read_updates(updates)
            if last is None:
                continue
            if events and not await self._store_all(events, last):
                return  # stopping: these updates are neither stored nor acknowledged
            self._last_stored = last
            offset = last + 1
            for cq_id in callbacks:
                # In the background: waiting for it would hold up the next getUpdates.
                task = asyncio.create_task(self._answer_callback(cq_id))
                self._answers.add(task)
                task.add_done_callback(self._answers.discard)

    def _read_updates(self, updates: list[Any]) -> tuple[list[Event], list[str], int | None]:
        """(events to store, callback query ids to answer, the last update_id) of a getUpdates
        answer. The fast parser reads the common shapes; anything else is validated by aiogram;
        an update that is not one is skipped (and acknowledged: it would come back forever)."""
        events: list[Event] = []
        callbacks: list[str] = []
        last: int | None = None
        for u in updates:
            uid = u.get("update_id") if isinstance(u, dict) else None
            if type(uid) is not int:
                continue
            last = uid if last is None else max(last, uid)
            try:
                event = webhook_event(u)
            except (ValueError, ValidationError):
                log.warning("telegram: update %s is not a Telegram update; skipped", uid)
                continue
            if event is not None:
                events.append(event)
            cq = u.get("callback_query")
            if isinstance(cq, dict) and isinstance(cq.get("id"), str):
                callbacks.append(cq["id"])
        return events, callbacks, last

    async def _store_all(self, events: list[Event], last: int) -> bool:
        """receive() the events, retrying until they are stored; False when stopping first.

        Giving up would lose the updates (the next offset acknowledges them); retrying holds
        polling back instead, and Telegram keeps unacknowledged updates for 24 hours. A retry
        after a partial store is safe: the inbox drops what it already holds."""
        if self._stopping:
            return False
        self._idle.clear()
        try:
            delay = 0.5
            retried = False
            while True:
                try:
                    results: list[bool | None] = list(await self._receive_batch(events))
                    if retried:  # a "duplicate" may be one the failed attempt stored
                        results = [None if r is False else r for r in results]
                    break
                except Exception:
                    log.exception(
                        "telegram: receive() failed for updates up to %s; retrying in %.1f s",
                        last,
                        delay,
                    )
                if self._stopping:
                    return False
                retried = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            for event, new in zip(events, results, strict=True):
                self._after_store(event, new)
            self._last_stored = last
            return True
        finally:
            self._idle.set()

    async def _receive_batch(self, events: list[Event]) -> list[bool]:
        if self._receive_many is not None:
            return await self._receive_many(events)  # one transaction for the whole answer
        return [await self._receive(e) for e in events]

    async def _answer_callback(self, callback_query_id: str) -> None:
        try:
            await self._api.call(
                "answerCallbackQuery", {"callback_query_id": callback_query_id}, timeout=10
            )
        except Exception as e:  # noqa: BLE001 - only the spinner on the button depends on it
            log.info("telegram: answerCallbackQuery failed: %s", type(e).__name__)

    # ----------------------------------------------------------------- webhook

    async def handle_webhook(self, request: web.Request) -> web.StreamResponse:
        """POST /tg/webhook: verify the secret, store the update, then answer 200."""
        given = request.headers.get(SECRET_HEADER)
        if (
            self._secret is None
            or given is None
            or not hmac.compare_digest(given.encode("utf-8", "replace"), self._secret)
        ):
            return web.Response(status=401, text="Unauthorized")
        self._last_webhook = time.monotonic()
        try:
            # Decoded without NUL, control characters or lone surrogates; too deep, NaN or
            # Infinity is refused (domain/cleaning.py, docs/security.md "Bad input").
            data = loads(await request.read())
            event = webhook_event(data)
        except (
            ValueError,
            ValidationError,
        ):  # JSONDecodeError, UnicodeDecodeError, BadJson and ids out of range are ValueErrors
            return web.Response(status=400, text="Bad Request: not a Telegram update")
        if event is not None:
            try:
                self._after_store(event, await self._receive(event))
            except Exception:
                log.exception("telegram: receive() failed for update %s", data.get("update_id"))
                return web.Response(status=500, text="Internal Server Error")  # Telegram retries
        cq = data.get("callback_query")
        if isinstance(cq, dict) and isinstance(cq.get("id"), str):
            # Telegram performs a method given in the webhook answer: saves one API call.
            return web.json_response(
                {"method": "answerCallbackQuery", "callback_query_id": cq["id"]}
            )
        return web.Response(status=200)

    # ----------------------------------------------------------------- photos

    def _after_store(self, event: Event, new: bool | None) -> None:
        if new is not False and event.kind == "photo" and self._photos is not None:
            self._photos.fetch_later(str(event.payload["ref"]), event.user_key)


def _why(e: Exception) -> str:
    """A short reason for a log line (no URL: it holds the bot token)."""
    code = getattr(e, "code", None)
    return f"{type(e).__name__} {code}" if code is not None else type(e).__name__


def _log_polling_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("telegram: polling ended with an error", exc_info=task.exception())
