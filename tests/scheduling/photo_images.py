"""Images for the timetable-photo tests, made with Pillow (nothing shipped as binary files)."""

import io
import struct
import zlib

from PIL import Image, ImageDraw

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def timetable(size=(640, 480), mode="RGB") -> Image.Image:
    image = Image.new(mode, size, "white")
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 90):
        draw.line([(x, 0), (x, size[1])], fill="black")
    draw.text((10, 10), "Mon  Linear Algebra  1-16", fill="black")
    return image


def encoded(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def jpeg_with_metadata(size=(300, 200), orientation=6) -> bytes:
    """A camera-like JPEG: GPS position, camera make, a comment, and an orientation tag
    (6 = the picture is to be turned 90° clockwise to be upright)."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (31.0, 14.0, 5.0), 3: "E", 4: (121.0, 28.0, 7.0)})
    return encoded(timetable(size), "JPEG", exif=exif.tobytes(), comment=b"home address, 5th floor")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height (a decompression bomb's first bytes)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )
