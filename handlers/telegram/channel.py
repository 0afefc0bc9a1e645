"""Telegram in and out: webhook or long polling in, `transport` out.

aiogram is used thinly: its types, its `Bot` methods and its polling loop. Conversation state,
i18n and rate limiting live in the core. Inbound, every update is handed to `receive` (which
commits it to the inbox) before Telegram is told it arrived: in polling mode the next getUpdates
acknowledges it, in webhook mode the 200 answers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import BotCommand, CallbackQuery, Message, Update
from aiohttp import web
from pydantic import ValidationError

from config import Settings
from core.model import Event
from db.leader import TELEGRAM_POLLING, AdvisoryLock
from domain.cleaning import loads
from domain.clock import utcnow
from handlers.plugin import Route, add_routes
from handlers.telegram.media import PhotoFetcher
from handlers.telegram.parse import update_to_event, webhook_event
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
        polling_timeout: int = 20,
        db=None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if not settings.telegram_enabled:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        assert settings.telegram_bot_token is not None
        self._settings = settings
        self._receive = receive
        self.polling_timeout = polling_timeout
        session = (
            AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
            if settings.telegram_api_url
            else AiohttpSession()
        )
        self._bot = Bot(settings.telegram_bot_token.get_secret_value(), session=session)
        self._transport = TelegramTransport(self._bot, settings)
        secret = settings.telegram_webhook_secret
        # Bytes for hmac.compare_digest; an empty secret counts as none.
        self._secret = (secret.get_secret_value().encode() or None) if secret else None
        self._routes_given = False
        self._dispatcher: Dispatcher | None = None
        self._polling: asyncio.Task[None] | None = None
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_stored: int | None = None  # the newest update_id receive() accepted (polling)
        self._answers: set[asyncio.Task[None]] = set()
        # Photos are fetched into JARING_MEDIA_DIR when a database is given (bot.py's Runtime).
        self._photos = (
            PhotoFetcher(self._bot, db, Path(settings.jaring_media_dir), clock)
            if db is not None
            else None
        )
        # One getUpdates consumer per bot across the fleet: a PostgreSQL advisory lock.
        self._poll_lead = (
            AdvisoryLock(db, TELEGRAM_POLLING, "telegram polling") if db is not None else None
        )
        self._follow: asyncio.Task[None] | None = None

    @property
    def bot(self) -> Bot:
        return self._bot

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
            await self._bot.set_webhook(
                self._settings.telegram_webhook_url,  # type: ignore[arg-type]
                secret_token=self._secret.decode(),  # type: ignore[union-attr]
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            )
            log.info("telegram: webhook mode")
            return
        await self._bot.delete_webhook(drop_pending_updates=False)
        # getMe now, so a failure surfaces here: inside start_polling it would end polling for good.
        await self._bot.me()
        dp = Dispatcher(disable_fsm=True)
        # One catch-all handler per update type: aiogram's magic filters cost throughput.
        dp.message.register(self._on_message)
        dp.callback_query.register(self._on_callback)
        self._dispatcher = dp
        self._stopping = False
        self._polling = asyncio.create_task(
            dp.start_polling(
                self._bot,
                polling_timeout=self.polling_timeout,
                # One update at a time: each is in the inbox before the next getUpdates
                # acknowledges it (aiogram sends offset = last update_id + 1 only then).
                handle_as_tasks=False,
                allowed_updates=ALLOWED_UPDATES,
                handle_signals=False,  # the composition root owns signals
                close_bot_session=False,  # stop() closes it, after the last sends
            ),
            name="telegram-polling",
        )
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
            await self._bot.set_my_commands(
                [BotCommand(command=c, description=d) for c, d in commands],
                language_code=language or None,
            )

    async def stop_receiving(self) -> None:
        """Stop polling, after the update in hand is stored. Sending still works. Idempotent."""
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
            assert self._dispatcher is not None
            try:
                await self._dispatcher.stop_polling()
            except RuntimeError:  # start_polling has not begun yet
                self._polling.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # _log_polling_end logs
                await self._polling
            self._polling = None
            await self._acknowledge_stored()

    async def stop(self) -> None:
        """stop_receiving(), then close the HTTP session. Call it after the outbox has stopped:
        aiogram quietly opens a new session for any later send, and nothing would close that."""
        await self.stop_receiving()
        if self._answers:
            await asyncio.wait(self._answers, timeout=5)
        if self._photos is not None:
            await self._photos.idle(timeout=10)
        if self._poll_lead is not None:
            await self._poll_lead.release()
        await self._bot.session.close()

    async def _acknowledge_stored(self) -> None:
        """Tell Telegram about the updates already stored, so a restart doesn't fetch them again.
        Best effort: the inbox dedupes what slips through."""
        if self._last_stored is None:
            return
        try:
            await self._bot.get_updates(
                offset=self._last_stored + 1, limit=1, timeout=0, request_timeout=5
            )
        except Exception as e:  # noqa: BLE001
            log.info(
                "telegram: final acknowledgement failed (%s); updates may arrive again",
                type(e).__name__,
            )

    # ----------------------------------------------------------------- polling handlers

    async def _on_message(self, message: Message, event_update: Update) -> None:
        await self._store(event_update)

    async def _on_callback(self, callback_query: CallbackQuery, event_update: Update) -> None:
        await self._store(event_update)
        # Answer in the background: waiting for it would hold up the next update.
        task = asyncio.create_task(self._answer_callback(callback_query.id))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _answer_callback(self, callback_query_id: str) -> None:
        try:
            await self._bot.answer_callback_query(callback_query_id)
        except Exception as e:  # noqa: BLE001 - only the spinner on the button depends on it
            log.info("telegram: answerCallbackQuery failed: %s", type(e).__name__)

    async def _store(self, update: Update) -> None:
        """receive() the update, retrying until it is stored.

        aiogram swallows a handler's exception and still advances the offset, so giving up here
        would lose the update. Retrying holds polling back instead; Telegram keeps unacknowledged
        updates for 24 hours.
        """
        if self._stopping:
            # Park until stop() cancels polling: this update is neither stored nor acknowledged.
            await asyncio.get_running_loop().create_future()
        event = update_to_event(update)
        if event is None:
            self._last_stored = update.update_id  # nothing to store: fine to acknowledge
            return
        self._idle.clear()
        try:
            delay = 0.5
            while True:
                try:
                    self._after_store(event, await self._receive(event))
                    break
                except Exception:
                    log.exception(
                        "telegram: receive() failed for update %s; retrying in %.1f s",
                        update.update_id,
                        delay,
                    )
                if self._stopping:
                    self._idle.set()
                    await asyncio.get_running_loop().create_future()  # as above
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            self._last_stored = update.update_id
        finally:
            self._idle.set()

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
        try:
            # Decoded without NUL, control characters or lone surrogates; too deep, NaN or
            # Infinity is refused (domain/cleaning.py, docs/security.md "Bad input").
            data = loads(await request.read())
            event = webhook_event(data, self._bot)
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


def _log_polling_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("telegram: polling ended with an error", exc_info=task.exception())
