"""What the outbox calls to deliver one reply to a Telegram chat."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from config import Settings
from core.model import SendFinal, SendRetry, SendStopped
from handlers.telegram.botapi import BotApi, dumps
from handlers.telegram.markup import render_json
from handlers.telegram.parse import CHANNEL


class TelegramTransport:
    """What the outbox calls to deliver one reply to a Telegram chat."""

    channel = CHANNEL

    def __init__(self, api: BotApi, settings: Settings, *, request_timeout: int = 15) -> None:
        self.api = api
        self.rate_global = settings.telegram_rate_global
        self.rate_per_chat = settings.telegram_rate_per_chat
        # Well under the client's 60 s default, so one stuck request can't stall the outbox.
        self.request_timeout = request_timeout

    async def send(self, address: str, payload: dict[str, Any]) -> str | None:
        """sendMessage as a JSON body (handlers/telegram/botapi.py).

        Not aiogram's `Bot.send_message`: for each message it builds pydantic keyboard models,
        encodes a form and validates the whole returned Message, about 0.8 ms of CPU, a quarter
        of the service's cost per update (docs/benchmarks.md). We need only the message id and
        the error code, so the request and the answer are handled as plain JSON here."""
        text, markup = render_json(payload)
        body: dict[str, Any] = {
            "chat_id": int(address) if address.lstrip("-").isdigit() else address,
            "text": text,
            "link_preview_options": {"is_disabled": True},  # plain text, no parse_mode
        }
        if markup is not None:
            body["reply_markup"] = markup
        try:
            status, raw = await self.api.post("sendMessage", dumps(body), self.request_timeout)
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
