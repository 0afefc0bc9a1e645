"""WhatsApp Cloud API channel: one module per job (see channel.py's docstring). The names other
modules and the tests use are re-exported here."""

from handlers.plugin import ChannelPlugin, Wiring
from handlers.whatsapp.channel import (
    SIGNATURE_HEADER,
    WEBHOOK_PATH,
    WhatsAppChannel,
    WhatsAppTransport,
)
from handlers.whatsapp.graph import (
    PAIR_RATE_LIMIT,
    RATE_LIMIT,
    REENGAGEMENT,
    RETRY_CODES,
    GraphClient,
    GraphHTTPError,
    recipient,
    send_error,
)
from handlers.whatsapp.media import MEDIA_ATTEMPTS, MEDIA_MAX_BYTES, MEDIA_TYPES, MediaFetcher
from handlers.whatsapp.parse import (
    CHANNEL,
    BadDelivery,
    Delivery,
    Inbound,
    Media,
    Status,
    parse_delivery,
    signature_ok,
)
from handlers.whatsapp.render import (
    BODY_MAX,
    BUTTON_TITLE_MAX,
    BUTTONS_MAX,
    LIST_BUTTON_MAX,
    LIST_ROWS_MAX,
    MORE_PREFIX,
    PAGE_ROWS,
    ROW_TITLE_MAX,
    TEXT_MAX,
    WORDS,
    render,
    split_pieces,
    words,
)
from handlers.whatsapp.window import (
    WINDOW,
    WINDOW_MARGIN,
    Contact,
    Window,
    Windows,
    in_window,
    is_open,
)


def _build(w: Wiring) -> WhatsAppChannel:
    return WhatsAppChannel(w.settings, w.receive, db=w.db, outbox=w.outbox, clock=w.clock)


PLUGIN = ChannelPlugin(
    key=CHANNEL, label="WhatsApp", enabled=lambda s: s.whatsapp_enabled, build=_build
)

__all__ = [
    "BODY_MAX",
    "BUTTONS_MAX",
    "BUTTON_TITLE_MAX",
    "BadDelivery",
    "CHANNEL",
    "Contact",
    "Delivery",
    "GraphClient",
    "GraphHTTPError",
    "Inbound",
    "LIST_BUTTON_MAX",
    "LIST_ROWS_MAX",
    "MEDIA_ATTEMPTS",
    "MEDIA_MAX_BYTES",
    "MEDIA_TYPES",
    "MORE_PREFIX",
    "Media",
    "MediaFetcher",
    "PAGE_ROWS",
    "PAIR_RATE_LIMIT",
    "PLUGIN",
    "RATE_LIMIT",
    "REENGAGEMENT",
    "RETRY_CODES",
    "ROW_TITLE_MAX",
    "SIGNATURE_HEADER",
    "Status",
    "TEXT_MAX",
    "WEBHOOK_PATH",
    "WINDOW",
    "WINDOW_MARGIN",
    "WORDS",
    "WhatsAppChannel",
    "WhatsAppTransport",
    "Window",
    "Windows",
    "in_window",
    "is_open",
    "parse_delivery",
    "recipient",
    "render",
    "send_error",
    "signature_ok",
    "split_pieces",
    "words",
]
