"""The open-tracking pixel: a 1x1 transparent GIF and the headers that keep it from caching."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# The smallest well-formed GIF89a that every client renders: a 1x1 logical screen, a
# two-colour table, a graphic control extension marking colour 0 transparent, one image of
# one pixel (LZW, minimum code size 2) and the trailer. 43 bytes.
TRANSPARENT_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00"  # header, 1x1 screen, global colour table of 2
    b"\x00\x00\x00\xff\xff\xff"  # black, white
    b"\x21\xf9\x04\x01\x00\x00\x00\x00"  # graphic control: colour 0 is transparent
    b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00"  # image descriptor at 0,0, 1x1
    b"\x02\x02\x44\x01\x00"  # LZW minimum code size 2, one data block, end of data
    b"\x3b"  # trailer
)
CONTENT_TYPE = "image/gif"

# Every open must reach us to be counted: no cache may answer in our place (RFC 9111 §5.2.2).
# Image proxies (Gmail's) cache regardless, which is why their repeat opens are not seen.
NO_CACHE_HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "Cache-Control": "no-cache, no-store, must-revalidate, private, max-age=0",
        "Pragma": "no-cache",
        "Expires": "0",
    }
)
