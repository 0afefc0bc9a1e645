"""WhatsApp adapter: Cloud API webhooks become `Event`s, reply payloads become Graph API messages.

In:  GET /wa/webhook answers Meta's subscription handshake; POST /wa/webhook checks the
     X-Hub-Signature-256 HMAC over the raw body, stores every message of every entry and change
     in the inbox (`receive`) under its wamid and only then answers 200. Processing, image
     downloads and status bookkeeping happen after. Delivery statuses are recorded in
     `wa_statuses` against the wamid that `outbound_messages.external_id` holds.
Out: `WhatsAppTransport.send` renders a reply payload (text, reply buttons, a list, a paged list,
     a location request; long bodies split at paragraph, line or word boundaries) and posts it
     to the Graph API (`GraphClient.send`: a JSON POST over aiohttp). Outside the 24-hour customer-service window it sends the
     approved "a reply is waiting" template once and raises `SendHeld`; held rows are re-queued,
     in order and before the reply to the new message, when the user writes again.

pywa (`pywa_async`) is used for the Graph API's error model (`WhatsAppError` with Meta's codes),
media URL look-up and the authenticated media stream. The message send, made for every reply,
is a direct aiohttp JSON POST: through pywa → httpx it cost 4× Telegram's send in CPU. The
webhook is parsed here from the raw JSON: pywa's update types require `contacts[].user_id`,
run handlers before the 200, dedupe in memory only and ignore `hub.mode` (README, "WhatsApp").

Privacy: phone numbers (wa_id) and message contents never go to the log; log lines carry wamids,
media ids, outbox row ids, error codes and exception types.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import sqlalchemy as sa
from aiohttp import web
from pywa_async import WhatsApp
from pywa_async.errors import WhatsAppError

from config import Settings
from core.i18n import L_, LOCALES, texts
from core.model import Event, SendFinal, SendHeld, SendRetry
from db.database import Database
from db.dialect import insert_ignore
from domain.clock import utcnow
from db.schema import inbound_events, outbound_messages, wa_contacts, wa_media, wa_statuses
from domain.photos import PhotoProblem, clean_image

log = logging.getLogger(__name__)

CHANNEL = "wa"
WEBHOOK_PATH = "/wa/webhook"
SIGNATURE_HEADER = "X-Hub-Signature-256"

# Meta's limits (channels.md §3).
TEXT_MAX = 4096
BODY_MAX = 1024  # interactive message body
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
LIST_ROWS_MAX = 10
ROW_TITLE_MAX = 24
LIST_BUTTON_MAX = 20

WINDOW = timedelta(hours=24)
# Hold a little before the window closes: a message sent at 23:59:59 may arrive after it.
WINDOW_MARGIN = timedelta(minutes=1)

MEDIA_TYPES = {"image/jpeg": "jpg", "image/png": "png"}
MEDIA_MAGIC = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",)}
MEDIA_MAX_BYTES = 5 * 1024 * 1024
MEDIA_ATTEMPTS = 4

# Graph API error codes (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
RATE_LIMIT = 130429  # throughput of the business number: slow the whole channel
PAIR_RATE_LIMIT = 131056  # too many messages to this user: back off for this chat
REENGAGEMENT = 131047  # more than 24 hours since the user's last message
RETRY_CODES = {1, 2, 4, 80007, RATE_LIMIT, PAIR_RATE_LIMIT, 131000, 131016, 133004}

MORE_PREFIX = "wa:more:"  # list row id of "Lainnya" (next page), handled here, not in the core
PAGE_ROWS = LIST_ROWS_MAX - 1  # rows per page when a "Lainnya" row follows

def _words(locale: str) -> dict[str, str]:
    """The adapter's own few words, from the catalogs like every resident-facing text; labels
    fit every limit above (tests/test_whatsapp_render.py, tests/test_i18n.py)."""
    t = texts(locale)
    return {"choose": t._(L_("Choose")), "more": t._(L_("More")),
            "more_body": t._("More choices ({page}/{pages}):")}


WORDS: dict[str, dict[str, str]] = {loc: _words(loc) for loc in LOCALES}

_BSUID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]+\Z")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z")



# ====================================================================== inbound: parsing


@dataclass(slots=True)
class Media:
    id: str
    mime: str | None
    sha256: str | None  # hex, from the webhook (Meta's hash of the file), when given


@dataclass(slots=True)
class Inbound:
    """One message of a webhook delivery, before it is linked to a user key."""

    wamid: str
    wa_id: str | None
    bsuid: str | None
    timestamp: datetime | None
    kind: str
    payload: dict[str, Any]
    media: Media | None = None
    more_page: int | None = None  # a "Lainnya" tap: show page N of the last list


@dataclass(slots=True)
class Status:
    wamid: str
    status: str
    timestamp: datetime | None
    error_code: int | None = None
    error_title: str | None = None


@dataclass(slots=True)
class Delivery:
    messages: list[Inbound] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    skipped: int = 0  # message items without an id or a sender


class BadDelivery(ValueError):
    """The body is JSON but not a webhook delivery."""


def parse_delivery(data: Any) -> Delivery:
    """Every message and status of every entry and change, in order."""
    if not isinstance(data, dict):
        raise BadDelivery("not a JSON object")
    entries = data.get("entry", [])
    if not isinstance(entries, list):
        raise BadDelivery("entry is not a list")
    out = Delivery()
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("changes", []), list):
            raise BadDelivery("malformed entry")
        for change in entry.get("changes", []):
            if not isinstance(change, dict):
                raise BadDelivery("malformed change")
            value = change.get("value")
            if not isinstance(value, dict) or change.get("field", "messages") != "messages":
                continue  # account updates, template reviews, ...: not ours to handle here
            contacts = [c for c in value.get("contacts") or [] if isinstance(c, dict)]
            for msg in value.get("messages") or []:
                item = _message(msg, contacts) if isinstance(msg, dict) else None
                if item is None:
                    out.skipped += 1
                else:
                    out.messages.append(item)
            for st in value.get("statuses") or []:
                if isinstance(st, dict) and st.get("id") and st.get("status"):
                    out.statuses.append(_status(st))
    return out


def _message(msg: dict, contacts: list[dict]) -> Inbound | None:
    wamid = msg.get("id")
    if not isinstance(wamid, str) or not wamid:
        return None
    sender = msg.get("from")
    sender = str(sender) if sender not in (None, "") else None
    contact = _contact_for(msg, sender, contacts)
    bsuid = (contact.get("user_id") if contact else None) or msg.get("from_user_id")
    wa_id = (contact.get("wa_id") if contact else None) or (sender if sender and sender.isdigit() else None)
    if sender and not wa_id and _BSUID.match(sender):  # "from" may carry the BSUID for usernames
        bsuid = bsuid or sender
    bsuid = str(bsuid) if bsuid else None
    wa_id = str(wa_id) if wa_id else None
    if not bsuid and not wa_id:
        return None
    if "group_id" in msg:  # group chats: replies about a household must not go to a group
        return None
    kind, payload, media, page = _content(msg)
    return Inbound(wamid, wa_id, bsuid, _ts(msg.get("timestamp")), kind, payload, media, page)


def _contact_for(msg: dict, sender: str | None, contacts: list[dict]) -> dict | None:
    for c in contacts:
        if sender and (str(c.get("wa_id") or "") == sender or c.get("user_id") == sender):
            return c
        if msg.get("from_user_id") and c.get("user_id") == msg.get("from_user_id"):
            return c
    return contacts[0] if len(contacts) == 1 else None


def _content(msg: dict) -> tuple[str, dict[str, Any], Media | None, int | None]:
    typ = str(msg.get("type") or "unknown")
    body = msg.get(typ) if isinstance(msg.get(typ), dict) else {}
    if typ == "text":
        return "text", {"text": str(body.get("body", ""))}, None, None
    if typ == "interactive":
        itype = body.get("type")
        reply = body.get(itype) if isinstance(body.get(itype), dict) else {}
        if itype in ("button_reply", "list_reply") and reply.get("id"):
            cid = str(reply["id"])
            if cid.startswith(MORE_PREFIX) and cid[len(MORE_PREFIX):].isdigit():
                return "choice", {"id": cid}, None, int(cid[len(MORE_PREFIX):])
            return "choice", {"id": cid}, None, None
        return "other", {"type": f"interactive:{itype or 'unknown'}"}, None, None
    if typ == "button":  # a template's quick-reply button
        if body.get("payload"):
            return "choice", {"id": str(body["payload"])}, None, None
        return "text", {"text": str(body.get("text", ""))}, None, None
    if typ == "location":
        try:
            lat, lon = float(body["latitude"]), float(body["longitude"])
        except (KeyError, TypeError, ValueError):
            return "other", {"type": "location"}, None, None
        return "location", {"lat": lat, "lon": lon}, None, None
    if typ == "image" and body.get("id"):
        media = Media(str(body["id"]), body.get("mime_type"), _sha256_hex(body.get("sha256")))
        ref = media.sha256 or f"wa-media:{media.id}"
        return "photo", {"ref": ref}, media, None
    return "other", {"type": typ}, None, None


def _status(st: dict) -> Status:
    errors = st.get("errors")
    err = errors[0] if isinstance(errors, list) and errors else None
    code = title = None
    if isinstance(err, dict):
        try:
            code = int(err.get("code"))
        except (TypeError, ValueError):
            code = None
        title = str(err.get("title") or err.get("message") or "")[:250] or None
    return Status(str(st["id"]), str(st["status"])[:16], _ts(st.get("timestamp")), code, title)


def _ts(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _sha256_hex(value: Any) -> str | None:
    """Meta's media hash as lower-case hex (it may come as hex or as base64)."""
    if not isinstance(value, str) or not value:
        return None
    if _HEX64.match(value):
        return value.lower()
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=False)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def signature_ok(body: bytes, header: str, app_secret: bytes) -> bool:
    """X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256 of the raw body, compared in constant time."""
    given = header.strip()
    if given[:7].lower() == "sha256=":
        given = given[7:]
    want = hmac.new(app_secret, body, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(given.lower().encode("utf-8", "replace"), want)


# ====================================================================== outbound: rendering


def words(locale: str | None) -> dict[str, str]:
    return WORDS.get((locale or "id")[:2], WORDS["id"])


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut between paragraphs, else lines, else words;
    a single word longer than the limit (a URL, say) is the only thing ever cut inside."""
    text = text.strip("\n")
    if len(text) <= limit:
        return [text]
    for sep in ("\n\n", "\n", " "):
        parts = text.split(sep)
        if len(parts) == 1:
            continue
        out: list[str] = []
        cur = ""
        for part in parts:
            candidate = part if not cur else cur + sep + part
            if len(candidate) <= limit:
                cur = candidate
                continue
            if cur:
                out.append(cur)
            if len(part) <= limit:
                cur = part
            else:  # this part alone is too long: split it finer
                pieces = split_text(part, limit)
                out += pieces[:-1]
                cur = pieces[-1]
        if cur:
            out.append(cur)
        return [p for p in (x.strip("\n") for x in out) if p]
    return [text[i:i + limit] for i in range(0, len(text), limit)]


def _page_rows(choices: list[list[str]], page: int, more_label: str) -> tuple[list[dict], int]:
    """Rows of `page` (0-based) and the number of pages: 9 choices and "Lainnya" per page, the
    last page up to 10 choices."""
    pages, start = 1, 0
    while len(choices) - start > LIST_ROWS_MAX:
        start += PAGE_ROWS
        pages += 1
    page = max(0, min(page, pages - 1))
    start = page * PAGE_ROWS
    if page < pages - 1:
        rows = [{"id": cid, "title": label} for cid, label in choices[start:start + PAGE_ROWS]]
        rows.append({"id": f"{MORE_PREFIX}{page + 1}", "title": more_label})
    else:
        rows = [{"id": cid, "title": label} for cid, label in choices[start:]]
    return rows, pages


def render(payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The Graph API messages, as (type, object) pairs, for one reply payload
    {"text", "choices": [[id, label], ...], "request", "locale"?, "wa_page"?}."""
    text = str(payload.get("text") or "")
    choices = [[str(c[0]), str(c[1])] for c in payload.get("choices") or []]
    w = words(payload.get("locale"))
    page = int(payload.get("wa_page") or 0)
    labels = [label for _, label in choices]

    if payload.get("request") == "location":
        if choices:  # one interactive message: choices become numbers the resident can type
            text = (text + "\n\n" if text else "") + "\n".join(
                f"{n}. {label}" for n, label in enumerate(labels, 1))
        return _with_body(text or w["choose"], lambda body: {
            "type": "location_request_message", "body": {"text": body},
            "action": {"name": "send_location"}})
    if not choices:
        return [("text", {"body": part, "preview_url": False})
                for part in split_text(text, TEXT_MAX) if part]

    if (len(choices) <= BUTTONS_MAX and all(0 < len(x) <= BUTTON_TITLE_MAX for x in labels)
            and len(set(labels)) == len(labels)):
        buttons = [{"type": "reply", "reply": {"id": cid, "title": label}} for cid, label in choices]
        return _with_body(text or w["choose"], lambda body: {
            "type": "button", "body": {"text": body}, "action": {"buttons": buttons}})
    if all(0 < len(x) <= ROW_TITLE_MAX for x in labels):
        rows, pages = _page_rows(choices, page, w["more"])
        if page > 0:
            text = w["more_body"].format(page=min(page, pages - 1) + 1, pages=pages)
        action = {"button": w["choose"], "sections": [{"rows": rows}]}
        return _with_body(text or w["choose"], lambda body: {
            "type": "list", "body": {"text": body}, "action": action})
    # Labels that fit no WhatsApp control (the catalogs prevent this): a numbered list to type.
    numbered = (text + "\n\n" if text else "") + "\n".join(
        f"{n}. {label}" for n, label in enumerate(labels, 1))
    return [("text", {"body": part, "preview_url": False}) for part in split_text(numbered, TEXT_MAX)]


def _with_body(text: str, make: Callable[[str], dict]) -> list[tuple[str, dict[str, Any]]]:
    """Long bodies: the leading pieces go as plain text, the last (<= 1024) carries the controls."""
    parts = split_text(text, BODY_MAX)
    head = split_text("\n\n".join(parts[:-1]), TEXT_MAX) if len(parts) > 1 else []
    return [("text", {"body": p, "preview_url": False}) for p in head if p] + \
        [("interactive", make(parts[-1]))]


# ====================================================================== Graph API client


class GraphClient:
    """pywa's async Graph API client, pointed at WHATSAPP_API_URL when set (a proxy or a fake)."""

    def __init__(self, settings: Settings, *, timeout: float = 15.0) -> None:
        assert settings.whatsapp_token and settings.whatsapp_phone_number_id
        self.phone_id = settings.whatsapp_phone_number_id
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))
        self.wa = WhatsApp(
            phone_id=self.phone_id,
            token=settings.whatsapp_token.get_secret_value(),
            session=self._http,  # type: ignore[arg-type]
            verify_token=settings.whatsapp_verify_token.get_secret_value()
            if settings.whatsapp_verify_token else None,
            app_secret=settings.whatsapp_app_secret.get_secret_value()
            if settings.whatsapp_app_secret else None,
            filter_updates=False,
            skip_duplicate_updates=False,  # the inbox dedupes, durably
        )
        if settings.whatsapp_api_url:  # pywa fixes Meta's URL in its constructor; the session is ours
            self._http.base_url = settings.whatsapp_api_url.rstrip("/") + "/"
        self.base_url = str(self._http.base_url)
        self._messages_url = f"{self.base_url}{self.phone_id}/messages"
        self._headers = {"Authorization": f"Bearer {settings.whatsapp_token.get_secret_value()}",
                         "Content-Type": "application/json"}
        self._timeout = timeout
        self._aio: aiohttp.ClientSession | None = None

    async def send(self, to: dict[str, str | None], typ: str, obj: dict[str, Any]) -> str | None:
        """POST one message to /{phone_id}/messages; the wamid Meta assigned (None if absent).

        This one call is made for every reply, so it goes through a plain aiohttp session with a
        JSON body (as Telegram's sends do) instead of pywa → httpx: that path cost about 4 ms of
        CPU per message here, mostly httpx's connection-pool bookkeeping (docs/benchmarks.md).
        Errors stay pywa's `WhatsAppError` (built from Meta's error JSON, with the HTTP status),
        so `_send_error` maps them exactly as before; a body that is not a Graph API error
        becomes `GraphHTTPError`."""
        body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual",
                                "type": typ, typ: obj}
        if to.get("to"):
            body["to"] = to["to"]
        if to.get("recipient"):
            body["recipient"] = to["recipient"]
        if not ("to" in body or "recipient" in body):
            raise ValueError("no recipient")
        session = self._session()
        async with session.post(self._messages_url, data=json.dumps(body, ensure_ascii=False),
                                headers=self._headers) as resp:
            status, raw = resp.status, await resp.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        if status >= 400 or (isinstance(data, dict) and "error" in data):
            err = data.get("error") if isinstance(data, dict) else None
            if isinstance(err, dict) and isinstance(err.get("code"), (int, str)) \
                    and str(err["code"]).lstrip("-").isdigit():
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
                json_serialize=json.dumps, raise_for_status=False)
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


def _send_error(e: Exception) -> Exception:
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
    if isinstance(e, (httpx.TimeoutException, httpx.TransportError, aiohttp.ClientError,
                      asyncio.TimeoutError)):
        return SendRetry(f"{type(e).__name__}")
    if isinstance(e, (ValueError, json.JSONDecodeError)):  # a 2xx that is not JSON
        return SendRetry(f"undecodable response: {type(e).__name__}")
    return e


# ====================================================================== the transport


_contact_by_address = sa.select(wa_contacts).where(sa.or_(
    wa_contacts.c.address == sa.bindparam("a"), wa_contacts.c.bsuid == sa.bindparam("a"),
    wa_contacts.c.wa_id == sa.bindparam("a"))).limit(1)


_contacts_by_ids = sa.select(wa_contacts).where(sa.or_(
    wa_contacts.c.bsuid == sa.bindparam("b"), wa_contacts.c.wa_id == sa.bindparam("w")))


def _touch_newer_stmt(has_bsuid: bool, has_wa_id: bool):
    """_link's fast path: the row the cache names still has these ids and address, and this
    message is newer than its window start and than any close by Meta. Then the full path would
    only move the window, which this does in one statement (rowcount 0: take the full path)."""
    C = wa_contacts.c
    cond = [C.user_key == sa.bindparam("uk"), C.address == sa.bindparam("a"),
            sa.or_(C.last_inbound_at.is_(None), C.last_inbound_at < sa.bindparam("sent")),
            sa.or_(C.window_closed_at.is_(None), C.window_closed_at <= sa.bindparam("sent"))]
    if has_bsuid:
        cond.append(C.bsuid == sa.bindparam("b"))
    if has_wa_id:
        cond.append(C.wa_id == sa.bindparam("w"))
    return sa.update(wa_contacts).where(*cond).values(
        last_inbound_at=sa.bindparam("sent"), template_sent_at=None, window_closed_at=None,
        updated_at=sa.bindparam("now"))


_touch_newer = {(b, w): _touch_newer_stmt(b, w) for b in (False, True) for w in (False, True)}
_claim_held = (sa.update(outbound_messages).where(
    outbound_messages.c.user_key == sa.bindparam("uk"), outbound_messages.c.channel == CHANNEL,
    outbound_messages.c.status == "held",
).values(status="sending", next_attempt_at=sa.bindparam("now"), address=sa.bindparam("addr"),
         attempts=outbound_messages.c.attempts + 1).returning(
    outbound_messages.c.id, outbound_messages.c.channel, outbound_messages.c.address,
    outbound_messages.c.payload, outbound_messages.c.attempts))


@dataclass(slots=True)
class Contact:
    """What the window decisions read of a `wa_contacts` row (the cache holds these)."""
    user_key: str
    bsuid: str | None
    wa_id: str | None
    address: str
    last_inbound_at: datetime | None
    window_closed_at: datetime | None
    template_sent_at: datetime | None


class Windows:
    """In-process cache of contacts by address, BSUID and wa_id, filled when a webhook moves a
    window (`_link`) or Meta closes one (`close_window`). It is trusted only to say "open":
    every "closed" decision (hold, template) reads the database, which stays the truth across
    processes. It saves a read transaction per reply and per inbound message."""

    def __init__(self, size: int = 50_000):
        self.size = size
        self._by: OrderedDict[str, Contact] = OrderedDict()

    def put(self, contact: Contact) -> None:
        for key in {contact.address, contact.bsuid, contact.wa_id} - {None}:
            self._by[key] = contact  # type: ignore[index]
            self._by.move_to_end(key)  # type: ignore[arg-type]
        while len(self._by) > self.size:
            self._by.popitem(last=False)

    def get(self, key: str | None) -> Contact | None:
        return self._by.get(key) if key else None

    def forget(self, *keys: str | None) -> None:
        for k in keys:
            if k:
                self._by.pop(k, None)

    def open_for(self, bsuid: str | None, wa_id: str | None, now: datetime) -> bool:
        c = self.get(bsuid) or self.get(wa_id)
        return c is not None and _open(c, now)


async def claim_held(c, user_key: str, address: str, now: datetime) -> list[dict]:
    """Held replies of this user, claimed for sending (`sending`), in id order, as the rows
    `Outbox.submit` takes: the caller hands them over right after the commit."""
    rows = (await c.execute(_claim_held, {"uk": user_key, "now": now, "addr": address})).all()
    return [dict(id=r.id, channel=r.channel, address=r.address, payload=r.payload,
                 attempts=r.attempts) for r in sorted(rows, key=lambda r: r.id)]


def in_window(last_inbound_at: datetime | None, now: datetime,
              closed_at: datetime | None = None) -> bool:
    """Free text may go out: the user wrote less than 24 hours ago (less a margin), and Meta has
    not told us since that the window is closed."""
    if last_inbound_at is None or (closed_at is not None and closed_at >= last_inbound_at):
        return False
    return now - last_inbound_at < WINDOW - WINDOW_MARGIN


async def requeue_held(c, user_key: str, address: str, now: datetime) -> list[int]:
    """Held replies of this user back to the queue (ids in order: the outbox sends a chat's rows
    in id order, so they go before anything queued later)."""
    O = outbound_messages.c
    return sorted(r[0] for r in await c.execute(
        sa.update(outbound_messages).where(
            O.user_key == user_key, O.channel == CHANNEL, O.status == "held",
        ).values(status="queued", next_attempt_at=now, address=address).returning(O.id)))


def _open(contact, now: datetime) -> bool:
    return contact is not None and in_window(contact.last_inbound_at, now, contact.window_closed_at)


class WhatsAppTransport:
    """What the outbox calls to deliver one reply to a WhatsApp user."""

    channel = CHANNEL

    def __init__(self, api: GraphClient, settings: Settings, db: Database,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.api = api
        self.db = db
        self.clock = clock
        self.rate_global = settings.whatsapp_rate_global
        self.rate_per_chat = settings.whatsapp_rate_per_chat
        self.template_name = settings.whatsapp_template_name
        self.template_language = settings.whatsapp_template_language
        # Set by the channel: queue outbox ids, run a task it waits for on shutdown.
        self.notify: Callable[[list[int]], None] = lambda ids: None
        self.background: Callable[[Any], Any] = asyncio.ensure_future
        self.windows = Windows()  # shared with the channel, which fills it
        # A reply split into several messages: how many went out, so a retry resumes after them.
        self._progress: OrderedDict[tuple[str, str], int] = OrderedDict()

    async def send(self, address: str, payload: dict[str, Any]) -> str | None:
        now = self.clock()
        contact = self.windows.get(address)
        if not _open(contact, now):  # not known to be open here: the database decides
            async with self.db.tx(write=False) as c:
                contact = (await c.execute(_contact_by_address, {"a": address})).first()
        if not _open(contact, now):
            contact = await self._hold(address, contact, now)  # raises SendHeld unless reopened
        to = self._recipient(address, contact)
        messages = render(payload)
        key = (address, hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest())
        done = self._progress.get(key, 0)
        wamid = None
        for i, (typ, obj) in enumerate(messages):
            if i < done:
                continue
            try:
                wamid = await self.api.send(to, typ, obj)
            except WhatsAppError as e:
                if e.code == REENGAGEMENT:  # Meta says the window is closed
                    self._remember(key, i)
                    await self._hold(address, await self.close_window(address, now), now,
                                     reopened_ok=False)
                error = _send_error(e)
                self._remember(key, i)
                raise error from e
            except Exception as e:
                error = _send_error(e)
                if error is e:
                    raise
                self._remember(key, i)
                raise error from e
        self._progress.pop(key, None)
        return wamid

    def _remember(self, key: tuple[str, str], sent: int) -> None:
        if sent:
            self._progress[key] = sent
            self._progress.move_to_end(key)
            while len(self._progress) > 10_000:
                self._progress.popitem(last=False)

    @staticmethod
    def _recipient(address: str, contact) -> dict[str, str | None]:
        """pywa's convention: a BSUID goes in `recipient`, a phone number in `to`. With both known,
        both are sent (the phone number takes precedence at Meta)."""
        if _BSUID.match(address):
            return {"to": contact.wa_id if contact is not None else None, "recipient": address}
        return {"to": address, "recipient": None}

    async def close_window(self, address: str, now: datetime):
        """Meta says the window is closed (131047) although our clock says open: believe Meta,
        so the chat's next messages are held without another round trip. Returns the contact."""
        async with self.db.tx() as c:
            contact = (await c.execute(_contact_by_address, {"a": address})).first()
            if contact is not None and _open(contact, now):
                await c.execute(sa.update(wa_contacts).where(
                    wa_contacts.c.user_key == contact.user_key).values(
                    # whole seconds, like message timestamps: the message that led here is
                    # not after it; a later one, even in the same second, is (see _link)
                    window_closed_at=now.replace(microsecond=0)))
                contact = (await c.execute(_contact_by_address, {"a": address})).first()
        if contact is not None:
            self.windows.forget(contact.address, contact.bsuid, contact.wa_id, address)
        return contact

    async def _hold(self, address: str, contact, now: datetime, *, reopened_ok: bool = True):
        """Outside the window: send the template once per gap, then hold this message (raise
        SendHeld). If the resident wrote meanwhile, return their contact: send after all."""
        sent_at = contact.template_sent_at if contact is not None else None
        # Once per gap: a newer message from the user clears template_sent_at (see _link).
        if sent_at is None:
            template = {"name": self.template_name, "language": {"code": self.template_language}}
            try:
                await self.api.send(self._recipient(address, contact), "template", template)
            except Exception as e:  # noqa: BLE001
                error = _send_error(e)
                if isinstance(error, SendRetry):
                    raise error from e
                log.error("whatsapp: the reply-waiting template was refused (%s); message held",
                          error.reason if isinstance(error, SendFinal) else type(e).__name__)
                raise SendHeld("outside the 24-hour window; template refused") from e
            if contact is not None:
                # Only if the resident has not written meanwhile (their message cleared it).
                last_in = contact.last_inbound_at
                async with self.db.tx() as c:
                    await c.execute(sa.update(wa_contacts).where(
                        wa_contacts.c.user_key == contact.user_key,
                        wa_contacts.c.last_inbound_at.is_(None) if last_in is None
                        else wa_contacts.c.last_inbound_at == last_in,
                    ).values(template_sent_at=now))
            log.info("whatsapp: outside the 24-hour window; template sent, replies held")
        if contact is not None:
            async with self.db.tx(write=False) as c:
                fresh = (await c.execute(_contact_by_address, {"a": address})).first()
            if reopened_ok and _open(fresh, self.clock()):
                return fresh
            # The webhook may re-queue held rows just before the outbox marks this one held:
            # look again once it is marked, so a message is never left behind.
            self.background(self._recheck(contact.user_key))
        raise SendHeld("outside the 24-hour window; held until the user writes")

    async def _recheck(self, user_key: str) -> None:
        """Re-queue held rows if the window is open again (only a message from the resident
        opens it: we held because it was closed) once no row of theirs is being sent."""
        O = outbound_messages.c
        for _ in range(100):
            await asyncio.sleep(0.05)
            now = self.clock()
            async with self.db.tx() as c:
                contact = (await c.execute(sa.select(wa_contacts).where(
                    wa_contacts.c.user_key == user_key))).first()
                if contact is None or not _open(contact, now):
                    return  # still closed: the resident's next message re-queues
                busy = (await c.execute(sa.select(sa.func.count()).where(
                    O.user_key == user_key, O.channel == CHANNEL, O.status == "sending"))).scalar()
                if busy:
                    continue
                ids = await requeue_held(c, user_key, contact.address, now)
            if ids:
                log.info("whatsapp: %d held message(s) re-queued after a race", len(ids))
                self.notify(ids)
            return


# ====================================================================== the channel


Receive = Callable[[Event], Awaitable[bool]]


class WhatsAppChannel:
    """WhatsApp in (webhook) and out (`transport`).

    Lifecycle: construct; `register_routes(app)` before the web app starts; `await start()`;
    ... the web app stops; `await stop_receiving()`; the outbox stops; `await stop()`.
    """

    def __init__(self, settings: Settings, receive: Receive, *, db: Database, outbox,
                 clock: Callable[[], datetime] = utcnow, api: GraphClient | None = None) -> None:
        if not settings.whatsapp_enabled:
            raise ValueError("WHATSAPP_TOKEN, WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_APP_SECRET and "
                             "WHATSAPP_VERIFY_TOKEN must all be set")
        assert settings.whatsapp_app_secret and settings.whatsapp_verify_token
        self.settings = settings
        self.receive = receive
        self.db = db
        self.outbox = outbox
        self.clock = clock
        self.api = api or GraphClient(settings)
        self.transport = WhatsAppTransport(self.api, settings, db, clock)
        self.transport.notify = outbox.notify
        self.transport.background = self._background
        self.windows = self.transport.windows
        self.media_dir = Path(settings.jaring_media_dir)
        self._secret = settings.whatsapp_app_secret.get_secret_value().encode()
        self._verify = settings.whatsapp_verify_token.get_secret_value().encode()
        self._tasks: set[asyncio.Task] = set()
        self._stopping = False

    def register_routes(self, app: web.Application) -> None:
        from web.auth import mark_public

        app.router.add_get(WEBHOOK_PATH, self.handle_verify)
        app.router.add_post(WEBHOOK_PATH, self.handle_webhook)
        mark_public(app, WEBHOOK_PATH)  # authenticated by the verify token / HMAC signature

    async def start(self) -> None:
        """Resume image downloads interrupted by a restart."""
        async with self.db.tx(write=False) as c:
            pending = [r[0] for r in await c.execute(
                sa.select(wa_media.c.media_id).where(wa_media.c.status == "pending"))]
        for media_id in pending:
            self._background(self._download(media_id))
        log.info("whatsapp: webhook at %s, Graph API %s", WEBHOOK_PATH,
                 "override" if self.settings.whatsapp_api_url else "Meta")

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
        if (q.get("hub.mode") == "subscribe" and token is not None and challenge is not None
                and hmac.compare_digest(token.encode("utf-8", "replace"), self._verify)):
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
            return web.Response(status=403, text="Forbidden")
        try:
            delivery = parse_delivery(json.loads(body))
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError):
            # JSONDecodeError, UnicodeDecodeError, BadDelivery, or fields of the wrong JSON type
            return web.Response(status=400, text="Bad Request: not a WhatsApp webhook delivery")
        if delivery.skipped:
            log.info("whatsapp: %d message item(s) without an id or sender skipped", delivery.skipped)
        try:
            await self._store(delivery)
        except Exception as exc:  # noqa: BLE001 - Meta redelivers; the inbox makes that harmless
            log.error("whatsapp: storing a delivery failed (%s)", type(exc).__name__, exc_info=exc)
            return web.Response(status=500, text="Internal Server Error")
        return web.Response(text="ok")

    async def _store(self, delivery: Delivery) -> None:
        for m in delivery.messages:
            if not self.windows.open_for(m.bsuid, m.wa_id, self.clock()):
                await self._settle_in_flight(m, self.clock())
            out: dict[str, Any] = {}
            await self.receive(None, prepare=lambda c, after, m=m, out=out:
                               self._prepare(c, after, m, out))
            if out.get("media"):
                self._background(self._download(out["media"]))
        if delivery.statuses:
            failed = await self._record_statuses(delivery.statuses)
            for wamid in failed:
                self._background(self._reengage(wamid))

    async def _prepare(self, c, after: list, m: Inbound, out: dict[str, Any]) -> Event | None:
        """Inside the inbox transaction (Service.receive's group commit): link the user's ids,
        move the 24 h window, claim held replies (sent right after the commit, so they go before
        the reply to this message), note an image to download, and serve a "Lainnya" tap.
        Returns the event for the inbox (None when handled here). May run twice for one message
        (a failed batch is retried event by event), so it only *sets* `out`."""
        now = self.clock()
        out.clear()
        user_key, address, last_in, closed_at, moved = await self._link(c, m, now)
        if moved and in_window(last_in, now, closed_at):
            rows = await claim_held(c, user_key, address, now)
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
            ref = m.payload["ref"]
            res = await c.execute(insert_ignore(c, wa_media).values(
                media_id=m.media.id, wamid=m.wamid, user_key=user_key, ref=ref,
                status="pending", mime=m.media.mime, sha256=None, attempts=0,
                created_at=now).returning(wa_media.c.media_id))
            if res.first() is not None:
                out["media"] = m.media.id
        return Event(CHANNEL, user_key, m.wamid, m.kind, m.payload, address, None)  # type: ignore[arg-type]

    async def _settle_in_flight(self, m: Inbound, now: datetime, timeout: float = 3.0) -> None:
        """When this message may reopen a closed window, let a send to this resident that is in
        flight finish first: it is about to be held, and held replies must be re-queued before
        the answer to this message exists, to keep their order."""
        C, O = wa_contacts.c, outbound_messages.c
        cond = [C.bsuid == m.bsuid] if m.bsuid else []
        cond += [C.wa_id == m.wa_id] if m.wa_id else []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with self.db.tx(write=False) as c:
                contact = (await c.execute(sa.select(wa_contacts).where(sa.or_(*cond)).limit(1))).first()
                if contact is None or _open(contact, now):
                    return
                busy = (await c.execute(sa.select(sa.func.count()).where(
                    O.user_key == contact.user_key, O.channel == CHANNEL,
                    O.status == "sending"))).scalar()
            if not busy or asyncio.get_running_loop().time() > deadline:
                return
            await asyncio.sleep(0.02)

    async def _link(self, c, m: Inbound, now: datetime
                    ) -> tuple[str, str, datetime | None, datetime | None, bool]:
        """The stable user key for this BSUID / wa_id pair (the first one seen names it; the other
        is linked to it), the address to reply to (BSUID when known), the window start, Meta's
        close, and whether this message may have (re)opened the window (False: it was written in
        the second of the message that set the window, which already re-sent held replies)."""
        C = wa_contacts.c
        address = m.bsuid or m.wa_id
        assert address
        sent = min(m.timestamp, now) if m.timestamp else now
        known = self.windows.get(m.bsuid) or self.windows.get(m.wa_id)
        if (known is not None and known.address == address and known.last_inbound_at is not None
                and sent <= known.last_inbound_at and (not m.bsuid or m.bsuid == known.bsuid)
                and (not m.wa_id or m.wa_id == known.wa_id)):
            # Written in the same second as (or before) the message that set the window: the
            # full path would change nothing that matters (Meta's timestamps are whole seconds,
            # and a resident tapping quickly sends several in one second).
            return known.user_key, address, known.last_inbound_at, known.window_closed_at, False
        if known is not None:  # the common case, one statement: a known user writes again
            res = await c.execute(_touch_newer[(bool(m.bsuid), bool(m.wa_id))], {
                "uk": known.user_key, "a": address, "b": m.bsuid, "w": m.wa_id, "sent": sent,
                "now": now})
            if res.rowcount == 1:
                self.windows.put(Contact(known.user_key, m.bsuid or known.bsuid,
                                         m.wa_id or known.wa_id, address, sent, None, None))
                return known.user_key, address, sent, None, True
        rows = (await c.execute(_contacts_by_ids, {"b": m.bsuid, "w": m.wa_id})).all()
        by_b = next((r for r in rows if m.bsuid and r.bsuid == m.bsuid), None)
        by_w = next((r for r in rows if m.wa_id and r.wa_id == m.wa_id), None)
        row = by_b or by_w
        # The window opens when the user wrote (Meta's timestamp), not when the webhook came:
        # Meta redelivers for days.
        if row is None:
            user_key = f"{CHANNEL}:{address}"
            await c.execute(insert_ignore(c, wa_contacts).values(
                user_key=user_key, bsuid=m.bsuid, wa_id=m.wa_id, address=address,
                last_inbound_at=sent, template_sent_at=None, updated_at=now))
            self.windows.put(Contact(user_key, m.bsuid, m.wa_id, address, sent, None, None))
            return user_key, address, sent, None, True
        if by_b is not None and by_w is not None and by_b.user_key != by_w.user_key:
            await c.execute(sa.update(wa_contacts).where(C.user_key == by_w.user_key)
                            .values(wa_id=None, updated_at=now))
            self.windows.forget(by_w.address, by_w.bsuid, by_w.wa_id)
        values: dict[str, Any] = {"address": address, "updated_at": now}
        if m.bsuid and row.bsuid != m.bsuid:
            values["bsuid"] = m.bsuid
        if m.wa_id and row.wa_id != m.wa_id:
            values["wa_id"] = m.wa_id
        last_in = row.last_inbound_at
        template_sent_at = row.template_sent_at
        if last_in is None or sent > last_in:
            values["last_inbound_at"] = last_in = sent
            values["template_sent_at"] = template_sent_at = None  # the next gap gets its own template
        closed_at = row.window_closed_at
        if closed_at is not None and sent >= closed_at:  # written after Meta closed the window
            values["window_closed_at"] = closed_at = None
        await c.execute(sa.update(wa_contacts).where(C.user_key == row.user_key).values(**values))
        self.windows.put(Contact(row.user_key, values.get("bsuid", row.bsuid),
                                 values.get("wa_id", row.wa_id), address, last_in, closed_at,
                                 template_sent_at))
        return row.user_key, address, last_in, closed_at, True

    async def _more(self, c, m: Inbound, user_key: str, address: str, now: datetime) -> int | None:
        """A "Lainnya" tap: queue the next page of the user's last list. Stored in the inbox as
        done (so a redelivery does nothing). None when there is no such list: the core then
        answers it like any stale button. 0 for a redelivery."""
        O = outbound_messages.c
        recent = (await c.execute(sa.select(O.payload).where(
            O.user_key == user_key, O.channel == CHANNEL).order_by(O.id.desc()).limit(20))).all()
        last = next((r.payload for r in recent if (r.payload or {}).get("choices")), None)
        if last is None or len(last["choices"]) <= LIST_ROWS_MAX:
            return None
        res = await c.execute(insert_ignore(c, inbound_events).values(
            channel=CHANNEL, external_id=m.wamid, user_key=user_key, address=address,
            kind=m.kind, payload=m.payload, locale_hint=None, status="done",
            received_at=now, processed_at=now).returning(inbound_events.c.id))
        row = res.first()
        if row is None:
            return 0
        payload = {**last, "wa_page": m.more_page}
        res = await c.execute(sa.insert(outbound_messages).values(
            channel=CHANNEL, user_key=user_key, address=address, inbound_event_id=row[0],
            payload=payload, status="queued", attempts=0, next_attempt_at=now,
            created_at=now).returning(O.id))
        return res.first()[0]

    async def _record_statuses(self, statuses: list[Status]) -> list[str]:
        """Store sent / delivered / read / failed per wamid; returns wamids that failed because
        the 24-hour window had closed (Meta may accept a send and fail it afterwards)."""
        now = self.clock()
        failed = []
        async with self.db.tx() as c:
            for s in statuses:
                res = await c.execute(insert_ignore(c, wa_statuses).values(
                    wamid=s.wamid, status=s.status, at=s.timestamp, error_code=s.error_code,
                    error_title=s.error_title, received_at=now).returning(wa_statuses.c.id))
                if res.first() is not None and s.status == "failed":
                    log.warning("whatsapp: message %s failed at Meta (code %s)", s.wamid, s.error_code)
                    if s.error_code == REENGAGEMENT:
                        failed.append(s.wamid)
        return failed

    async def _reengage(self, wamid: str) -> None:
        """A sent message failed with 131047: hold it again and send the template."""
        O = outbound_messages.c
        async with self.db.tx() as c:
            row = (await c.execute(sa.update(outbound_messages).where(
                O.external_id == wamid, O.channel == CHANNEL, O.status == "sent").values(
                status="held", last_error="131047: outside the 24-hour window")
                .returning(O.address))).first()
        if row is None:
            return
        now = self.clock()
        try:
            contact = await self.transport.close_window(row.address, now)
            await self.transport._hold(row.address, contact, now, reopened_ok=False)
        except SendHeld:
            pass
        except Exception as exc:  # noqa: BLE001 - the message stays held either way
            log.warning("whatsapp: template after a 131047 failed (%s)", type(exc).__name__)

    # ----------------------------------------------------------------- media

    async def _download(self, media_id: str) -> None:
        """id -> URL -> bytes (with the token), checked and stored as <sha256>.<ext>."""
        delay = 1.0
        for attempt in range(1, MEDIA_ATTEMPTS + 1):
            if self._stopping and attempt > 1:
                return  # still pending: start() resumes it
            try:
                outcome = await self._fetch(media_id)
            except (WhatsAppError, httpx.HTTPError, OSError, _Retry) as e:
                status = getattr(e, "status_code", None)
                final = isinstance(e, WhatsAppError) and status is not None and 400 <= status < 500 \
                    and status != 429
                reason = f"{type(e).__name__} {getattr(e, 'code', '')}".strip()
                if final or attempt == MEDIA_ATTEMPTS:
                    await self._media_done(media_id, "failed", error=reason, attempts=attempt)
                    log.warning("whatsapp: media %s not downloaded (%s)", media_id, reason)
                    return
                await asyncio.sleep(delay)
                delay *= 2
                continue
            await self._media_done(media_id, attempts=attempt, **outcome)
            if outcome["status"] != "stored":
                log.info("whatsapp: media %s rejected (%s)", media_id, outcome["error"])
            return

    async def _fetch(self, media_id: str) -> dict[str, Any]:
        async with self.db.tx(write=False) as c:
            row = (await c.execute(sa.select(wa_media).where(wa_media.c.media_id == media_id))).first()
        info = await self.api.media_info(media_id)
        mime = str(info.get("mime_type") or "").split(";")[0].strip().lower()
        if mime not in MEDIA_TYPES:
            return {"status": "rejected", "error": f"type {mime or 'unknown'} not accepted", "mime": mime[:64]}
        try:
            size = int(info.get("file_size") or 0)
        except (TypeError, ValueError):
            size = 0
        if size > MEDIA_MAX_BYTES:
            return {"status": "rejected", "error": f"{size} bytes is over 5 MB", "mime": mime, "size": size}
        url = info.get("url")
        if not url:
            raise _Retry("no url")
        digest = hashlib.sha256()
        chunks: list[bytes] = []
        total = 0
        async with self.api.media_stream(str(url)) as r:
            if r.status_code >= 500 or r.status_code == 429:
                raise _Retry(f"HTTP {r.status_code}")
            if r.status_code >= 400:
                return {"status": "failed", "error": f"download HTTP {r.status_code}", "mime": mime}
            async for chunk in r.aiter_bytes():
                total += len(chunk)
                if total > MEDIA_MAX_BYTES:
                    return {"status": "rejected", "error": "over 5 MB", "mime": mime, "size": total}
                digest.update(chunk)
                chunks.append(chunk)
        data = b"".join(chunks)
        if not any(data.startswith(m) for m in MEDIA_MAGIC[mime]):
            return {"status": "rejected", "error": f"content is not {mime}", "mime": mime, "size": total}
        sha = digest.hexdigest()
        expected = {_sha256_hex(info.get("sha256"))}  # Meta's hash, from the URL look-up ...
        if row is not None and _HEX64.match(row.ref or ""):
            expected.add(row.ref)  # ... and from the webhook
        if any(e and e != sha for e in expected):
            return {"status": "rejected", "error": "sha256 mismatch", "mime": mime, "size": total}
        # EXIF (GPS position, camera serial, time), XMP and comments never reach the disk; the
        # file is named by the hash of what is stored. The event's ref stays Meta's hash.
        try:
            data = await asyncio.to_thread(clean_image, data, mime)
        except PhotoProblem as e:
            return {"status": "rejected", "error": str(e)[:200], "mime": mime, "size": total}
        sha = hashlib.sha256(data).hexdigest()
        path = self.media_dir / f"{sha}.{MEDIA_TYPES[mime]}"
        await asyncio.to_thread(_write_atomic, path, data)
        return {"status": "stored", "mime": mime, "size": len(data), "sha256": sha, "path": str(path)}

    async def _media_done(self, media_id: str, status: str, *, attempts: int, error: str | None = None,
                          **values) -> None:
        async with self.db.tx() as c:
            await c.execute(sa.update(wa_media).where(wa_media.c.media_id == media_id).values(
                status=status, error=(error or None) and error[:250], attempts=attempts,
                done_at=self.clock(), **values))


class _Retry(Exception):
    pass


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return  # same content (same hash)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
