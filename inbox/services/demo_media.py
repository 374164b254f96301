"""The demo's one photo, drawn here: Kenji's screenshot of a crash dialog, as a PNG made with zlib alone.

The demo is seeded straight into the inbox (before the quick start connects its account to the X sandbox),
so no copy from X is ever scheduled for it, and X's address it carries is not one the sandbox serves. The
demo stores this picture as the attachment's file instead, so the photo shows like any copied DM photo.
"""

from __future__ import annotations

import struct
import zlib

WIDTH, HEIGHT = 390, 844
Colour = tuple[int, int, int]
BACKGROUND: Colour = (243, 244, 246)
APP_BAR: Colour = (29, 78, 216)
CARD: Colour = (255, 255, 255)
ALERT: Colour = (220, 38, 38)
TEXT: Colour = (156, 163, 175)

# (top, bottom, left, right, colour): later boxes are drawn over earlier ones.
_BOXES: tuple[tuple[int, int, int, int, Colour], ...] = (
    (0, 72, 0, WIDTH, APP_BAR),
    (300, 560, 32, WIDTH - 32, CARD),
    (300, 352, 32, WIDTH - 32, ALERT),
    (380, 392, 56, WIDTH - 56, TEXT),
    (408, 420, 56, WIDTH - 120, TEXT),
    (436, 448, 56, WIDTH - 90, TEXT),
    (496, 536, WIDTH - 160, WIDTH - 56, APP_BAR),
)


def _row(y: int) -> bytes:
    pixels = [BACKGROUND] * WIDTH
    for top, bottom, left, right, colour in _BOXES:
        if top <= y < bottom:
            pixels[left:right] = [colour] * (right - left)
    return b"\x00" + b"".join(bytes(p) for p in pixels)  # filter type 0 for each scanline


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def crash_screenshot_png() -> bytes:
    """A 390×844 PNG: an app bar and a red-titled error dialog on a grey screen."""
    raw = b"".join(_row(y) for y in range(HEIGHT))
    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)  # 8-bit RGB
    chunks = _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks
