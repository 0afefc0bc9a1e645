"""Images residents send: after the webhook is answered, media id -> URL -> bytes (with the
token), checked (JPEG/PNG, at most 5 MB, Meta's sha256), cleaned of EXIF/XMP/comments and stored
as <JARING_MEDIA_DIR>/<sha256>.<ext>. The row (pending -> stored | rejected | failed) lives in
db/media_store.py (table `media`, shared by every channel); a restart resumes the pending ones."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pywa_async.errors import WhatsAppError

from core.media import EXTENSIONS as MEDIA_TYPES
from core.media import MAGIC as MEDIA_MAGIC
from core.media import PHOTO_MAX_BYTES as MEDIA_MAX_BYTES
from core.media import PhotoProblem, store_photo
from db import media_store
from db.database import Database
from handlers.whatsapp.graph import GraphClient
from handlers.whatsapp.parse import CHANNEL, HEX64, sha256_hex

log = logging.getLogger("handlers.whatsapp")

MEDIA_ATTEMPTS = 4


class MediaFetcher:
    """Downloads one media id at a time (`download`), with retries; `stopping()` says the channel
    is shutting down (a pending download then waits for the next start)."""

    def __init__(
        self,
        db: Database,
        api: GraphClient,
        media_dir: Path,
        clock: Callable[[], datetime],
        stopping: Callable[[], bool],
    ) -> None:
        self.db = db
        self.api = api
        self.media_dir = media_dir
        self.clock = clock
        self.stopping = stopping

    async def pending(self) -> list[str]:
        """Media ids a restart interrupted."""
        async with self.db.tx(write=False) as c:
            return await media_store.pending(c, CHANNEL)

    async def download(self, media_id: str) -> None:
        """id -> URL -> bytes (with the token), checked and stored as <sha256>.<ext>."""
        delay = 1.0
        for attempt in range(1, MEDIA_ATTEMPTS + 1):
            if self.stopping() and attempt > 1:
                return  # still pending: start() resumes it
            try:
                outcome = await self._fetch(media_id)
            except (WhatsAppError, httpx.HTTPError, OSError, _Retry) as e:
                status = getattr(e, "status_code", None)
                final = (
                    isinstance(e, WhatsAppError)
                    and status is not None
                    and 400 <= status < 500
                    and status != 429
                )
                reason = f"{type(e).__name__} {getattr(e, 'code', '')}".strip()
                if final or attempt == MEDIA_ATTEMPTS:
                    await self._done(media_id, "failed", error=reason, attempts=attempt)
                    log.warning("whatsapp: media %s not downloaded (%s)", media_id, reason)
                    return
                await asyncio.sleep(delay)
                delay *= 2
                continue
            await self._done(media_id, attempts=attempt, **outcome)
            if outcome["status"] != "stored":
                log.info("whatsapp: media %s rejected (%s)", media_id, outcome["error"])
            return

    async def _fetch(self, media_id: str) -> dict[str, Any]:
        async with self.db.tx(write=False) as c:
            row = await media_store.get(c, CHANNEL, media_id)
        info = await self.api.media_info(media_id)
        mime = str(info.get("mime_type") or "").split(";")[0].strip().lower()
        if mime not in MEDIA_TYPES:
            return {
                "status": "rejected",
                "error": f"type {mime or 'unknown'} not accepted",
                "mime": mime[:64],
            }
        try:
            size = int(info.get("file_size") or 0)
        except (TypeError, ValueError):
            size = 0
        if size > MEDIA_MAX_BYTES:
            return {
                "status": "rejected",
                "error": f"{size} bytes is over 5 MB",
                "mime": mime,
                "size": size,
            }
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
            return {
                "status": "rejected",
                "error": f"content is not {mime}",
                "mime": mime,
                "size": total,
            }
        sha = digest.hexdigest()
        expected = {sha256_hex(info.get("sha256"))}  # Meta's hash, from the URL look-up ...
        if row is not None and HEX64.match(row.ref or ""):
            expected.add(row.ref)  # ... and from the webhook
        if any(e and e != sha for e in expected):
            return {"status": "rejected", "error": "sha256 mismatch", "mime": mime, "size": total}
        # EXIF (GPS position, camera serial, time), XMP and comments never reach the disk; the
        # file is named by the hash of what is stored. The event's ref stays Meta's hash.
        try:
            stored = await store_photo(self.media_dir, data, mime)
        except PhotoProblem as e:
            return {"status": "rejected", "error": str(e)[:200], "mime": mime, "size": total}
        return {
            "status": "stored",
            "mime": mime,
            "size": stored.size,
            "sha256": stored.sha256,
            "path": str(stored.path),
        }

    async def _done(
        self, media_id: str, status: str, *, attempts: int, error: str | None = None, **values
    ) -> None:
        async with self.db.tx() as c:
            await media_store.finish(
                c,
                CHANNEL,
                media_id,
                status=status,
                now=self.clock(),
                attempts=attempts,
                error=error,
                **values,
            )


class _Retry(Exception):
    pass
