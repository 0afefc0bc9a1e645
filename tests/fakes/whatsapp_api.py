"""A fake WhatsApp Cloud (Graph) API on loopback, plus builders of real webhook deliveries.

The server speaks the Graph API's HTTP shape for what Jaring uses: `POST /{phone_id}/messages`
(answering `{"messaging_product", "contacts", "messages": [{"id": wamid}]}` or Meta's error
envelope `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`), `GET /{media_id}`
(media URL, mime type, sha256, size) and the media download itself, which needs the Bearer token
like the real one. Any path prefix (such as `/v23.0`) is accepted. Sent messages are checked
against Meta's limits (3 buttons of 20 characters, 10 list rows of 24, bodies of 1024, texts of
4096) and refused with code 131009 when over, so rendering mistakes fail tests loudly.

In a test::

    async with FakeWhatsAppAPI(token="tok") as fake:
        ... WHATSAPP_API_URL=fake.base_url ...
        sent = await fake.wait_for_messages("6281200000001", 1)
        fake.fail_next(130429, status=400)          # the next send is rate limited

Standalone (for a harness or a benchmark in another process)::

    python -m tests.fakes.whatsapp_api --port 8082

and drive it through the control routes under `/_fake/` (see `_control_routes`).

Webhook side: `text_message(...)`, `button_reply(...)`, ... build message objects, `delivery(...)`
wraps them (and statuses) into a webhook body, and `sign(body, secret)` gives the
X-Hub-Signature-256 header value. No pytest and no pywa imports here.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from aiohttp import web

PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
DISPLAY_NUMBER = "15550783881"
TOKEN = "EAAG-test-token"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"

TEXT_MAX, BODY_MAX = 4096, 1024
BUTTONS_MAX, BUTTON_TITLE_MAX = 3, 20
LIST_ROWS_MAX, ROW_TITLE_MAX, LIST_BUTTON_MAX = 10, 24, 20

_ERRORS = {
    130429: "Rate limit hit",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    131047: "Re-engagement message",
    131026: "Message undeliverable",
    131009: "Parameter value is not valid",
    131000: "Something went wrong",
    132001: "Template name does not exist in the translation",
    190: "Invalid OAuth access token",
}


class FakeWhatsAppAPI:
    """The server. Use as `async with FakeWhatsAppAPI() as fake:` or `start()` / `close()`."""

    def __init__(
        self,
        token: str | None = TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        record: bool = True,
    ) -> None:
        self.token = token
        self.host, self.port, self.latency, self.record = host, port, latency, record
        self.sent: list[
            dict[str, Any]
        ] = []  # {"to", "recipient", "type", <type>: {...}, "wamid", "time"}
        self.refused: list[dict[str, Any]] = []  # sends answered with an error
        self.media_requests: list[str] = []
        self.downloads: list[str] = []
        self._by_to: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._failures: deque[tuple[int, int, str, int | None]] = deque()
        self._media: dict[str, tuple[bytes, str]] = {}
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.count = 0

    # ----------------------------------------------------------------- lifecycle

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=10 * 1024 * 1024)
        self._control_routes(app)
        app.router.add_route("*", "/{path:.*}", self._handle)
        return app

    async def start(self) -> str:
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeWhatsAppAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ----------------------------------------------------------------- test helpers

    def fail_next(
        self,
        code: int = 131000,
        *,
        status: int | None = None,
        message: str | None = None,
        times: int = 1,
        subcode: int | None = None,
    ) -> None:
        """Answer the next `times` sends with a Graph API error (HTTP 400 unless `status`)."""
        for _ in range(times):
            self._failures.append(
                (
                    code,
                    status or (500 if code == 131000 else 400),
                    message or _ERRORS.get(code, "Error"),
                    subcode,
                )
            )

    def add_media(self, media_id: str, data: bytes, mime: str = "image/jpeg") -> str:
        """Serve `data` as media `media_id`; returns its sha256 (hex)."""
        self._media[media_id] = (data, mime)
        return hashlib.sha256(data).hexdigest()

    def messages_to(self, to: str) -> list[dict[str, Any]]:
        return list(self._by_to.get(str(to), ()))

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
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
        self, to: str, n: int, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """The first `n` messages sent to `to` (a wa_id or a BSUID)."""
        try:
            await self.wait_for(lambda: len(self._by_to.get(str(to), ())) >= n, timeout)
        except TimeoutError:
            got = [summary(m) for m in self._by_to.get(str(to), ())]
            raise TimeoutError(
                f"expected {n} message(s) to {to} within {timeout}s, got {len(got)}: {got!r}"
            ) from None
        return self._by_to[str(to)][:n]

    def reset(self) -> None:
        self.sent.clear()
        self.refused.clear()
        self._by_to.clear()
        self._failures.clear()
        self.count = 0

    # ----------------------------------------------------------------- HTTP

    def _authorized(self, request: web.Request) -> bool:
        return self.token is None or request.headers.get("Authorization") == f"Bearer {self.token}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.match_info["path"].split("/") if p]
        if parts and parts[0].startswith("v") and parts[0][1:].replace(".", "").isdigit():
            parts = parts[1:]  # a version prefix such as v23.0
        if not self._authorized(request):
            return _graph_error(401, 190)
        if request.method == "POST" and len(parts) == 2 and parts[1] == "messages":
            return await self._send(request, parts[0])
        if request.method == "GET" and len(parts) == 2 and parts[0] == "_media":
            return self._download(parts[1])
        if request.method == "GET" and len(parts) == 1:
            return self._media_info(parts[0])
        return _graph_error(404, 100, "Unsupported request")

    async def _send(self, request: web.Request, phone_id: str) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _graph_error(400, 100, "Invalid JSON")
        if self.latency:
            await asyncio.sleep(self.latency)
        self.count += 1
        if self._failures:
            code, status, message, subcode = self._failures.popleft()
            self.refused.append({**body, "code": code})
            self._notify()
            return _graph_error(status, code, message, subcode)
        problem = check_message(body)
        if problem:
            self.refused.append({**body, "code": 131009, "problem": problem})
            self._notify()
            return _graph_error(400, 131009, f"Parameter value is not valid: {problem}")
        wamid = f"wamid.FAKE{next(self._ids):08d}"
        key = str(body.get("to") or body.get("recipient"))
        msg = {**body, "phone_number_id": phone_id, "wamid": wamid, "time": time.monotonic()}
        if self.record:
            self.sent.append(msg)
            self._by_to[key].append(msg)
            if body.get("recipient") and body.get("to"):
                self._by_to[str(body["recipient"])].append(msg)
        self._notify()
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": key, "wa_id": str(body.get("to") or "")}],
                "messages": [{"id": wamid}],
            }
        )

    def _media_info(self, media_id: str) -> web.Response:
        self.media_requests.append(media_id)
        if media_id not in self._media:
            return _graph_error(400, 100, "Unsupported get request. Object does not exist")
        data, mime = self._media[media_id]
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "id": media_id,
                "mime_type": mime,
                "sha256": hashlib.sha256(data).hexdigest(),
                "file_size": len(data),
                "url": f"{self.base_url}/_media/{media_id}",
            }
        )

    def _download(self, media_id: str) -> web.Response:
        self.downloads.append(media_id)
        if media_id not in self._media:
            return web.Response(status=404)
        data, mime = self._media[media_id]
        return web.Response(body=data, content_type=mime)

    def _notify(self) -> None:
        for predicate, fut in list(self._waiters):
            if not fut.done() and predicate():
                fut.set_result(None)

    def _control_routes(self, app: web.Application) -> None:
        """GET /_fake/sent[?to=], GET /_fake/stats, POST /_fake/fail {code, status?, message?,
        times?}, POST /_fake/media {id, mime, data_b64}, POST /_fake/reset."""

        async def sent(request: web.Request) -> web.Response:
            to = request.query.get("to")
            items = self.messages_to(to) if to is not None else self.sent
            return web.json_response([{k: v for k, v in m.items() if k != "time"} for m in items])

        async def stats(request: web.Request) -> web.Response:
            return web.json_response(
                {"sent": len(self.sent), "refused": len(self.refused), "requests": self.count}
            )

        async def fail(request: web.Request) -> web.Response:
            b = await request.json()
            self.fail_next(
                b.get("code", 131000),
                status=b.get("status"),
                message=b.get("message"),
                times=b.get("times", 1),
            )
            return web.json_response({"ok": True})

        async def media(request: web.Request) -> web.Response:
            import base64

            b = await request.json()
            sha = self.add_media(
                b["id"], base64.b64decode(b["data_b64"]), b.get("mime", "image/jpeg")
            )
            return web.json_response({"ok": True, "sha256": sha})

        async def reset(request: web.Request) -> web.Response:
            self.reset()
            return web.json_response({"ok": True})

        app.router.add_get("/_fake/sent", sent)
        app.router.add_get("/_fake/stats", stats)
        app.router.add_post("/_fake/fail", fail)
        app.router.add_post("/_fake/media", media)
        app.router.add_post("/_fake/reset", reset)


def _graph_error(
    status: int, code: int, message: str | None = None, subcode: int | None = None
) -> web.Response:
    err: dict[str, Any] = {
        "message": message or _ERRORS.get(code, "Error"),
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEfFake",
    }
    if subcode is not None:
        err["error_subcode"] = subcode
    return web.json_response({"error": err}, status=status)


def check_message(body: dict[str, Any]) -> str | None:
    """What Meta would refuse in an outgoing message, or None."""
    if body.get("messaging_product") != "whatsapp":
        return "messaging_product"
    if not (body.get("to") or body.get("recipient")):
        return "no recipient"
    typ = body.get("type")
    obj = body.get(typ) if isinstance(body.get(typ), dict) else None
    if obj is None:
        return f"no {typ} object"
    if typ == "text":
        text = obj.get("body") or ""
        return None if 0 < len(text) <= TEXT_MAX else f"text length {len(text)}"
    if typ == "template":
        return None if obj.get("name") and (obj.get("language") or {}).get("code") else "template"
    if typ != "interactive":
        return None
    body_text = (obj.get("body") or {}).get("text") or ""
    if not 0 < len(body_text) <= BODY_MAX:
        return f"body length {len(body_text)}"
    action = obj.get("action") or {}
    if obj.get("type") == "button":
        buttons = action.get("buttons") or []
        titles = [b["reply"]["title"] for b in buttons]
        if not 0 < len(buttons) <= BUTTONS_MAX:
            return f"{len(buttons)} buttons"
        if any(not 0 < len(t) <= BUTTON_TITLE_MAX for t in titles) or len(set(titles)) != len(
            titles
        ):
            return f"button titles {titles}"
    elif obj.get("type") == "list":
        rows = [r for s in action.get("sections") or [] for r in s.get("rows") or []]
        if not 0 < len(rows) <= LIST_ROWS_MAX:
            return f"{len(rows)} rows"
        if any(not 0 < len(r["title"]) <= ROW_TITLE_MAX for r in rows):
            return f"row titles {[r['title'] for r in rows]}"
        if len({r["id"] for r in rows}) != len(rows):
            return "row ids not unique"
        if not 0 < len(action.get("button") or "") <= LIST_BUTTON_MAX:
            return "list button"
    return None


def summary(msg: dict[str, Any]) -> str:
    """One line for assertion messages: the text and the choices of a sent message."""
    typ = msg.get("type")
    if typ == "text":
        return msg["text"]["body"][:80]
    if typ == "template":
        return f"<template {msg['template']['name']}>"
    obj = msg.get("interactive") or {}
    return f"{(obj.get('body') or {}).get('text', '')[:60]} {choices(msg)}"


def body_text(msg: dict[str, Any]) -> str:
    if msg.get("type") == "text":
        return msg["text"]["body"]
    if msg.get("type") == "interactive":
        return msg["interactive"]["body"]["text"]
    return ""


def choices(msg: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, id) of the buttons or list rows of a sent message."""
    obj = msg.get("interactive") or {}
    action = obj.get("action") or {}
    if obj.get("type") == "button":
        return [(b["reply"]["title"], b["reply"]["id"]) for b in action.get("buttons", [])]
    if obj.get("type") == "list":
        return [
            (r["title"], r["id"]) for s in action.get("sections", []) for r in s.get("rows", [])
        ]
    return []


# ===================================================================== webhook side

_wamids = itertools.count(1)


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    """The X-Hub-Signature-256 header value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _base(wa_id: str, typ: str, wamid: str | None, ts: int | None) -> dict[str, Any]:
    return {
        "from": wa_id,
        "id": wamid or f"wamid.HBgM{next(_wamids):010d}",
        "timestamp": str(int(time.time()) if ts is None else ts),
        "type": typ,
    }


def text_message(wa_id: str, text: str, *, wamid: str | None = None, ts: int | None = None) -> dict:
    return {**_base(wa_id, "text", wamid, ts), "text": {"body": text}}


def button_reply(
    wa_id: str,
    reply_id: str,
    title: str = "",
    *,
    wamid: str | None = None,
    ts: int | None = None,
    context_id: str = "wamid.CTX",
) -> dict:
    return {
        "context": {"from": DISPLAY_NUMBER, "id": context_id},
        **_base(wa_id, "interactive", wamid, ts),
        "interactive": {
            "type": "button_reply",
            "button_reply": {"id": reply_id, "title": title or reply_id},
        },
    }


def list_reply(
    wa_id: str,
    reply_id: str,
    title: str = "",
    *,
    wamid: str | None = None,
    ts: int | None = None,
    context_id: str = "wamid.CTX",
) -> dict:
    return {
        "context": {"from": DISPLAY_NUMBER, "id": context_id},
        **_base(wa_id, "interactive", wamid, ts),
        "interactive": {
            "type": "list_reply",
            "list_reply": {"id": reply_id, "title": title or reply_id},
        },
    }


def template_button(
    wa_id: str, payload: str, text: str = "", *, wamid: str | None = None, ts: int | None = None
) -> dict:
    return {
        "context": {"from": DISPLAY_NUMBER, "id": "wamid.TPL"},
        **_base(wa_id, "button", wamid, ts),
        "button": {"payload": payload, "text": text or payload},
    }


def location_message(
    wa_id: str, lat: float, lon: float, *, wamid: str | None = None, ts: int | None = None
) -> dict:
    return {
        **_base(wa_id, "location", wamid, ts),
        "location": {"latitude": lat, "longitude": lon, "name": "Rumah", "address": "Bogor"},
    }


def image_message(
    wa_id: str,
    media_id: str,
    sha256: str | None = None,
    mime: str = "image/jpeg",
    *,
    wamid: str | None = None,
    ts: int | None = None,
) -> dict:
    image = {"mime_type": mime, "id": media_id}
    if sha256:
        image["sha256"] = sha256
    return {**_base(wa_id, "image", wamid, ts), "image": image}


def other_message(wa_id: str, typ: str, *, wamid: str | None = None, ts: int | None = None) -> dict:
    samples = {
        "audio": {"mime_type": "audio/ogg; codecs=opus", "id": "9001", "voice": True},
        "video": {"mime_type": "video/mp4", "id": "9002"},
        "sticker": {"mime_type": "image/webp", "id": "9003", "animated": False},
        "document": {"mime_type": "application/pdf", "id": "9004", "filename": "kk.pdf"},
        "reaction": {"message_id": "wamid.X", "emoji": "\U0001f44d"},
        "contacts": [{"name": {"formatted_name": "Budi"}, "phones": [{"phone": "+62 812"}]}],
    }
    msg = _base(wa_id, typ, wamid, ts)
    if typ in samples:
        msg[typ] = samples[typ]
    if typ in ("unknown", "unsupported"):
        msg["errors"] = [{"code": 131051, "title": "Message type unknown"}]
    return msg


def status(
    wamid: str, state: str, recipient: str, *, ts: int | None = None, error_code: int | None = None
) -> dict:
    st: dict[str, Any] = {
        "id": wamid,
        "status": state,
        "timestamp": str(int(time.time()) if ts is None else ts),
        "recipient_id": recipient,
    }
    if error_code is not None:
        st["errors"] = [{"code": error_code, "title": _ERRORS.get(error_code, "Error")}]
    return st


def contact(wa_id: str | None, name: str = "Warga", bsuid: str | None = None) -> dict:
    c: dict[str, Any] = {"profile": {"name": name}}
    if wa_id:
        c["wa_id"] = wa_id
    if bsuid:
        c["user_id"] = bsuid
    return c


def change(
    messages: list[dict] | None = None,
    statuses: list[dict] | None = None,
    contacts: list[dict] | None = None,
) -> dict:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": PHONE_NUMBER_ID},
    }
    if messages:
        value["contacts"] = contacts or [contact(m["from"]) for m in messages[:1]]
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {"field": "messages", "value": value}


def delivery(
    *messages: dict, statuses: list[dict] | None = None, contacts: list[dict] | None = None
) -> dict:
    """One webhook body: one entry, one change holding `messages` and/or `statuses`."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [change(list(messages), statuses, contacts)]}],
    }


def batched(*changes: dict, entries: int = 1) -> dict:
    """Several changes, spread over `entries` entries."""
    out = [{"id": WABA_ID, "changes": []} for _ in range(entries)]
    for i, ch in enumerate(changes):
        out[i % entries]["changes"].append(ch)
    return {"object": "whatsapp_business_account", "entry": out}


def encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


# --------------------------------------------------------------------- standalone


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeWhatsAppAPI(args.token or None, host=args.host, port=args.port, latency=args.latency)
    url = await fake.start()
    print(f"fake WhatsApp Graph API listening on {url} (token: {args.token or 'any'})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--token", default=TOKEN, help="accept only this token ('' for any)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every send")
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
