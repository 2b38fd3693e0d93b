"""Add the open pixel and swap tracked links into a message's bodies, leaving every other byte."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable, Collection
from enum import StrEnum
from urllib.parse import urlsplit

from misiva.domain.enums import TrackLinks
from misiva.tracking.tokens import MAX_LINK_BYTES


class ClickLocation(StrEnum):
    """Which body a click came from: Postmark's ClickLocation values."""

    HTML = "HTML"
    TEXT = "Text"


MakeUrl = Callable[[str, str], str]

# Postmark's TrackLinks modes, as the bodies each one tracks.
_TRACKS_HTML = frozenset({TrackLinks.HTML_AND_TEXT, TrackLinks.HTML_ONLY})
_TRACKS_TEXT = frozenset({TrackLinks.HTML_AND_TEXT, TrackLinks.TEXT_ONLY})

# A link to an unsubscribe page is never wrapped: a redirect through us would count an
# unsubscribe as a click, and mail filters distrust unsubscribe links that bounce elsewhere.
# Misiva's own preference centre (/preferences/TOKEN) is left alone for the same reason.
_UNSUBSCRIBE_MARKERS = ("unsubscribe", "/preferences/")
# Left by a template that was not rendered, or rendered by a later tool (Mailchimp merge tags,
# Jinja, Mustache), raw or percent-encoded: wrapping it would freeze a broken URL in a token.
_TEMPLATE_LEFTOVERS = ("{{", "}}", "{%", "%}", "%7b%7b", "%7d%7d", "%7b%25", "%25%7d", "*|", "|*")
_NO_TRACK_ATTRIBUTE = "data-misiva-notrack"

# Only what can hold a link matters; other tags, comments and raw-text elements are skipped
# whole, since markup inside an attribute, a comment or a script is not markup. An Outlook
# conditional comment (`<!--[if mso]>...<![endif]-->`) is HTML to Outlook, so only its opener
# is skipped and its links are tracked.
# Every alternative that gets past its first characters also matches at the end of the input,
# so no attempt fails after a long scan: a body full of unclosed `<a "` costs linear time, not
# quadratic. A tag cut off by the end of the input (browsers drop it) is not a link.
_HTML_TOKENS = re.compile(
    r"""
      (?P<conditional><!--\[if[^\]>]*\]>)
    | (?P<comment><!--(?:-?>|.*?(?:-->|\Z)))
    | (?P<raw><(?P<raw_name>script|style|textarea|title)(?=[\s/>])
        (?:"[^"]*(?:"|\Z)|'[^']*(?:'|\Z)|[^'">]+)*(?:>.*?(?:</(?P=raw_name)\s*>|\Z)|\Z))
    | (?P<link><(?:a|area)(?=[\s/>])
        (?P<attributes>(?:"[^"]*(?:"|\Z)|'[^']*(?:'|\Z)|[^'">]+)*)(?:(?P<closed>>)|\Z))
    | (?P<tag></?[a-z][^\s/>]*(?:"[^"]*(?:"|\Z)|'[^']*(?:'|\Z)|[^'">]+)*(?:>|\Z))
    """,
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
_ATTRIBUTE = re.compile(
    r"""(?P<name>[^\s"'>/=]+)(?:\s*=\s*(?P<value>"[^"]*"|'[^']*'|[^\s>]+))?""",
)
# A bare web address in plain text ends at white space or at a character that cannot be in a
# URL (RFC 3986 §2); `<https://...>`, the RFC 3986 Appendix C delimiters, stay outside.
_TEXT_URL = re.compile(r"""(?<![\w/.+-])https?://[^\s<>"'`]+""", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?"
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_C0_AND_SPACE = "".join(chr(code) for code in range(0x21))
_PIXEL_STYLE = "display:none !important;width:1px;height:1px;border:0;margin:0;padding:0"
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def add_open_pixel(html: str, pixel_url: str) -> str:
    """`html` with the open pixel just before its last `</body>`, or at its end if it has none.

    At the end the pixel cannot disturb the layout or the preheader; the price is that Gmail,
    which clips an HTML part over 102 KB, never loads it in a clipped message.
    """
    pixel = (
        f'<img src="{htmllib.escape(pixel_url, quote=True)}" width="1" height="1" alt="" '
        f'style="{_PIXEL_STYLE}">'
    )
    ends = list(_BODY_END.finditer(html))
    if not ends:
        return html + pixel
    at = ends[-1].start()
    return html[:at] + pixel + html[at:]


def rewrite_links(
    html: str | None,
    text: str | None,
    track_links: str,
    make_url: MakeUrl,
    *,
    keep: Collection[str] = (),
) -> tuple[str | None, str | None]:
    """The HTML and text bodies with their web links replaced by `make_url(link, location)`.

    `track_links` is Postmark's TrackLinks value (a ValueError if it is not one). Links that
    are not http(s), unsubscribe links, links marked `data-misiva-notrack`, links with template
    syntax left in them and links equal to one in `keep` (the List-Unsubscribe target, say)
    are left as they are, and so is every byte around the links that are replaced.
    """
    mode = TrackLinks(track_links)
    kept = frozenset(link.strip().strip("<>") for link in keep)
    if html is not None and mode in _TRACKS_HTML:
        html = _rewrite_html(html, make_url, kept)
    if text is not None and mode in _TRACKS_TEXT:
        text = _rewrite_text(text, make_url, kept)
    return html, text


def is_trackable(url: str, keep: Collection[str] = ()) -> bool:
    """Whether a link (already entity-decoded) may be wrapped in a tracked redirect."""
    lowered = url.lower()
    if any(marker in lowered for marker in _TEMPLATE_LEFTOVERS + _UNSUBSCRIBE_MARKERS):
        return False
    if url in keep:
        return False
    try:
        too_long = len(url.encode("utf-8")) > MAX_LINK_BYTES
        parts = urlsplit(url)
    except ValueError:  # a lone surrogate, a malformed IPv6 host: not ours to judge, left alone
        return False
    if too_long:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _rewrite_html(html: str, make_url: MakeUrl, keep: frozenset[str]) -> str:
    pieces: list[str] = []
    copied = 0
    for match in _HTML_TOKENS.finditer(html):
        if match.group("closed") is None:
            continue
        span = _href_to_replace(match.group("attributes"), keep)
        if span is None:
            continue
        start = match.start("attributes") + span[0]
        end = match.start("attributes") + span[1]
        original = _attribute_text(html[start:end])
        tracked = make_url(original, ClickLocation.HTML)
        pieces += [html[copied:start], '"', htmllib.escape(tracked, quote=True), '"']
        copied = end
    pieces.append(html[copied:])
    return "".join(pieces)


def _href_to_replace(attributes: str, keep: frozenset[str]) -> tuple[int, int] | None:
    """Where, in a link's attributes, the href value to replace is (quotes included), if any."""
    href: re.Match[str] | None = None
    for attribute in _ATTRIBUTE.finditer(attributes):
        name = attribute.group("name").lower()
        if name == _NO_TRACK_ATTRIBUTE:
            return None
        # As in browsers, the first of two attributes with one name is the one that counts.
        if name == "href" and href is None:
            href = attribute
    if href is None or href.group("value") is None:
        return None
    if not is_trackable(_attribute_text(href.group("value")), keep):
        return None
    return href.start("value"), href.end("value")


def _attribute_text(value: str) -> str:
    """An attribute value as the browser reads it: unquoted, entities decoded, URL trimmed."""
    if value[:1] in ("'", '"'):
        value = value[1:-1]
    # WHATWG URL parsing strips leading and trailing C0 controls and spaces, nothing else.
    return htmllib.unescape(value).strip(_C0_AND_SPACE)


def _rewrite_text(text: str, make_url: MakeUrl, keep: frozenset[str]) -> str:
    pieces: list[str] = []
    copied = 0
    for match in _TEXT_URL.finditer(text):
        url = _trim_url(match.group())
        if not is_trackable(url, keep):
            continue
        pieces += [text[copied : match.start()], make_url(url, ClickLocation.TEXT)]
        copied = match.start() + len(url)
    pieces.append(text[copied:])
    return "".join(pieces)


def _trim_url(url: str) -> str:
    """A URL without the sentence punctuation or unbalanced bracket that follows it in prose."""
    # Counted once, not per character: a run of closers must not cost quadratic time.
    closed = {closer: url.count(closer) for closer in _CLOSERS}
    opened = {closer: url.count(opener) for closer, opener in _CLOSERS.items()}
    end = len(url)
    while end:
        last = url[end - 1]
        if last in _CLOSERS and closed[last] > opened[last]:
            closed[last] -= 1
        elif last not in _TRAILING_PUNCTUATION:
            break
        end -= 1
    return url[:end]
