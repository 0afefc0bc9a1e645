"""Storing the images residents send: checked, cleaned (domain/photos.py strips EXIF, XMP and
comments), and written once under the media directory as <sha256>.<ext> by one atomic writer.
Which rows say so is db/media_store.py; fetching the bytes is the channel's job."""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from domain.photos import PhotoProblem, clean_image

PHOTO_MAX_BYTES = 5 * 1024 * 1024
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}
MAGIC = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",)}

__all__ = [
    "EXTENSIONS",
    "MAGIC",
    "PHOTO_MAX_BYTES",
    "PhotoProblem",
    "StoredPhoto",
    "sniff",
    "store_photo",
    "store_received",
    "write_atomic",
]


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    sha256: str  # of the cleaned file
    path: Path
    size: int
    mime: str


def sniff(data: bytes) -> str | None:
    """ "image/jpeg" or "image/png" from the first bytes, else None."""
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


async def store_photo(media_dir: Path, data: bytes, mime: str) -> StoredPhoto:
    """Clean the image (raises PhotoProblem when it is not a decodable JPEG/PNG) and write it as
    <media_dir>/<sha256 of the cleaned bytes>.<ext>, off the event loop."""
    data = await asyncio.to_thread(clean_image, data, mime)
    sha = hashlib.sha256(data).hexdigest()
    path = Path(media_dir) / f"{sha}.{EXTENSIONS[mime]}"
    await asyncio.to_thread(write_atomic, path, data)
    return StoredPhoto(sha, path, len(data), mime)


async def store_received(media_dir: Path, data: bytes) -> StoredPhoto:
    """Bytes a resident sent, of a type the channel did not tell: at most PHOTO_MAX_BYTES, a
    JPEG or PNG by its first bytes, then `store_photo`. Raises PhotoProblem otherwise."""
    if len(data) > PHOTO_MAX_BYTES:
        raise PhotoProblem("over 5 MB")
    mime = sniff(data)
    if mime is None:
        raise PhotoProblem("not a JPEG or PNG")
    return await store_photo(media_dir, data, mime)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a content-addressed file once: an existing file has the same content (same hash).
    A temporary file and a rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
