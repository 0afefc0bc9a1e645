"""The Graph API client (message send, media look-up and stream) and the mapping of its errors
to the outbox's typed errors (SendRetry / SendFinal; the window's SendHeld is decided in
window.py).

pywa (`pywa_async`) is used for the Graph API's error model (`WhatsAppError` with Meta's codes),
media URL look-up and the authenticated media stream. The message send, made for every reply,
is a direct aiohttp JSON POST: through pywa → httpx it cost 4× Telegram's send in CPU.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import httpx
from pywa_async import WhatsApp
from pywa_async.errors import WhatsAppError

from config import Settings
from core.model import SendFinal, SendRetry
from handlers.whatsapp.parse import BSUID

# Graph API error codes
# (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
RATE_LIMIT = 130429  # throughput of the business number: slow the whole channel
PAIR_RATE_LIMIT = 131056  # too many messages to this user: back off for this chat
REENGAGEMENT = 131047  # more than 24 hours since the user's last message
RETRY_CODES = {1, 2, 4, 80007, RATE_LIMIT, PAIR_RATE_LIMIT, 131000, 131016, 133004}


class GraphClient:
    """pywa's async Graph API client, pointed at WHATSAPP_API_URL when set (a proxy or a fake)."""

    def __init__(self, settings: Settings, *, timeout: float = 15.0) -> None:
        assert settings.whatsapp_token and settings.whatsapp_phone_number_id
        self.phone_id = settings.whatsapp_phone_number_id
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        self.wa = WhatsApp(
            phone_id=self.phone_id,
            token=settings.whatsapp_token.get_secret_value(),
            session=self._http,  # type: ignore[arg-type]
            verify_token=settings.whatsapp_verify_token.get_secret_value()
            if settings.whatsapp_verify_token
            else None,
            app_secret=settings.whatsapp_app_secret.get_secret_value()
            if settings.whatsapp_app_secret
            else None,
            filter_updates=False,
            skip_duplicate_updates=False,  # the inbox dedupes, durably
        )
        # pywa fixes Meta's URL in its constructor; the session is ours
        if settings.whatsapp_api_url:
            self._http.base_url = settings.whatsapp_api_url.rstrip("/") + "/"
        self.base_url = str(self._http.base_url)
        self._messages_url = f"{self.base_url}{self.phone_id}/messages"
        self._headers = {
            "Authorization": f"Bearer {settings.whatsapp_token.get_secret_value()}",
            "Content-Type": "application/json",
        }
        self._timeout = timeout
        self._aio: aiohttp.ClientSession | None = None

    async def send(self, to: dict[str, str | None], typ: str, obj: dict[str, Any]) -> str | None:
        """POST one message to /{phone_id}/messages; the wamid Meta assigned (None if absent).

        This one call is made for every reply, so it goes through a plain aiohttp session with a
        JSON body (as Telegram's sends do) instead of pywa → httpx: that path cost about 4 ms of
        CPU per message here, mostly httpx's connection-pool bookkeeping (docs/benchmarks.md).
        Errors stay pywa's `WhatsAppError` (built from Meta's error JSON, with the HTTP status),
        so `send_error` maps them exactly as before; a body that is not a Graph API error
        becomes `GraphHTTPError`."""
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "type": typ,
            typ: obj,
        }
        if to.get("to"):
            body["to"] = to["to"]
        if to.get("recipient"):
            body["recipient"] = to["recipient"]
        if not ("to" in body or "recipient" in body):
            raise ValueError("no recipient")
        session = self._session()
        async with session.post(
            self._messages_url, data=json.dumps(body, ensure_ascii=False), headers=self._headers
        ) as resp:
            status, raw = resp.status, await resp.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        if status >= 400 or (isinstance(data, dict) and "error" in data):
            err = data.get("error") if isinstance(data, dict) else None
            if (
                isinstance(err, dict)
                and isinstance(err.get("code"), (int, str))
                and str(err["code"]).lstrip("-").isdigit()
            ):
                raise WhatsAppError.from_dict(err, response=_HTTPStatus(status))
            raise GraphHTTPError(status)
        if not isinstance(data, dict):
            raise ValueError("a 2xx answer that is not a JSON object")
        try:
            return str(data["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            return None

    def _session(self) -> aiohttp.ClientSession:
        if self._aio is None or self._aio.closed:
            self._aio = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout, connect=5.0),
                connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=30),
                json_serialize=json.dumps,
                raise_for_status=False,
            )
        return self._aio

    async def media_info(self, media_id: str) -> dict[str, Any]:
        return await self.wa.api.get_media_url(media_id)

    def media_stream(self, url: str):
        return self.wa.api.stream_media_bytes(url)

    async def close(self) -> None:
        if self._aio is not None:
            await self._aio.close()
        await self._http.aclose()


class _HTTPStatus:
    """What `WhatsAppError.status_code` reads from its `raw_response`: just the status."""

    __slots__ = ("status_code",)

    def __init__(self, status_code: int):
        self.status_code = status_code


class GraphHTTPError(Exception):
    """An HTTP error from the Graph API (or a proxy before it) without Meta's error JSON."""

    def __init__(self, status: int):
        super().__init__(f"HTTP {status} without a Graph API error body")
        self.status = status


def send_error(e: Exception) -> Exception:
    """The outbox's typed error for a failed Graph API call (the exception itself if unknown)."""
    if isinstance(e, WhatsAppError):
        status = e.status_code or 0
        reason = f"{status or '-'} {e.code}: {e.message}"
        if e.code == RATE_LIMIT:
            return SendRetry(reason, retry_after=1.0)  # the number's throughput: pause the channel
        if e.code in RETRY_CODES or status >= 500 or status == 429 or e.is_transient:
            return SendRetry(reason)
        return SendFinal(reason)
    if isinstance(e, GraphHTTPError):
        if e.status >= 500 or e.status == 429:
            return SendRetry(str(e))
        return SendFinal(str(e))
    if isinstance(
        e, (httpx.TimeoutException, httpx.TransportError, aiohttp.ClientError, asyncio.TimeoutError)
    ):
        return SendRetry(f"{type(e).__name__}")
    if isinstance(e, (ValueError, json.JSONDecodeError)):  # a 2xx that is not JSON
        return SendRetry(f"undecodable response: {type(e).__name__}")
    return e


def recipient(address: str, contact) -> dict[str, str | None]:
    """pywa's convention: a BSUID goes in `recipient`, a phone number in `to`. With both known,
    both are sent (the phone number takes precedence at Meta)."""
    if BSUID.match(address):
        return {"to": contact.wa_id if contact is not None else None, "recipient": address}
    return {"to": address, "recipient": None}
