"""Photos residents send with a report: check that the bytes are the image they claim to be, and
strip metadata (EXIF with GPS position, camera serial and time; XMP; comments) before storing.

Stripping works on the file's segments (JPEG) or chunks (PNG) and keeps the pixels untouched: no
re-encoding, so no quality loss, and a photo without metadata is stored byte for byte. Only the
EXIF orientation goes with the rest (staff may see a photo turned sideways). Pillow opens the
result to prove it is a decodable image of sane dimensions (a decompression bomb is refused).
"""

from __future__ import annotations

import io
import struct

MAX_PIXELS = 40_000_000  # 40 MP: larger than any phone photo after WhatsApp's compression

# JPEG APPn markers kept: APP0 (JFIF) and APP14 (Adobe colour transform); ICC profiles (APP2)
# are kept too, they describe colours, not the person. Dropped: APP1 (EXIF, XMP), APP3–APP13,
# APP15 and COM (comments).
_KEEP_APP = {0xE0, 0xE2, 0xEE}
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_DROP = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}


class PhotoProblem(ValueError):
    pass


def strip_jpeg(data: bytes) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        raise PhotoProblem("not a JPEG")
    out = bytearray(b"\xff\xd8")
    i = 2
    while i < len(data):
        if data[i] != 0xFF:
            raise PhotoProblem("broken JPEG segment")
        marker = data[i + 1] if i + 1 < len(data) else None
        if marker is None:
            raise PhotoProblem("truncated JPEG")
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA or marker == 0xD9:  # start of scan: the rest is image data
            out += data[i:]
            return bytes(out)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            out += data[i : i + 2]
            i += 2
            continue
        if i + 4 > len(data):
            raise PhotoProblem("truncated JPEG")
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        end = i + 2 + length
        if length < 2 or end > len(data):
            raise PhotoProblem("broken JPEG segment length")
        drop = (0xE0 <= marker <= 0xEF and marker not in _KEEP_APP) or marker == 0xFE
        if not drop:
            out += data[i:end]
        i = end
    raise PhotoProblem("JPEG without image data")


def strip_png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIG):
        raise PhotoProblem("not a PNG")
    out = bytearray(_PNG_SIG)
    i = len(_PNG_SIG)
    while i + 8 <= len(data):
        (length,) = struct.unpack(">I", data[i : i + 4])
        kind = data[i + 4 : i + 8]
        end = i + 12 + length
        if end > len(data):
            raise PhotoProblem("truncated PNG")
        if kind not in _PNG_DROP:
            out += data[i:end]
        i = end
        if kind == b"IEND":
            return bytes(out)
    raise PhotoProblem("PNG without IEND")


def clean_image(data: bytes, mime: str) -> bytes:
    """The photo without metadata; PhotoProblem when it is not a sane JPEG or PNG."""
    from PIL import Image

    if mime == "image/jpeg":
        clean = strip_jpeg(data)
    elif mime == "image/png":
        clean = strip_png(data)
    else:
        raise PhotoProblem(f"type {mime} not accepted")
    try:
        with Image.open(io.BytesIO(clean)) as im:
            if im.format not in ("JPEG", "PNG"):
                raise PhotoProblem("not a JPEG or PNG")
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise PhotoProblem(f"{w}x{h} is too large")
            im.verify()
    except PhotoProblem:
        raise
    except Exception as e:  # noqa: BLE001 - any decoder complaint means "not an image we keep"
        raise PhotoProblem(f"unreadable image ({type(e).__name__})") from None
    return clean
