"""Photos residents send on Telegram: fetched after the update is stored (getFile, then the
file), checked (JPEG/PNG, <= 5 MB, decodable), metadata stripped and stored by core/media.py,
recorded in the `media` table (db/media_store.py). One attempt; a failure is recorded, not
retried."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from core.media import PHOTO_MAX_BYTES, PhotoProblem, store_received
from db import media_store
from handlers.telegram.botapi import BotApi
from handlers.telegram.parse import CHANNEL

log = logging.getLogger("handlers.telegram")


class PhotoFetcher:
    def __init__(self, api: BotApi, db, media_dir: Path, clock: Callable[[], datetime]) -> None:
        self._api = api
        self._db = db
        self._media_dir = Path(media_dir)
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    def fetch_later(self, file_id: str, user_key: str) -> None:
        """Fetch in the background: the update is already stored and answered."""
        task = asyncio.create_task(self.fetch(file_id, user_key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self, timeout: float | None = None) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout)

    async def fetch(self, file_id: str, user_key: str) -> None:
        async with self._db.tx() as c:
            if not await media_store.claim(
                c,
                channel=CHANNEL,
                media_id=file_id,
                ref=file_id,
                user_key=user_key,
                now=self._clock(),
            ):
                return  # already fetched (the same photo sent again)
        values: dict[str, Any]
        try:
            f = await self._api.call("getFile", {"file_id": file_id}, timeout=30)
            size = f.get("file_size") or 0
            if size > PHOTO_MAX_BYTES:
                raise PhotoProblem(f"{size} bytes is over 5 MB")
            try:
                data = await self._api.download(
                    str(f["file_path"]), limit=PHOTO_MAX_BYTES, timeout=30
                )
            except ValueError:
                raise PhotoProblem("over 5 MB") from None
            stored = await store_received(self._media_dir, data)
            values = dict(
                status="stored", size=stored.size, sha256=stored.sha256, path=str(stored.path)
            )
        except PhotoProblem as e:
            values = dict(status="rejected", error=str(e))
            log.info("telegram: photo rejected (%s)", e)
        except Exception as e:  # noqa: BLE001 - the report keeps the file_id either way
            values = dict(status="failed", error=type(e).__name__)
            log.warning("telegram: photo not fetched (%s)", type(e).__name__)
        async with self._db.tx() as c:
            await media_store.finish(c, CHANNEL, file_id, now=self._clock(), attempts=1, **values)
