"""What the lint rules need to know of an HTML body, read once with the stdlib's HTML parser:
its images, its links and the text a reader sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

# Elements whose content is never shown as text.
_HIDDEN = frozenset({"script", "style", "head", "title", "template", "noscript"})


@dataclass(frozen=True, slots=True)
class Image:
    src: str
    alt: str | None  # None: no alt attribute at all
    tag: str  # the start tag as written, to find it in the author's source
    line: int  # in the parsed HTML


@dataclass(frozen=True, slots=True)
class Link:
    href: str
    text: str  # the visible text inside the <a>, spaces collapsed
    tag: str
    line: int


@dataclass(frozen=True, slots=True)
class HtmlFacts:
    images: tuple[Image, ...] = ()
    links: tuple[Link, ...] = ()
    text: str = ""  # all visible text, spaces collapsed
    words: tuple[str, ...] = field(default=())


def read_html(html: str) -> HtmlFacts:
    parser = _Reader()
    parser.feed(html)
    parser.close()
    text = " ".join(" ".join(parser.chunks).split())
    return HtmlFacts(tuple(parser.images), tuple(parser.links), text, tuple(text.split()))


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[Image] = []
        self.links: list[Link] = []
        self.chunks: list[str] = []
        self._hidden = 0
        # The open <a>: its href, start tag, line, and the text seen inside it so far.
        self._link: tuple[str, str, int, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        line = self.getpos()[0]
        written = self.get_starttag_text() or ""
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag == "img":
            # `<img alt>` is an empty alt, as alt="" is: a decorative image.
            alt = (values["alt"] or "") if "alt" in values else None
            self.images.append(Image(values.get("src") or "", alt, written, line))
            if self._link is not None and alt:
                # An image inside a link stands for the link's text (its alt is read aloud).
                self._link[3].append(alt)
        elif tag == "a" and values.get("href"):
            self._close_link()
            self._link = (values.get("href") or "", written, line, [])

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "a":
            self._close_link()

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        self.chunks.append(data)
        if self._link is not None:
            self._link[3].append(data)

    def close(self) -> None:
        super().close()
        self._close_link()

    def _close_link(self) -> None:
        if self._link is not None:
            href, written, line, parts = self._link
            self.links.append(Link(href.strip(), " ".join(" ".join(parts).split()), written, line))
            self._link = None
