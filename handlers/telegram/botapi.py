"""A thin Bot API client over aiohttp: the service's one way of talking to Telegram.

The channel needs a dozen Bot API calls (sendMessage, getUpdates, answerCallbackQuery,
setWebhook, setMyCommands, getFile, ...) and reads a few fields of their answers. aiogram's
`Bot` builds a pydantic model for every request and answer, and importing it costs about 80 MiB
of resident memory (docs/benchmarks.md, issue #14), so the service posts plain JSON and reads
plain JSON here. aiogram is still used to validate the rare update shapes the fast parser does
not read (handlers/telegram/parse.py), and only then imported.

URLs are Telegram's (or a local Bot API server's, TELEGRAM_API_URL): `{base}/bot{token}/{method}`
and `{base}/file/bot{token}/{file_path}`, as aiogram's `TelegramAPIServer.from_base` builds them.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

DEFAULT_BASE = "https://api.telegram.org"
_JSON_HEADERS = {"Content-Type": "application/json"}


class BotApiError(Exception):
    """A Bot API answer with ok=false (or not JSON): the code, Telegram's description and its
    `parameters` (retry_after, migrate_to_chat_id)."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.parameters = parameters or {}


def dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class BotApi:
    """One bot's HTTP client: a lazily opened aiohttp session, JSON bodies, JSON answers."""

    def __init__(self, token: str, base_url: str | None = None, *, timeout: float = 60.0) -> None:
        base = (base_url or DEFAULT_BASE).rstrip("/")
        self._method_base = f"{base}/bot{token}/"
        self._file_base = f"{base}/file/bot{token}/"
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def url(self, method: str) -> str:
        return self._method_base + method

    def session(self) -> aiohttp.ClientSession:
        """The open session (a new one after close(): a send after stop still works, as with
        aiogram, but nothing would close it, so stop the senders first)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=3600),
                json_serialize=json.dumps,
            )
        return self._session

    @property
    def closed(self) -> bool:
        return self._session is None or self._session.closed

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def post(
        self, method: str, body: bytes, timeout: float | None = None
    ) -> tuple[int, bytes]:
        """POST a JSON body; (HTTP status, raw answer). Network errors propagate as aiohttp's
        ClientError or TimeoutError."""
        async with self.session().post(
            self._method_base + method,
            data=body,
            headers=_JSON_HEADERS,
            timeout=aiohttp.ClientTimeout(total=timeout or self.timeout),
        ) as r:
            return r.status, await r.read()

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """A Bot API method; its `result`. BotApiError for an ok=false (or undecodable) answer.
        None values are left out of the request, as Telegram reads a missing field as unset."""
        body = {k: v for k, v in (params or {}).items() if v is not None}
        status, raw = await self.post(method, dumps(body), timeout)
        try:
            answer = json.loads(raw)
        except ValueError:
            raise BotApiError(status, "undecodable response") from None
        if not isinstance(answer, dict):
            raise BotApiError(status, "undecodable response")
        if answer.get("ok"):
            return answer.get("result")
        raise BotApiError(
            int(answer.get("error_code") or status),
            str(answer.get("description", "")),
            answer.get("parameters") or {},
        )

    async def download(self, file_path: str, *, limit: int, timeout: float = 30.0) -> bytes:
        """A file's bytes (after getFile); at most `limit` bytes are read: ValueError beyond."""
        async with self.session().get(
            self._file_base + file_path, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as r:
            if r.status != 200:
                raise BotApiError(r.status, "file download failed")
            data = await r.content.read(limit + 1)
        if len(data) > limit:
            raise ValueError(f"over {limit} bytes")
        return data
