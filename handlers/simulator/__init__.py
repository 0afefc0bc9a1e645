"""The dashboard's simulator channel ("web"): staff chat as a resident in the browser
(web/simulator.py has the pages). Its transport sends nothing anywhere: it keeps each simulated
resident's recent log in memory (bounded: `MAX_USERS` residents, `MAX_LINES` lines each, least
recently used dropped first). A restart empties the logs; the conversations stay in the database,
labelled by their channel. The pages find it as the outbox's transport of channel "web".

A photo staff upload in the simulator is handled as the other channels' fetchers handle one: the
image is checked, cleaned and stored by core/media.py and recorded in the `media` table (channel
"web", ref = the sha256 of the cleaned file), so a report made in the simulator shows it on the
dashboard like a Telegram or WhatsApp photo."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from core.media import PhotoProblem, store_received
from db import media_store
from handlers.plugin import ChannelPlugin, LocalChannel, Wiring

CHANNEL = "web"
MAX_USERS = 200
MAX_LINES = 200


class WebTransport:
    """The "web" channel: keeps what the bot sends to each simulated resident (in memory)."""

    channel = CHANNEL
    rate_global = 1e9
    rate_per_chat = 1e9

    def __init__(
        self,
        max_users: int = MAX_USERS,
        max_lines: int = MAX_LINES,
        *,
        db=None,
        media_dir: Path | None = None,
        clock: Callable[[], datetime] | None = None,
    ):
        self.max_users, self.max_lines = max_users, max_lines
        self.logs: OrderedDict[str, deque] = OrderedDict()
        self._n = 0
        self._db, self._media_dir, self._clock = db, media_dir, clock

    async def keep_photo(self, user_key: str, data: bytes) -> str:
        """Store an uploaded image as a photo of this simulated resident; its ref (the sha256
        of the cleaned file) for the photo event. Raises PhotoProblem when it is not a JPEG or
        PNG of at most 5 MB that decodes."""
        if self._db is None or self._media_dir is None or self._clock is None:
            raise PhotoProblem("photos are not wired")
        stored = await store_received(self._media_dir, data)
        ref = stored.sha256
        async with self._db.tx() as c:
            if await media_store.claim(
                c, channel=CHANNEL, media_id=ref, ref=ref, user_key=user_key, now=self._clock()
            ):
                await media_store.finish(
                    c,
                    CHANNEL,
                    ref,
                    status="stored",
                    now=self._clock(),
                    attempts=1,
                    mime=stored.mime,
                    size=stored.size,
                    sha256=stored.sha256,
                    path=str(stored.path),
                )
        return ref

    def _log(self, address: str) -> deque:
        log = self.logs.get(address)
        if log is None:
            log = self.logs[address] = deque(maxlen=self.max_lines)
            while len(self.logs) > self.max_users:
                self.logs.popitem(last=False)
        self.logs.move_to_end(address)
        return log

    def add_resident(self, address: str, text: str) -> None:
        self._log(address).append(("resident", {"text": text}))

    def lines(self, address: str) -> list[tuple[str, dict]]:
        return list(self.logs.get(address, ()))

    async def send(self, address: str, payload: dict) -> str | None:
        self._n += 1
        self._log(address).append(("bot", payload))
        return f"web-{self._n}"


def _build(w: Wiring) -> LocalChannel:
    return LocalChannel(
        WebTransport(db=w.db, media_dir=Path(w.settings.jaring_media_dir), clock=w.clock)
    )


# Always on: the simulator is part of the dashboard.
PLUGIN = ChannelPlugin(key=CHANNEL, label="Simulator", enabled=lambda s: True, build=_build)
