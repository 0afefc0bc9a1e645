"""Telegram adapter: aiogram updates become `Event`s, reply payloads become Bot API messages.

aiogram is used thinly: its types, its `Bot` methods and its polling loop. Conversation state,
i18n and rate limiting live in the core. Inbound, every update is handed to `receive` (which
commits it to the inbox) before Telegram is told it arrived: in polling mode the next getUpdates
acknowledges it, in webhook mode the 200 answers it.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import io
import json
import logging
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from pydantic import ValidationError

from aiogram.methods.base import Response
from aiogram.types import Message as _Message

# pydantic keeps parametrised generics only in a weak cache, so aiogram's
# `Response[Message]` (built in BaseSession.check_response on every send) was rebuilt after
# each garbage collection, about 5 ms each time (docs/benchmarks.md). Holding a reference
# keeps the class alive.
_KEEP_RESPONSE_MESSAGE = Response[_Message]
from config import Settings
from core.model import Event, SendFinal, SendRetry, SendStopped
from domain.photos import PhotoProblem, clean_image

log = logging.getLogger(__name__)

CHANNEL = "tg"
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

# Fallback label of the "send my location" button; the core normally passes request_label.
DEFAULT_LOCATION_LABEL = "Kirim lokasi"
# Up to this many choices with labels up to this long share one row of buttons.
ONE_ROW_MAX_CHOICES = 3
ONE_ROW_MAX_LABEL = 12

# "/start", "/start@jaring_bot payload", "/Cek 3201..." (Telegram commands are [A-Za-z0-9_]).
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,64})(?:@\w+)?(?:\s+(.*))?\Z", re.DOTALL)
# Telegram's rule for webhook secret tokens.
_SECRET_OK = re.compile(r"[A-Za-z0-9_-]{1,256}\Z")



# --------------------------------------------------------------------- inbound


def update_to_event(update: Update) -> Event | None:
    """The core event for an update, or None for updates Jaring does not handle (edits, channel
    posts, group chats, service messages without a sender, ...)."""
    if update.message is not None:
        return _message_event(update.update_id, update.message)
    if update.callback_query is not None:
        return _callback_event(update.update_id, update.callback_query)
    return None


def _message_event(update_id: int, msg: Message) -> Event | None:
    user = msg.from_user
    # Private chats only: in a group, replies about a resident's household would be read by
    # everyone in it.
    if user is None or msg.chat.type != "private":
        return None
    if msg.text is not None:
        m = _COMMAND.match(msg.text)
        if m:
            kind = "command"
            payload = {"command": m.group(1).lower(), "args": (m.group(2) or "").strip()}
        else:
            kind, payload = "text", {"text": msg.text}
    elif msg.location is not None:  # also venues and live locations
        kind, payload = "location", {"lat": msg.location.latitude, "lon": msg.location.longitude}
    elif msg.photo:
        largest = max(msg.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        kind, payload = "photo", {"ref": largest.file_id}
    else:
        content_type = msg.content_type
        kind, payload = "other", {"type": getattr(content_type, "value", str(content_type))}
    return Event(
        channel=CHANNEL,
        user_key=f"tg:{user.id}",
        external_id=str(update_id),
        kind=kind,
        payload=payload,
        address=str(msg.chat.id),
        locale_hint=_locale(user.language_code),
    )


def _callback_event(update_id: int, cq: CallbackQuery) -> Event | None:
    if cq.data is None:  # game buttons; we never send them
        return None
    if cq.message is not None:
        if cq.message.chat.type != "private":
            return None
        address = cq.message.chat.id
    else:  # the message is gone from Telegram's side; the private chat id is the user id
        address = cq.from_user.id
    return Event(
        channel=CHANNEL,
        user_key=f"tg:{cq.from_user.id}",
        external_id=str(update_id),
        kind="choice",
        payload={"id": cq.data},
        address=str(address),
        locale_hint=_locale(cq.from_user.language_code),
    )


def fast_event(data: Any) -> Event | None:
    """`update_to_event` for the two shapes that make up nearly all traffic (a private text
    message, a button tap), read straight from the JSON: validating the whole Update with
    pydantic cost a tenth of the CPU per update (docs/benchmarks.md). Anything else, or anything
    not exactly of the expected types, returns None and goes through `Update.model_validate`."""
    if not isinstance(data, dict) or type(data.get("update_id")) is not int:
        return None
    msg = data.get("message")
    if isinstance(msg, dict) and len(data) == 2:
        chat, user, text = msg.get("chat"), msg.get("from"), msg.get("text")
        if not (isinstance(chat, dict) and chat.get("type") == "private"
                and type(chat.get("id")) is int and isinstance(user, dict)
                and type(user.get("id")) is int and isinstance(text, str)
                and type(msg.get("message_id")) is int and type(msg.get("date")) is int):
            return None
        m = _COMMAND.match(text)
        if m:
            kind = "command"
            payload = {"command": m.group(1).lower(), "args": (m.group(2) or "").strip()}
        else:
            kind, payload = "text", {"text": text}
        return Event(CHANNEL, f"tg:{user['id']}", str(data["update_id"]), kind, payload,
                     str(chat["id"]), _locale(_str_or_none(user.get("language_code"))))
    cq = data.get("callback_query")
    if isinstance(cq, dict) and len(data) == 2:
        user, cdata, cmsg = cq.get("from"), cq.get("data"), cq.get("message")
        chat = cmsg.get("chat") if isinstance(cmsg, dict) else None
        if not (isinstance(user, dict) and type(user.get("id")) is int and isinstance(cdata, str)
                and isinstance(cq.get("id"), str) and isinstance(chat, dict)
                and chat.get("type") == "private" and type(chat.get("id")) is int):
            return None
        return Event(CHANNEL, f"tg:{user['id']}", str(data["update_id"]), "choice",
                     {"id": cdata}, str(chat["id"]),
                     _locale(_str_or_none(user.get("language_code"))))
    return None


def _str_or_none(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _locale(language_code: str | None) -> str | None:
    return language_code[:2].lower() if language_code else None


# --------------------------------------------------------------------- outbound


Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup


def render(payload: dict[str, Any]) -> tuple[str, Markup | None]:
    """Text and keyboard for a reply payload {"text", "choices": [[id, label], ...], "request"}."""
    text: str = payload["text"]
    choices: list[list[str]] = payload.get("choices") or []
    if payload.get("request") == "location":
        # A message carries one keyboard: the location button wins, and the choices are listed
        # as numbers the resident can type (the engine resolves typed numbers).
        if choices:
            text += "\n\n" + "\n".join(f"{n}. {label}" for n, (_, label) in enumerate(choices, 1))
        label = payload.get("request_label") or DEFAULT_LOCATION_LABEL
        keyboard = [[KeyboardButton(text=label, request_location=True)]]
        return text, ReplyKeyboardMarkup(keyboard=keyboard, one_time_keyboard=True, resize_keyboard=True)
    if not choices:
        return text, None  # request "photo" needs no keyboard: the resident attaches one
    buttons = [InlineKeyboardButton(text=label, callback_data=cid) for cid, label in choices]
    short = all(len(label) <= ONE_ROW_MAX_LABEL for _, label in choices)
    if short and 2 <= len(buttons) <= ONE_ROW_MAX_CHOICES:
        rows = [buttons]
    else:
        rows = [[b] for b in buttons]
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


class TelegramTransport:
    """What the outbox calls to deliver one reply to a Telegram chat."""

    channel = CHANNEL

    def __init__(self, bot: Bot, settings: Settings, *, request_timeout: int = 15) -> None:
        self.bot = bot
        self.rate_global = settings.telegram_rate_global
        self.rate_per_chat = settings.telegram_rate_per_chat
        # Well under aiogram's 60 s session default, so one stuck request can't stall the outbox.
        self.request_timeout = request_timeout

    async def send(self, address: str, payload: dict[str, Any]) -> str | None:
        """sendMessage as a JSON body through aiogram's own HTTP session and API server.

        Not `Bot.send_message`: for each message it builds pydantic keyboard models, encodes a
        form and validates the whole returned Message, about 0.8 ms of CPU, a quarter of the
        service's cost per update (docs/benchmarks.md). We need only the message id and the
        error code, so the request and the answer are handled as plain JSON here."""
        text, markup = render_json(payload)
        body: dict[str, Any] = {
            "chat_id": int(address) if address.lstrip("-").isdigit() else address,
            "text": text,
            "link_preview_options": {"is_disabled": True},  # plain text, no parse_mode
        }
        if markup is not None:
            body["reply_markup"] = markup
        session = self.bot.session
        url = session.api.api_url(token=self.bot.token, method="sendMessage")
        try:
            http = await session.create_session()
            async with http.post(url, data=_dumps(body), headers=_JSON_HEADERS,
                                 timeout=aiohttp.ClientTimeout(total=self.request_timeout)) as r:
                status, raw = r.status, await r.read()
        except (asyncio.TimeoutError, aiohttp.ClientError) as e:
            raise SendRetry(f"{type(e).__name__}: {e}") from e
        try:
            answer = json.loads(raw)
        except ValueError:  # not JSON, e.g. an HTML 502 page from a proxy
            raise SendRetry(f"{status}: undecodable response") from None
        if answer.get("ok"):
            return str(answer["result"]["message_id"])
        raise _api_error(answer.get("error_code") or status, str(answer.get("description", "")),
                         answer.get("parameters") or {})


_JSON_HEADERS = {"Content-Type": "application/json"}


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _api_error(code: int, description: str, parameters: dict[str, Any]) -> Exception:
    """The typed send error for a Bot API error answer."""
    if code == 429 or "retry_after" in parameters:
        return SendRetry(f"429: {description}", retry_after=parameters.get("retry_after", 1))
    if code == 403:
        return SendStopped(f"403: {description}")
    if code == 400:
        if "chat not found" in description.lower():
            return SendStopped(f"400: {description}")
        return SendFinal(f"400: {description}")
    if code >= 500:
        return SendRetry(f"{code}: {description}")
    return SendFinal(f"{code}: {description}")  # 401, 404, 409, 413, migrated chat, ...


def render_json(payload: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """`render` as plain Bot API JSON (what the transport sends)."""
    text, markup = render(payload) if payload.get("request") == "location" else (None, None)
    if markup is not None:
        return text, markup.model_dump(exclude_none=True)
    text = payload["text"]
    choices: list[list[str]] = payload.get("choices") or []
    if not choices:
        return text, None
    buttons = [{"text": label, "callback_data": cid} for cid, label in choices]
    short = all(len(label) <= ONE_ROW_MAX_LABEL for _, label in choices)
    rows = [buttons] if short and 2 <= len(buttons) <= ONE_ROW_MAX_CHOICES else [[b] for b in buttons]
    return text, {"inline_keyboard": rows}


# --------------------------------------------------------------------- the channel


Receive = Callable[[Event], Awaitable[bool]]


class TelegramChannel:
    """Telegram in and out: webhook or long polling in, `transport` out.

    Lifecycle: construct; `register_routes(app)` before the web app starts (webhook mode);
    `await start(app)`; ... `await stop_receiving()`; stop the outbox; `await stop()`.
    """

    def __init__(self, settings: Settings, receive: Receive, *, polling_timeout: int = 20,
                 db=None) -> None:
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
        self._routes_registered = False
        self._dispatcher: Dispatcher | None = None
        self._polling: asyncio.Task[None] | None = None
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_stored: int | None = None  # the newest update_id receive() accepted (polling)
        self._answers: set[asyncio.Task[None]] = set()
        # Photos are fetched into JARING_MEDIA_DIR when a database is given (bot.py Runtime).
        self._db = db
        self._media_dir = Path(settings.jaring_media_dir)
        self._downloads: set[asyncio.Task[None]] = set()

    @property
    def bot(self) -> Bot:
        return self._bot

    @property
    def transport(self) -> TelegramTransport:
        return self._transport

    @property
    def webhook_mode(self) -> bool:
        return bool(self._settings.telegram_webhook_url)

    def register_routes(self, app: web.Application) -> None:
        """Add POST /tg/webhook. Call before the app starts: aiohttp freezes its router then."""
        from web.auth import mark_public

        app.router.add_post(WEBHOOK_PATH, self.handle_webhook)
        mark_public(app, WEBHOOK_PATH)  # authenticated by the secret token header instead
        self._routes_registered = True

    async def start(self, app: web.Application | None = None) -> None:
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
        if not self._routes_registered:
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
        if self._polling is not None:
            try:
                await asyncio.wait_for(self._idle.wait(), timeout=10)
            except asyncio.TimeoutError:
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
        if self._downloads:
            await asyncio.wait(self._downloads, timeout=10)
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
                except Exception:  # noqa: BLE001
                    log.exception("telegram: receive() failed for update %s; retrying in %.1f s",
                                  update.update_id, delay)
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
            data = json.loads(await request.read())
            event = fast_event(data)
            if event is None:
                update = Update.model_validate(data, context={"bot": self._bot})
                event = update_to_event(update)
        except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            return web.Response(status=400, text="Bad Request: not a Telegram update")
        if event is not None:
            try:
                self._after_store(event, await self._receive(event))
            except Exception:  # noqa: BLE001
                log.exception("telegram: receive() failed for update %s", data.get("update_id"))
                return web.Response(status=500, text="Internal Server Error")  # Telegram retries
        cq = data.get("callback_query")
        if isinstance(cq, dict) and isinstance(cq.get("id"), str):
            # Telegram performs a method given in the webhook answer: saves one API call.
            return web.json_response({"method": "answerCallbackQuery", "callback_query_id": cq["id"]})
        return web.Response(status=200)


    # ----------------------------------------------------------------- photos

    def _after_store(self, event: Event, new: bool | None) -> None:
        if new is not False and event.kind == "photo" and self._db is not None:
            task = asyncio.create_task(self._fetch_photo(str(event.payload["ref"]), event.user_key))
            self._downloads.add(task)
            task.add_done_callback(self._downloads.discard)

    async def _fetch_photo(self, file_id: str, user_key: str) -> None:
        """getFile, download, check (JPEG/PNG, <= 5 MB, decodable), strip metadata, store as
        <sha256>.<ext>, record in tg_media. One attempt; a failure is recorded, not retried."""
        from db.dialect import insert_ignore
        from db.schema import tg_media

        now = datetime.now(timezone.utc)
        async with self._db.tx() as c:
            res = await c.execute(insert_ignore(c, tg_media).values(
                file_id=file_id[:255], user_key=user_key, status="pending", created_at=now)
                .returning(tg_media.c.file_id))
            if res.first() is None:
                return  # already fetched (the same photo sent again)
        values: dict[str, Any]
        try:
            f = await self._bot.get_file(file_id)
            if (f.file_size or 0) > PHOTO_MAX_BYTES:
                raise PhotoProblem(f"{f.file_size} bytes is over 5 MB")
            buf = io.BytesIO()
            await self._bot.download_file(f.file_path, destination=buf, timeout=30)
            data = buf.getvalue()
            if len(data) > PHOTO_MAX_BYTES:
                raise PhotoProblem("over 5 MB")
            mime = ("image/jpeg" if data.startswith(b"\xff\xd8") else
                    "image/png" if data.startswith(b"\x89PNG\r\n\x1a\n") else None)
            if mime is None:
                raise PhotoProblem("not a JPEG or PNG")
            data = await asyncio.to_thread(clean_image, data, mime)
            sha = hashlib.sha256(data).hexdigest()
            path = self._media_dir / f"{sha}.{'jpg' if mime == 'image/jpeg' else 'png'}"
            await asyncio.to_thread(_write_atomic, path, data)
            values = dict(status="stored", size=len(data), sha256=sha, path=str(path))
        except PhotoProblem as e:
            values = dict(status="rejected", error=str(e)[:250])
            log.info("telegram: photo rejected (%s)", e)
        except Exception as e:  # noqa: BLE001 - the report keeps the file_id either way
            values = dict(status="failed", error=type(e).__name__)
            log.warning("telegram: photo not fetched (%s)", type(e).__name__)
        async with self._db.tx() as c:
            await c.execute(tg_media.update().where(tg_media.c.file_id == file_id[:255])
                            .values(done_at=datetime.now(timezone.utc), **values))


PHOTO_MAX_BYTES = 5 * 1024 * 1024


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return  # same content (same hash)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _log_polling_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("telegram: polling ended with an error", exc_info=task.exception())
