"""Photos sent with a report: type checked, metadata (EXIF GPS, camera, comments) stripped
without re-encoding, a photo without metadata stored byte for byte."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from domain.photos import PhotoProblem, clean_image

DATA = Path(__file__).parent / "data"
# 64x48 images with EXIF (camera make, firmware, a GPS position in Bogor) and a JPEG comment.
JPEG_WITH_EXIF = (DATA / "photo_exif.jpg").read_bytes()
PNG_WITH_EXIF = (DATA / "photo_exif.png").read_bytes()


@pytest.mark.parametrize(
    "data,mime", [(JPEG_WITH_EXIF, "image/jpeg"), (PNG_WITH_EXIF, "image/png")]
)
def test_metadata_is_stripped_and_the_pixels_stay(data, mime):
    with Image.open(io.BytesIO(data)) as before:
        assert before.getexif()  # the fixture really carries EXIF with a GPS block
        pixels = before.convert("RGB").tobytes()
    clean = clean_image(data, mime)
    assert b"KameraMerk" not in clean and b"rahasia" not in clean
    with Image.open(io.BytesIO(clean)) as after:
        assert not after.getexif()
        assert after.convert("RGB").tobytes() == pixels  # not re-encoded


def test_a_photo_without_metadata_is_kept_byte_for_byte():
    plain = (DATA / "wa" / "image.jpg").read_bytes()
    assert clean_image(plain, "image/jpeg") == plain


@pytest.mark.parametrize(
    "data,mime",
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\0" * 100, "image/jpeg"),  # a header, no image
        (b"GIF89a....", "image/jpeg"),
        (PNG_WITH_EXIF[:60], "image/png"),
        (JPEG_WITH_EXIF, "image/gif"),
    ],
)
def test_what_is_not_a_sane_jpeg_or_png_is_refused(data, mime):
    with pytest.raises(PhotoProblem):
        clean_image(data, mime)


def test_a_decompression_bomb_is_refused(monkeypatch):
    import domain.photos

    monkeypatch.setattr(domain.photos, "MAX_PIXELS", 1000)
    with pytest.raises(PhotoProblem, match="too large"):
        clean_image(JPEG_WITH_EXIF, "image/jpeg")
