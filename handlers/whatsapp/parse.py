"""Webhook delivery JSON -> `Inbound` messages and `Status`es, and the signature check.

The webhook is parsed here from the raw JSON: pywa's update types require `contacts[].user_id`,
run handlers before the 200, dedupe in memory only and ignore `hub.mode` (README, "WhatsApp").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.model import SHARE_CONTACT
from handlers.whatsapp.render import MORE_PREFIX

CHANNEL = "wa"

BSUID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]+\Z")  # a business-scoped user id
HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z")
# The longest wamid, BSUID (with "wa:"), media id the database keeps; the longest phone number.
ID_MAX = 128
WA_ID_MAX = 32


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
    if not isinstance(wamid, str) or not wamid or len(wamid) > ID_MAX:
        return None
    sender = msg.get("from")
    sender = str(sender) if sender not in (None, "") else None
    contact = _contact_for(msg, sender, contacts)
    bsuid = (contact.get("user_id") if contact else None) or msg.get("from_user_id")
    wa_id = (contact.get("wa_id") if contact else None) or (
        sender if sender and sender.isdigit() else None
    )
    if sender and not wa_id and BSUID.match(sender):  # "from" may carry the BSUID for usernames
        bsuid = bsuid or sender
    bsuid = str(bsuid) if bsuid else None
    wa_id = str(wa_id) if wa_id else None
    if not bsuid and not wa_id:
        return None
    if (bsuid and len(bsuid) > ID_MAX - 8) or (wa_id and len(wa_id) > WA_ID_MAX):
        return None  # not Meta's: the ids would not fit the database
    if "group_id" in msg:  # group chats: replies about a household must not go to a group
        return None
    kind, payload, media, page = _content(msg)
    if kind == "choice" and payload.get("id") == SHARE_CONTACT and wa_id:
        # "Share my number": the number they write from, which Meta vouches for; they have not
        # seen it in the button, so the flow shows it (masked) and asks them to confirm.
        kind, payload = "contact", {"phone": wa_id, "own": True, "seen": False}
    elif kind == "contacts":
        kind, payload = "contact", _shared_card(msg, wa_id)
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
            page = cid[len(MORE_PREFIX) :] if cid.startswith(MORE_PREFIX) else ""
            if page.isascii() and page.isdigit() and len(page) <= 4:  # never "²", never 10**99
                return "choice", {"id": cid}, None, int(page)
            return "choice", {"id": cid}, None, None
        return "other", {"type": f"interactive:{itype or 'unknown'}"}, None, None
    if typ == "button":  # a template's quick-reply button
        if body.get("payload"):
            return "choice", {"id": str(body["payload"])}, None, None
        return "text", {"text": str(body.get("text", ""))}, None, None
    if typ == "location":
        try:
            lat, lon = float(body["latitude"]), float(body["longitude"])
        except (KeyError, TypeError, ValueError, OverflowError):
            return "other", {"type": "location"}, None, None
        if not (abs(lat) <= 90 and abs(lon) <= 180):  # also NaN: JSON cannot store it
            return "other", {"type": "location"}, None, None
        return "location", {"lat": lat, "lon": lon}, None, None
    if typ == "image" and body.get("id") and len(str(body["id"])) <= ID_MAX:
        mime = body.get("mime_type")
        mime = mime[:64] if isinstance(mime, str) else None
        media = Media(str(body["id"]), mime, sha256_hex(body.get("sha256")))
        ref = media.sha256 or f"wa-media:{media.id}"
        return "photo", {"ref": ref}, media, None
    if typ == "contacts":
        return "contacts", {}, None, None
    return "other", {"type": typ}, None, None


def _shared_card(msg: dict, wa_id: str | None) -> dict[str, Any]:
    """A contact card sent in the chat: accepted only when it is the sender's own (one of its
    phones carries the sender's wa_id); someone else's number is never kept."""
    cards = msg.get("contacts")
    for card in cards if isinstance(cards, list) else []:
        phones = card.get("phones") if isinstance(card, dict) else None
        for ph in phones if isinstance(phones, list) else []:
            if wa_id and isinstance(ph, dict) and str(ph.get("wa_id") or "") == wa_id:
                return {"phone": wa_id, "own": True, "seen": True}
    return {"own": False}


def _status(st: dict) -> Status:
    errors = st.get("errors")
    err = errors[0] if isinstance(errors, list) and errors else None
    code = title = None
    if isinstance(err, dict):
        try:
            code = int(err.get("code"))
        except (TypeError, ValueError, OverflowError):
            code = None
        if code is not None and not -(2**31) <= code < 2**31:  # an INTEGER column
            code = None
        title = str(err.get("title") or err.get("message") or "")[:250] or None
    return Status(
        str(st["id"])[:ID_MAX], str(st["status"])[:16], _ts(st.get("timestamp")), code, title
    )


def _ts(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def sha256_hex(value: Any) -> str | None:
    """Meta's media hash as lower-case hex (it may come as hex or as base64)."""
    if not isinstance(value, str) or not value:
        return None
    if HEX64.match(value):
        return value.lower()
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=False)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def signature_ok(body: bytes, header: str, app_secret: bytes) -> bool:
    """X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256 of the raw body, compared in constant
    time."""
    given = header.strip()
    if given[:7].lower() == "sha256=":
        given = given[7:]
    want = hmac.new(app_secret, body, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(given.lower().encode("utf-8", "replace"), want)
