"""What a log line belongs to, and the two log formats (JARING_LOG_FORMAT=text|json).

The inbox sets the event id and the conversation id (database ids, not a resident's data) while
it processes an event; the outbox sets the outbound row id while it sends one. They live in
contextvars, so each asyncio task carries its own: a send task started while an event was being
processed inherits that event's ids. `ContextFilter` copies them onto every record; both
formatters print them, and both mask every long number (a NIK, a No. KK, a phone number) in the
message and the traceback with domain/masking.py, and cut bot tokens out of URLs, as a last line
of defence (`scrub`): the code logs ids and exception types, never payloads, and this catches
what slips through (aiogram's network errors name the Bot API URL, token included).

The JSON formatter is the standard library's `logging.Formatter` with `json.dumps`: no logging
library is locked in requirements/ (structlog is not installed), and one object per line with a
few fixed keys needs nothing more.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime

from domain.masking import mask_numbers

EVENT_ID: ContextVar[int | None] = ContextVar("jaring_event_id", default=None)
CONVERSATION_ID: ContextVar[int | None] = ContextVar("jaring_conversation_id", default=None)
OUTBOUND_ID: ContextVar[int | None] = ContextVar("jaring_outbound_id", default=None)

FIELDS = ("event_id", "conversation_id", "outbound_id")

# A Telegram bot token in a Bot API URL (aiogram's network errors name the URL it called).
_BOT_TOKEN = re.compile(r"/bot\d+:[A-Za-z0-9_-]+")


def scrub(text: str) -> str:
    """The last line of defence: long numbers masked (domain/masking.py: a NIK keeps its shape
    and region, "3271 05•• •••• 0002"; a phone number "0812****890") and bot tokens cut out of
    URLs."""
    return mask_numbers(_BOT_TOKEN.sub("/bot<token>", text)) if text else text


def set_event(event_id: int | None = None, conversation_id: int | None = None) -> None:
    """The event this task is processing now (None, None: none)."""
    EVENT_ID.set(event_id)
    CONVERSATION_ID.set(conversation_id)


def set_outbound(outbound_id: int | None) -> None:
    """The outbox row this task is sending."""
    OUTBOUND_ID.set(outbound_id)


class ContextFilter(logging.Filter):
    """Puts the current ids on each record (attributes event_id, conversation_id, outbound_id)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.event_id = EVENT_ID.get()
        record.conversation_id = CONVERSATION_ID.get()
        record.outbound_id = OUTBOUND_ID.get()
        return True


def _ids(record: logging.LogRecord) -> dict[str, int]:
    out = {}
    for name in FIELDS:
        value = getattr(record, name, None)
        if value is not None:
            out[name] = value
    return out


class TextFormatter(logging.Formatter):
    """The terminal's format, with the ids in brackets when there are any, masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = _ids(record)
        if ids:
            head, sep, tail = line.partition("\n")  # after the message, before a traceback
            line = head + " [" + " ".join(f"{k}={v}" for k, v in ids.items()) + "]" + sep + tail
        # The line starts with the time, whose digits would read as a long number: masked is
        # what follows it.
        stamp = record.asctime
        return stamp + scrub(line[len(stamp) :])


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC, ISO 8601), level, logger, msg, the ids, and exc (the
    traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        out.update(_ids(record))
        if record.exc_info:
            out["exc"] = scrub(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exc"] = scrub(record.exc_text)
        if record.stack_info:
            out["stack"] = scrub(self.formatStack(record.stack_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def handler(stream, fmt: str = "text") -> logging.Handler:
    """A stream handler in the given format ("text" or "json"), with the ids filter."""
    h = logging.StreamHandler(stream)
    h.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    h.addFilter(ContextFilter())
    return h
