"""What the outbox calls to deliver one reply to a Telegram chat."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.methods.base import Response
from aiogram.types import Message

from config import Settings
from core.model import SendFinal, SendRetry, SendStopped
from handlers.telegram.markup import render_json
from handlers.telegram.parse import CHANNEL

# pydantic keeps parametrised generics only in a weak cache, so aiogram's
# `Response[Message]` (built in BaseSession.check_response on every send) was rebuilt after
# each garbage collection, about 5 ms each time (docs/benchmarks.md). Holding a reference
# keeps the class alive.
_KEEP_RESPONSE_MESSAGE = Response[Message]


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
            async with http.post(
                url,
                data=_dumps(body),
                headers=_JSON_HEADERS,
                timeout=aiohttp.ClientTimeout(total=self.request_timeout),
            ) as r:
                status, raw = r.status, await r.read()
        except (TimeoutError, aiohttp.ClientError) as e:
            raise SendRetry(f"{type(e).__name__}: {e}") from e
        try:
            answer = json.loads(raw)
        except ValueError:  # not JSON, e.g. an HTML 502 page from a proxy
            raise SendRetry(f"{status}: undecodable response") from None
        if answer.get("ok"):
            return str(answer["result"]["message_id"])
        raise _api_error(
            answer.get("error_code") or status,
            str(answer.get("description", "")),
            answer.get("parameters") or {},
        )


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
