"""A fake Telegram Bot API server on loopback, for tests and benchmarks.

It speaks the Bot API's HTTP shape (`/bot{token}/{method}`, JSON or form bodies, the
`{"ok": ..., "result"|"error_code", ...}` envelope) for the handful of methods Jaring uses, and
records every call. getUpdates long-polls and acknowledges by `offset` exactly like Telegram:
updates with an id below the offset are forgotten, the rest are returned again.

In a test::

    async with FakeTelegramAPI() as fake:
        bot = Bot("42:TEST", session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url)))
        fake.push_update(text_update(1, 1001, "halo"))
        sent = await fake.wait_for_messages(1001, 1, timeout=5)

Standalone (for a benchmark in another process)::

    python -m tests.fakes.telegram_api --port 8081 [--latency 0.05]

and drive it through the control routes under `/_fake/` (see `_control_routes`).

No pytest and no aiogram imports here: this is the server side of the wire.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import itertools
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from aiohttp import web

BOT_ID = 42
BOT_TOKEN = f"{BOT_ID}:TEST"
TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64

# Telegram's own wording, so code that matches on descriptions is tested against the real thing.
_DESCRIPTIONS = {
    400: "Bad Request: message text is empty",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
}

# Parameters that arrive JSON-encoded in form bodies (aiogram) and as objects in JSON bodies.
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "entities",
        "reply_parameters",
    }
)
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "offset",
        "limit",
        "timeout",
        "message_id",
        "user_id",
        "max_connections",
        "cache_time",
    }
)


class FakeTelegramAPI:
    """The server. Use as `async with FakeTelegramAPI() as fake:` or `start()` / `close()`."""

    def __init__(
        self,
        token: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        bot_username: str = "jaring_test_bot",
        record_calls: bool = True,
    ) -> None:
        """token: accept only this token (None: any); latency: seconds added to every answer
        (the real API is ~50 ms away); record_calls=False keeps `calls` empty for long benchmarks
        (`sent` is always recorded)."""
        self.token = token
        self.host = host
        self.port = port
        self.latency = latency
        self.record_calls = record_calls
        bot_id = int(token.split(":", 1)[0]) if token else BOT_ID
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Jaring",
            "username": bot_username,
        }
        # Called with each recorded sendMessage (a dict like the items of `sent`), before the
        # answer goes out. May return an awaitable; it is then run as a task.
        self.on_send: Callable[[dict[str, Any]], Any] | None = None

        self.calls: list[
            dict[str, Any]
        ] = []  # {"method", "params", "time", "content_type", "status"}
        self.sent: list[
            dict[str, Any]
        ] = []  # {"chat_id", "text", "reply_markup", "message_id", ...}
        self.call_counts: dict[str, int] = defaultdict(int)
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (scope type, lang)
        self.webhook: dict[str, Any] = {"url": ""}
        self.callback_answers: list[dict[str, Any]] = []
        # All updates with update_id below this were acknowledged by a getUpdates offset.
        self.confirmed_offset = 0

        self._updates: deque[dict[str, Any]] = deque()
        self._last_update_id = 0
        self._allowed_updates: list[str] | None = None
        self._poll_waiter: asyncio.Future[str] | None = None
        self._failures: dict[str, deque[tuple[int, str, dict[str, Any] | None]]] = defaultdict(
            deque
        )
        self._blocked: set[Any] = set()
        # An outage window: (status, until (monotonic), retry_after, methods), see outage_for().
        self._outage: tuple[int, float, int | None, frozenset[str]] | None = None
        self.outage_answers = 0  # calls answered with the outage's error
        self._by_chat: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._message_ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, bytes)
        self.file_downloads: list[str] = []
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            name.lower(): fn
            for name, fn in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "sendMessage": self._send_message,
                "answerCallbackQuery": self._answer_callback_query,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "sendChatAction": self._send_chat_action,
                "getFile": self._get_file,
            }.items()
        }
        self._canonical = {
            name.lower(): name
            for name in (
                "getMe getUpdates sendMessage answerCallbackQuery setMyCommands getMyCommands "
                "deleteMyCommands setWebhook deleteWebhook getWebhookInfo "
                "editMessageReplyMarkup sendChatAction getFile"
            ).split()
        }

    # ----------------------------------------------------------------- lifecycle

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._control_routes(app)
        return app

    async def start(self) -> str:
        """Start listening; returns `base_url` (for `TelegramAPIServer.from_base`)."""
        # A short shutdown timeout: pending long polls must not hold up close().
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.base_url

    async def close(self) -> None:
        self._wake_poller("closing")
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegramAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ----------------------------------------------------------------- test helpers

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates (an `update_id` is assigned if missing)."""
        if "update_id" not in update:
            update = {"update_id": self._last_update_id + 1, **update}
        self._last_update_id = max(self._last_update_id, update["update_id"])
        self._updates.append(update)
        self._wake_poller("update")
        return update

    def push_updates(self, updates: list[dict[str, Any]]) -> None:
        for update in updates:
            self.push_update(update)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet acknowledged (some may have been delivered already)."""
        return list(self._updates)

    def fail_next(
        self,
        method: str,
        status: int = 500,
        *,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` with a Telegram-shaped error."""
        if description is None:
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after or 1}"
            else:
                description = _DESCRIPTIONS.get(status, "Internal Server Error")
        parameters = {"retry_after": retry_after or 1} if status == 429 or retry_after else None
        for _ in range(times):
            self._failures[method.lower()].append((status, description, parameters))

    def outage_for(
        self,
        seconds: float,
        status: int = 502,
        *,
        retry_after: int | None = None,
        methods: tuple[str, ...] = ("sendMessage",),
    ) -> None:
        """Answer every call of `methods` with `status` for the next `seconds` (a 5xx outage,
        or with status 429 a rate-limit storm carrying `retry_after`)."""
        until = time.monotonic() + seconds
        self._outage = (status, until, retry_after, frozenset(m.lower() for m in methods))

    def end_outage(self) -> None:
        self._outage = None

    def block_chat(self, chat_id: int | str) -> None:
        """The user blocked the bot: sends to this chat fail with 403."""
        self._blocked.add(_norm_chat(chat_id))

    def unblock_chat(self, chat_id: int | str) -> None:
        self._blocked.discard(_norm_chat(chat_id))

    def messages_to(self, chat_id: int | str) -> list[dict[str, Any]]:
        return list(self._by_chat.get(_norm_chat(chat_id), ()))

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["method"].lower() == method.lower()]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate()` is true; it is checked after every API call and push."""
        if predicate():
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (predicate, fut)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(fut, timeout)
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    async def wait_for_messages(
        self, chat_id: int | str, n: int, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """The first `n` messages sent to `chat_id`, waiting up to `timeout` seconds for them."""
        key = _norm_chat(chat_id)
        try:
            await self.wait_for(lambda: len(self._by_chat.get(key, ())) >= n, timeout)
        except TimeoutError:
            got = [m["text"] for m in self._by_chat.get(key, ())]
            raise TimeoutError(
                f"expected {n} message(s) to chat {chat_id} within {timeout}s, got {len(got)}: {got!r}"
            ) from None
        return self._by_chat[key][:n]

    def reset(self) -> None:
        """Forget recorded calls, messages, queued updates and failure plans."""
        self.calls.clear()
        self.sent.clear()
        self.call_counts.clear()
        self.callback_answers.clear()
        self._by_chat.clear()
        self._failures.clear()
        self._blocked.clear()
        self._updates.clear()
        self._outage = None

    # ----------------------------------------------------------------- HTTP plumbing

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if self.token is not None and token != self.token:
            return _error(401, "Unauthorized")
        name = request.match_info["method"].lower()
        fn = self._methods.get(name)
        if fn is None:
            return _error(404, "Not Found: method not found")
        try:
            params = await _read_params(request)
        except ValueError as e:
            return _error(400, f"Bad Request: {e}")
        call: dict[str, Any] = {
            "method": self._canonical[name],
            "params": params,
            "time": time.monotonic(),
            "content_type": request.content_type,
        }
        if self.record_calls:
            self.calls.append(call)
        self.call_counts[call["method"]] += 1
        if self.latency:
            await asyncio.sleep(self.latency)

        planned = self._failures.get(name)
        outage = self._outage
        if outage and name in outage[3] and time.monotonic() < outage[1]:
            status, _until, retry_after, _methods = outage
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after or 1}"
            else:
                description = _DESCRIPTIONS.get(status, "Internal Server Error")
            parameters = {"retry_after": retry_after or 1} if status == 429 or retry_after else None
            self.outage_answers += 1
            response = _error(status, description, parameters)
        elif planned:
            status, description, parameters = planned.popleft()
            response = _error(status, description, parameters)
        else:
            try:
                result = fn(params)
                if inspect.isawaitable(result):
                    result = await result
            except _ApiError as e:
                response = _error(e.status, e.description, e.parameters)
            else:
                response = web.json_response({"ok": True, "result": result})
        call["status"] = response.status
        self._notify()
        return response

    def _notify(self) -> None:
        for predicate, fut in list(self._waiters):
            if not fut.done() and predicate():
                fut.set_result(None)

    def _wake_poller(self, why: str) -> None:
        if self._poll_waiter is not None and not self._poll_waiter.done():
            self._poll_waiter.set_result(why)
        self._notify()

    # ----------------------------------------------------------------- methods

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook["url"]:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset") or 0
        limit = max(1, min(100, params.get("limit") or 100))
        timeout = params.get("timeout") or 0
        if "allowed_updates" in params:  # Telegram remembers it for later calls
            self._allowed_updates = params["allowed_updates"] or None
        self._acknowledge(offset)

        # Only one getUpdates at a time: a new one terminates a waiting one with 409.
        self._wake_poller("superseded")
        batch = self._take(limit)
        if batch or timeout <= 0:
            return batch
        waiter = self._poll_waiter = asyncio.get_running_loop().create_future()
        try:
            why = await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return []
        finally:
            if self._poll_waiter is waiter:
                self._poll_waiter = None
        if why == "superseded":
            raise _ApiError(409, _DESCRIPTIONS[409])
        return self._take(limit)

    def _acknowledge(self, offset: int) -> None:
        if offset > 0:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
            self.confirmed_offset = max(self.confirmed_offset, offset)
        elif offset < 0:  # the last -offset updates; everything before is forgotten
            while len(self._updates) > -offset:
                dropped = self._updates.popleft()
                self.confirmed_offset = max(self.confirmed_offset, dropped["update_id"] + 1)

    def _take(self, limit: int) -> list[dict[str, Any]]:
        allowed = self._allowed_updates
        if not allowed:
            return list(itertools.islice(self._updates, limit))
        # Telegram never delivers types the bot did not ask for: drop them as they come up.
        batch: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        for update in self._updates:
            if len(batch) == limit:
                break
            (batch if any(k in update for k in allowed) else dropped).append(update)
        for update in dropped:
            self._updates.remove(update)
        return batch

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise _ApiError(400, "Bad Request: chat_id is empty")
        if chat_id in self._blocked:
            raise _ApiError(403, _DESCRIPTIONS[403])
        text = params.get("text")
        if not text or not str(text).strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > TEXT_LIMIT:
            raise _ApiError(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        _check_markup(markup)
        message = self._message(chat_id, text, markup)
        record = {
            "chat_id": chat_id,
            "text": text,
            "reply_markup": markup,
            "message_id": message["message_id"],
            "params": params,
            "time": time.monotonic(),
        }
        self.sent.append(record)
        self._by_chat[chat_id].append(record)
        if self.on_send is not None:
            outcome = self.on_send(record)
            if inspect.isawaitable(outcome):
                task = asyncio.ensure_future(outcome)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return message

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        if not params.get("callback_query_id"):
            raise _ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self.callback_answers.append(params)
        return True

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        for c in commands:
            name = str(c.get("command", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not (1 <= len(str(c.get("description", ""))) <= 256):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = commands
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands.get(self._commands_key(params), [])

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {}
        return (scope.get("type", "default"), params.get("language_code") or "")

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url") or ""
        if url and not url.startswith("https://"):
            raise _ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = {
            "url": url,
            "secret_token": params.get("secret_token"),
            "allowed_updates": params.get("allowed_updates"),
        }
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = {"url": ""}
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            return True
        chat_id, message_id = params.get("chat_id"), params.get("message_id")
        if chat_id in (None, "") or not message_id:
            raise _ApiError(400, "Bad Request: message to edit not found")
        markup = params.get("reply_markup")
        _check_markup(markup)
        message = self._message(chat_id, "…", markup, message_id=message_id)
        message["edit_date"] = int(time.time())
        return message

    def add_file(self, file_id: str, data: bytes, ext: str = "jpg") -> None:
        """Serve `data` for getFile(file_id) and the file download that follows."""
        self._files[file_id] = (f"photos/file_{len(self._files)}.{ext}", data)

    def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file_id", ""))
        if file_id not in self._files:
            raise _ApiError(400, "Bad Request: invalid file_id")
        path, data = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u{abs(hash(file_id)) % 10**8}",
            "file_size": len(data),
            "file_path": path,
        }

    async def _file(self, request: web.Request) -> web.Response:
        if self.token is not None and request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        path = request.match_info["path"]
        for _fid, (p, data) in self._files.items():
            if p == path:
                self.file_downloads.append(path)
                return web.Response(body=data, content_type="application/octet-stream")
        return _error(404, "Not Found")

    def _send_chat_action(self, params: dict[str, Any]) -> bool:
        if params.get("chat_id") in self._blocked:
            raise _ApiError(403, _DESCRIPTIONS[403])
        return True

    def _message(
        self, chat_id: Any, text: str, markup: dict[str, Any] | None, message_id: int | None = None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": message_id or next(self._message_ids),
            "from": self.bot_user,
            "chat": _chat(chat_id),
            "date": int(time.time()),
            "text": text,
        }
        # Telegram echoes only inline keyboards in the returned Message.
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message

    # ----------------------------------------------------------------- control routes

    def _control_routes(self, app: web.Application) -> None:
        """JSON routes for a driver in another process:
        POST /_fake/updates (one update or a list), GET /_fake/sent[?chat_id=],
        GET /_fake/stats, POST /_fake/fail {method, status, retry_after?, description?, times?},
        POST /_fake/outage {seconds, status?, retry_after?, methods?},
        POST /_fake/block {chat_id}, POST /_fake/reset."""

        async def updates(request: web.Request) -> web.Response:
            body = await request.json()
            items = body if isinstance(body, list) else [body]
            self.push_updates(items)
            return web.json_response({"ok": True, "count": len(items)})

        async def sent(request: web.Request) -> web.Response:
            chat = request.query.get("chat_id")
            items = self.messages_to(chat) if chat is not None else self.sent
            return web.json_response([{k: v for k, v in m.items() if k != "params"} for m in items])

        async def stats(request: web.Request) -> web.Response:
            return web.json_response(
                {
                    "calls": dict(self.call_counts),
                    "sent": len(self.sent),
                    "pending_updates": len(self._updates),
                    "confirmed_offset": self.confirmed_offset,
                    "outage_answers": self.outage_answers,
                }
            )

        async def fail(request: web.Request) -> web.Response:
            b = await request.json()
            self.fail_next(
                b["method"],
                b.get("status", 500),
                retry_after=b.get("retry_after"),
                description=b.get("description"),
                times=b.get("times", 1),
            )
            return web.json_response({"ok": True})

        async def outage(request: web.Request) -> web.Response:
            b = await request.json()
            self.outage_for(
                float(b["seconds"]),
                b.get("status", 502),
                retry_after=b.get("retry_after"),
                methods=tuple(b.get("methods", ("sendMessage",))),
            )
            return web.json_response({"ok": True})

        async def block(request: web.Request) -> web.Response:
            self.block_chat((await request.json())["chat_id"])
            return web.json_response({"ok": True})

        async def reset(request: web.Request) -> web.Response:
            self.reset()
            return web.json_response({"ok": True})

        app.router.add_post("/_fake/updates", updates)
        app.router.add_get("/_fake/sent", sent)
        app.router.add_get("/_fake/stats", stats)
        app.router.add_post("/_fake/fail", fail)
        app.router.add_post("/_fake/outage", outage)
        app.router.add_post("/_fake/block", block)
        app.router.add_post("/_fake/reset", reset)


class _ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        self.status, self.description, self.parameters = status, description, parameters


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query string plus a JSON, urlencoded or multipart body, with values coerced to JSON types."""
    raw: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.body_exists:
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except json.JSONDecodeError as e:
                raise ValueError(f"can't parse JSON body: {e}") from None
            if not isinstance(body, dict):
                raise ValueError("the JSON body must be an object")
            raw.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                raw[key] = value if isinstance(value, str) else getattr(value, "filename", "file")
    return {key: _coerce(key, value) for key, value in raw.items()}


def _coerce(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in _JSON_FIELDS:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"can't parse {key} JSON object") from None
    if key in _INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            return value  # e.g. chat_id "@channelname"
    if value in ("true", "True"):
        return True
    if value in ("false", "False"):
        return False
    return value


def _check_markup(markup: Any) -> None:
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", ()):
        for button in row:
            if not button.get("text"):
                raise _ApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and not (1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT):
                raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    for row in markup.get("keyboard", ()):
        for button in row:
            if not (button.get("text") if isinstance(button, dict) else button):
                raise _ApiError(400, "Bad Request: keyboard button text is empty")


def _norm_chat(chat_id: int | str) -> int | str:
    if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
        return int(chat_id)
    return chat_id


def _chat(chat_id: Any) -> dict[str, Any]:
    if isinstance(chat_id, int) and chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Warga"}
    if isinstance(chat_id, int):
        return {"id": chat_id, "type": "supergroup", "title": "Grup"}
    name = str(chat_id).lstrip("@")
    return {"id": -1000000000001, "type": "channel", "title": name, "username": name}


# --------------------------------------------------------------------- update builders
# Real Bot API JSON, as Telegram would deliver it in getUpdates or a webhook body.


def user_json(
    user_id: int, language_code: str | None = "id", first_name: str = "Warga"
) -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code:
        user["language_code"] = language_code
    return user


def message_update(
    update_id: int,
    user_id: int,
    content: dict[str, Any],
    *,
    language_code: str | None = "id",
    chat_id: int | None = None,
    message_id: int | None = None,
    date: int | None = None,
    update_type: str = "message",
) -> dict[str, Any]:
    """A message update with `content` (e.g. {"text": ...}, {"voice": {...}}) merged in.
    `update_type="edited_message"` builds an edit; `chat_id` defaults to the private chat."""
    chat_id = user_id if chat_id is None else chat_id
    message = {
        "message_id": update_id if message_id is None else message_id,
        "from": user_json(user_id, language_code),
        "chat": _chat(chat_id),
        "date": int(time.time()) if date is None else date,
        **content,
    }
    if update_type == "edited_message":
        message["edit_date"] = message["date"] + 1
    return {"update_id": update_id, update_type: message}


def text_update(
    update_id: int, user_id: int, text: str, language_code: str | None = "id", **kw: Any
) -> dict[str, Any]:
    content: dict[str, Any] = {"text": text}
    if text.startswith("/") and len(text) > 1 and not text[1].isspace():
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return message_update(update_id, user_id, content, language_code=language_code, **kw)


def callback_update(
    update_id: int,
    user_id: int,
    data: str,
    message_id: int = 1,
    *,
    language_code: str | None = "id",
    chat_id: int | None = None,
    bot_id: int = BOT_ID,
) -> dict[str, Any]:
    """A tap on an inline button under the bot's message `message_id`."""
    chat_id = user_id if chat_id is None else chat_id
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"{user_id}{update_id:08d}",
            "from": user_json(user_id, language_code),
            "message": {
                "message_id": message_id,
                "from": {"id": bot_id, "is_bot": True, "first_name": "Jaring"},
                "chat": _chat(chat_id),
                "date": int(time.time()) - 5,
                "text": "Pilih salah satu:",
            },
            "chat_instance": str(-7 * abs(chat_id) - 11),
            "data": data,
        },
    }


def location_update(
    update_id: int, user_id: int, lat: float = -6.595, lon: float = 106.797, **kw: Any
) -> dict[str, Any]:
    return message_update(
        update_id, user_id, {"location": {"latitude": lat, "longitude": lon}}, **kw
    )


def photo_update(
    update_id: int,
    user_id: int,
    file_id: str = "AgACAgUAAxkBAAIBQ2photo",
    caption: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """A photo as Telegram sends it: several sizes, smallest first; the largest has `file_id`."""
    sizes = [
        {
            "file_id": f"{file_id}-{tag}",
            "file_unique_id": f"AQAD{tag}",
            "file_size": size,
            "width": w,
            "height": h,
        }
        for tag, size, w, h in (("s", 1_402, 90, 67), ("m", 18_733, 320, 240))
    ]
    sizes.append(
        {
            "file_id": file_id,
            "file_unique_id": "AQADx",
            "file_size": 96_310,
            "width": 1280,
            "height": 960,
        }
    )
    content: dict[str, Any] = {"photo": sizes}
    if caption:
        content["caption"] = caption
    return message_update(update_id, user_id, content, **kw)


def sticker_update(
    update_id: int, user_id: int, emoji: str = "\N{THUMBS UP SIGN}", **kw: Any
) -> dict[str, Any]:
    sticker = {
        "file_id": "CAACAgIAAxkBAAIBRGsticker",
        "file_unique_id": "AgADsticker",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": emoji,
        "set_name": "HotCherry",
    }
    return message_update(update_id, user_id, {"sticker": sticker}, **kw)


def voice_update(update_id: int, user_id: int, duration: int = 3, **kw: Any) -> dict[str, Any]:
    voice = {
        "file_id": "AwACAgUAAxkBvoice",
        "file_unique_id": "AgADvoice",
        "duration": duration,
        "mime_type": "audio/ogg",
        "file_size": 9_144,
    }
    return message_update(update_id, user_id, {"voice": voice}, **kw)


# --------------------------------------------------------------------- standalone


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeTelegramAPI(
        args.token,
        host=args.host,
        port=args.port,
        latency=args.latency,
        record_calls=not args.no_record,
    )
    url = await fake.start()
    print(f"fake Telegram Bot API listening on {url} (token: {args.token or 'any'})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=None, help="accept only this bot token")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--no-record", action="store_true", help="don't keep per-call records")
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
