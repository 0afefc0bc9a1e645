"""Drive the real core (inbox, engine, outbox) in-process, with a recording transport."""

from __future__ import annotations

import itertools
import tempfile
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot import Runtime
from config import Settings
from core.model import Event

DATA = Path(__file__).parent / "data"
SMALL_CSV = DATA / "dtsen_small.csv"
# From tests/data/dtsen_small.csv: household 1 (desil 2, PKH/BPNT/PBI, children).
NIK_1, KK_1 = "3271051203780002", "3271052301150001"


class RecordingTransport:
    channel = "test"
    rate_global = 1e9
    rate_per_chat = 1e9

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    async def send(self, address: str, payload: dict) -> str:
        self.sent.append((address, payload))
        return str(len(self.sent))


class Clock:
    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


def settings_for(db_url: str, **kw) -> Settings:
    # Each runtime its own upload directory: job files are named by id, per database.
    kw.setdefault("jaring_import_dir", Path(tempfile.mkdtemp(prefix="jaring-imports-")))
    return Settings(_env_file=None, database_url=db_url, telegram_bot_token=None, **kw)


@asynccontextmanager
async def running(db_url: str, *, clock: Clock | None = None, csv: Path | None = SMALL_CSV, **kw):
    rt = Runtime(settings_for(db_url, **kw), clock=clock or Clock())
    if csv is not None:
        from db.dtsen_import import import_dtsen

        report = await import_dtsen(
            rt.db, csv, region=rt.region, programs=rt.programs, data_date=date(2026, 11, 1)
        )
        assert report.imported, report.errors
    transport = RecordingTransport()
    rt.outbox.register(transport)
    rt.transport = transport
    await rt.start(web=False)
    try:
        yield rt
    finally:
        await rt.stop()


_ids = itertools.count(1)


class Chat:
    """One resident. Each call returns the payloads sent to them in response."""

    def __init__(self, rt, user: str = "u1", locale_hint: str | None = "id"):
        self.rt, self.user, self.hint = rt, user, locale_hint
        self.replies: list[dict] = []

    async def _event(self, kind: str, payload: dict, external_id: str | None = None) -> list[dict]:
        ev = Event(
            "test",
            f"test:{self.user}",
            external_id or f"e{next(_ids)}",
            kind,
            payload,
            self.user,
            self.hint,
        )
        before = len(self.rt.transport.sent)
        await self.rt.service.receive(ev)
        await self.rt.service.idle()
        await self.rt.outbox.idle()
        got = [p for a, p in self.rt.transport.sent[before:] if a == self.user]
        self.replies += got
        return got

    async def send(self, text: str, external_id: str | None = None) -> list[dict]:
        if text.startswith("/"):
            cmd, _, args = text[1:].partition(" ")
            return await self._event("command", {"command": cmd, "args": args}, external_id)
        return await self._event("text", {"text": text}, external_id)

    async def tap(self, choice_id: str) -> list[dict]:
        return await self._event("choice", {"id": choice_id})

    @property
    def last(self) -> dict:
        return self.replies[-1]

    @property
    def text(self) -> str:
        return self.last["text"]

    @property
    def choices(self) -> list[str]:
        return [c[0] for c in self.last["choices"]]

    @property
    def labels(self) -> list[str]:
        return [c[1] for c in self.last["choices"]]

    async def onboard(self, locale: str = "id") -> None:
        await self.send("/start")
        await self.tap("c:agree")
        await self.tap(f"l:{locale}")
