"""db/media_store.py (one `media` table for every channel) and core/media.py (the one writer)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from core.media import sniff, store_photo, write_atomic
from db import media_store
from tests.test_photos import JPEG_WITH_EXIF

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


async def test_claim_get_pending_finish_and_stored_path(db):
    async with db.tx() as c:
        assert await media_store.claim(
            c, channel="tg", media_id="F1", ref="F1", user_key="tg:1", now=T0
        )
        assert not await media_store.claim(
            c, channel="tg", media_id="F1", ref="F1", user_key="tg:1", now=T0
        )  # the same photo again
        # Another channel may use the same id: the key is (channel, media_id).
        assert await media_store.claim(
            c,
            channel="wa",
            media_id="F1",
            ref="b" * 64,
            user_key="wa:2",
            now=T0,
            message_id="wamid.1",
            mime="image/jpeg",
        )
    async with db.tx(write=False) as c:
        assert await media_store.pending(c, "tg") == ["F1"]
        row = await media_store.get(c, "wa", "F1")
        assert (row.ref, row.message_id, row.mime, row.status, row.attempts) == (
            "b" * 64,
            "wamid.1",
            "image/jpeg",
            "pending",
            0,
        )
        assert await media_store.stored_path(c, "F1") is None
    async with db.tx() as c:
        await media_store.finish(
            c,
            "tg",
            "F1",
            status="stored",
            now=T0,
            attempts=1,
            size=10,
            sha256="a" * 64,
            path="/m/a.jpg",
        )
        await media_store.finish(
            c, "wa", "F1", status="rejected", now=T0, attempts=2, error="x" * 300
        )
    async with db.tx(write=False) as c:
        assert await media_store.pending(c, "tg") == []
        assert await media_store.stored_path(c, "F1") == "/m/a.jpg"
        assert await media_store.stored_path(c, "b" * 64) is None
        wa = await media_store.get(c, "wa", "F1")
        assert (wa.status, wa.mime, len(wa.error), wa.attempts) == (
            "rejected",
            "image/jpeg",
            250,
            2,
        )


async def test_purge_before_keeps_new_rows_and_files_they_share(db):
    old, new = T0, T0 + timedelta(days=400)
    async with db.tx() as c:
        for mid, sha, path, at in (
            ("old1", "s1", "/m/s1.jpg", old),
            ("old2", "s2", "/m/s2.jpg", old),
            ("new2", "s2", "/m/s2.jpg", new),
        ):
            await media_store.claim(c, channel="tg", media_id=mid, ref=mid, user_key="tg:1", now=at)
            await media_store.finish(
                c, "tg", mid, status="stored", now=at, attempts=1, sha256=sha, path=path
            )
    async with db.tx() as c:
        assert await media_store.purge_before(c, old + timedelta(days=1)) == ["/m/s1.jpg"]
    async with db.tx(write=False) as c:
        assert await media_store.get(c, "tg", "old1") is None
        assert await media_store.get(c, "tg", "old2") is None
        assert await media_store.get(c, "tg", "new2") is not None


async def test_store_photo_cleans_and_names_by_hash(tmp_path):
    assert sniff(JPEG_WITH_EXIF) == "image/jpeg" and sniff(b"GIF89a") is None
    stored = await store_photo(tmp_path / "media", JPEG_WITH_EXIF, "image/jpeg")
    data = stored.path.read_bytes()
    assert stored.path.name == f"{hashlib.sha256(data).hexdigest()}.jpg" == f"{stored.sha256}.jpg"
    assert stored.size == len(data) < len(JPEG_WITH_EXIF)
    write_atomic(stored.path, b"other")  # same name, same content: never rewritten
    assert stored.path.read_bytes() == data
    assert [p.name for p in (tmp_path / "media").iterdir()] == [stored.path.name]
