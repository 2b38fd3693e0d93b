"""The open pixel is the 43-byte, 1x1, fully transparent GIF that every mail client renders."""

from __future__ import annotations

import struct

from misiva.tracking.pixel import CONTENT_TYPE, NO_CACHE_HEADERS, TRANSPARENT_GIF


def test_the_pixel_is_a_43_byte_one_by_one_gif89a() -> None:
    assert len(TRANSPARENT_GIF) == 43
    assert TRANSPARENT_GIF[:6] == b"GIF89a"
    assert struct.unpack("<HH", TRANSPARENT_GIF[6:10]) == (1, 1)
    assert TRANSPARENT_GIF[-1:] == b";"
    assert CONTENT_TYPE == "image/gif"


def test_the_pixel_has_no_visible_colour() -> None:
    extension = TRANSPARENT_GIF.index(b"\x21\xf9\x04")
    flags, _delay, transparent_index = struct.unpack(
        "<BHB", TRANSPARENT_GIF[extension + 3 : extension + 7]
    )
    image = TRANSPARENT_GIF.index(b"\x2c", extension + 8)

    assert flags & 1  # the transparency flag
    assert transparent_index == 0
    assert struct.unpack("<HHHH", TRANSPARENT_GIF[image + 1 : image + 9]) == (0, 0, 1, 1)


def test_no_cache_may_answer_for_the_pixel() -> None:
    assert "no-store" in NO_CACHE_HEADERS["Cache-Control"]
