"""Images residents send: after the webhook is answered, media id -> URL -> bytes (with the
token), checked (JPEG/PNG, at most 5 MB, Meta's sha256), cleaned of EXIF/XMP/comments and stored
as <JARING_MEDIA_DIR>/<sha256>.<ext>. The row (pending -> stored | rejected | failed) lives in
db/whatsapp_store.py; a restart resumes the pending ones."""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pywa_async.errors import WhatsAppError

from db import whatsapp_store as store
from db.database import Database
from domain.photos import PhotoProblem, clean_image
from handlers.whatsapp.graph import GraphClient
from handlers.whatsapp.parse import HEX64, sha256_hex

log = logging.getLogger("handlers.whatsapp")

MEDIA_TYPES = {"image/jpeg": "jpg", "image/png": "png"}
MEDIA_MAGIC = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",)}
MEDIA_MAX_BYTES = 5 * 1024 * 1024
MEDIA_ATTEMPTS = 4


class MediaFetcher:
    """Downloads one media id at a time (`download`), with retries; `stopping()` says the channel
    is shutting down (a pending download then waits for the next start)."""

    def __init__(self, db: Database, api: GraphClient, media_dir: Path,
                 clock: Callable[[], datetime], stopping: Callable[[], bool]) -> None:
        self.db = db
        self.api = api
        self.media_dir = media_dir
        self.clock = clock
        self.stopping = stopping

    async def pending(self) -> list[str]:
        """Media ids a restart interrupted."""
        async with self.db.tx(write=False) as c:
            return await store.media_pending(c)

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
                final = isinstance(e, WhatsAppError) and status is not None and 400 <= status < 500 \
                    and status != 429
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
            row = await store.media_get(c, media_id)
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
        expected = {sha256_hex(info.get("sha256"))}  # Meta's hash, from the URL look-up ...
        if row is not None and HEX64.match(row.ref or ""):
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

    async def _done(self, media_id: str, status: str, *, attempts: int, error: str | None = None,
                    **values) -> None:
        async with self.db.tx() as c:
            await store.media_done(c, media_id, status, attempts=attempts, error=error,
                                   now=self.clock(), **values)


class _Retry(Exception):
    pass


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return  # same content (same hash)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
