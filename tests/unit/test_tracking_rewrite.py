"""Link rewriting swaps only trackable web links, per TrackLinks, and keeps every other byte."""

from __future__ import annotations

import pytest

from misiva.domain.enums import TrackLinks
from misiva.tracking.rewrite import ClickLocation, add_open_pixel, is_trackable, rewrite_links
from misiva.tracking.tokens import MAX_LINK_BYTES

# Each tracked link becomes `https://t.test/<location>/<n>?x=1&y=2`; the `&` shows the escaping.
TRACKED = "https://t.test/{location}/{number}?x=1&y=2"

HTML = """<!doctype html>
<html><head><title>Order https://title.test/</title>
<link rel="stylesheet" href="https://fonts.test/css?family=Inter">
<style>a[href="https://style.test/"] { color: red }</style>
<base href="https://base.test/">
</head>
<BODY>
<a class="button"  href="https://shop.test/orders/1?a=1&amp;b=2"   data-x='y'>See your order</a>
<A HREF='https://shop.test/single'>single</A> <a href=https://shop.test/bare>bare</a>
<a href="  https://shop.test/spaced  ">spaced</a>
<map><area shape="rect" coords="0,0,1,1" href="https://shop.test/area"></map>
<img src="https://shop.test/logo.png" alt="logo"><abbr title="https://abbr.test/">x</abbr>
<a href="mailto:help@shop.test">mail</a> <a href="tel:+34600000000">call</a>
<a href="#top">top</a> <a href="/relative">relative</a> <a href="javascript:void(0)">js</a>
<a href="https://shop.test/unsubscribe?u=1">Unsubscribe</a>
<a href="https://shop.test/prefs" data-misiva-notrack>preferences</a>
<a href="https://mail.misiva.test/u/TOKEN">one-click</a>
<a href="{{ order_url }}">raw template</a> <a href="https://shop.test/%7B%7Bid%7D%7D">encoded</a>
<a href="https://shop.test/first" href="https://shop.test/second">twice</a>
<a name="anchor">no href</a>
<!-- <a href="https://comment.test/">commented out</a> -->
<!--[if mso]><a href="https://shop.test/outlook">Outlook button</a><![endif]-->
<script>document.write('<a href="https://script.test/">')</script>
</BODY></html>"""

# (the attribute as written, the link it holds), in document order.
TRACKED_IN_HTML = [
    ('href="https://shop.test/orders/1?a=1&amp;b=2"', "https://shop.test/orders/1?a=1&b=2"),
    ("HREF='https://shop.test/single'", "https://shop.test/single"),
    ("href=https://shop.test/bare", "https://shop.test/bare"),
    ('href="  https://shop.test/spaced  "', "https://shop.test/spaced"),
    ('href="https://shop.test/area"', "https://shop.test/area"),
    ('href="https://shop.test/first"', "https://shop.test/first"),
    ('href="https://shop.test/outlook"', "https://shop.test/outlook"),
]

TEXT = """Hello Jane,

See your order: https://shop.test/orders/1?a=1&b=2.
(Or the store at https://shop.test/store.) Docs: <https://docs.test/a_(b)>
Wiki https://wiki.test/Foo_(bar), then [text](https://md.test/page)!
Write to mailto:help@shop.test or visit www.shop.test; not xhttps://nope.test/ either.
Template leftovers: https://shop.test/{{ id }} and https://shop.test/?u=*|ID|*
Unsubscribe: https://shop.test/unsubscribe?u=1
One-click: https://mail.misiva.test/u/TOKEN
"""

TRACKED_IN_TEXT = [
    "https://shop.test/orders/1?a=1&b=2",
    "https://shop.test/store",
    "https://docs.test/a_(b)",
    "https://wiki.test/Foo_(bar)",
    "https://md.test/page",
]

KEEP = ["<https://mail.misiva.test/u/TOKEN>"]


class Tracker:
    """A make_url that numbers each link it is given and remembers it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, url: str, location: str) -> str:
        self.calls.append((url, location))
        return TRACKED.format(location=location, number=len(self.calls))

    def links(self, location: str) -> list[str]:
        return [url for url, where in self.calls if where == location]


def expected_html(tracker: Tracker) -> str:
    """The HTML with, in order, only each tracked href value replaced by its escaped new URL."""
    expected = HTML
    numbers = [n for n, (_, where) in enumerate(tracker.calls, 1) if where == ClickLocation.HTML]
    for (written, _), number in zip(TRACKED_IN_HTML, numbers, strict=True):
        new = TRACKED.format(location="HTML", number=number).replace("&", "&amp;")
        before, found, after = expected.partition(written)
        assert found, written
        expected = before + written[:5] + '"' + new + '"' + after
    return expected


def expected_text(tracker: Tracker) -> str:
    expected = TEXT
    numbers = [n for n, (_, where) in enumerate(tracker.calls, 1) if where == ClickLocation.TEXT]
    position = 0
    for url, number in zip(TRACKED_IN_TEXT, numbers, strict=True):
        at = expected.index(url, position)
        new = TRACKED.format(location="Text", number=number)
        expected = expected[:at] + new + expected[at + len(url) :]
        position = at + len(new)
    return expected


def test_html_and_text_tracks_web_links_in_both_bodies() -> None:
    tracker = Tracker()

    html, text = rewrite_links(HTML, TEXT, "HtmlAndText", tracker, keep=KEEP)

    assert tracker.links("HTML") == [original for _, original in TRACKED_IN_HTML]
    assert tracker.links("Text") == TRACKED_IN_TEXT
    assert html == expected_html(tracker)
    assert text == expected_text(tracker)


def test_html_only_leaves_the_text_body_alone() -> None:
    tracker = Tracker()

    html, text = rewrite_links(HTML, TEXT, TrackLinks.HTML_ONLY, tracker, keep=KEEP)

    assert text is TEXT
    assert tracker.links("Text") == []
    assert html == expected_html(tracker)


def test_text_only_leaves_the_html_body_alone() -> None:
    tracker = Tracker()

    html, text = rewrite_links(HTML, TEXT, "TextOnly", tracker, keep=KEEP)

    assert html is HTML
    assert tracker.links("HTML") == []
    assert text == expected_text(tracker)


def test_none_tracks_nothing() -> None:
    tracker = Tracker()

    assert rewrite_links(HTML, TEXT, "None", tracker) == (HTML, TEXT)
    assert tracker.calls == []


def test_a_missing_body_stays_missing() -> None:
    tracker = Tracker()

    assert rewrite_links(None, TEXT, "HtmlAndText", tracker, keep=KEEP)[0] is None
    assert rewrite_links(HTML, None, "HtmlAndText", tracker, keep=KEEP)[1] is None


def test_an_unknown_track_links_value_is_an_error() -> None:
    with pytest.raises(ValueError):
        rewrite_links(HTML, TEXT, "Always", Tracker())


def test_the_keep_list_protects_the_list_unsubscribe_target() -> None:
    tracker = Tracker()

    rewrite_links(HTML, TEXT, "HtmlAndText", tracker)  # without keep, it is an ordinary link

    assert ("https://mail.misiva.test/u/TOKEN", "HTML") in tracker.calls
    assert ("https://mail.misiva.test/u/TOKEN", "Text") in tracker.calls


def test_html_without_trackable_links_comes_back_identical() -> None:
    html = '<p>Hi &amp; bye <a href="mailto:a@b.test">a</a> <a href="#x">x</a></p>\r\n'

    assert rewrite_links(html, None, "HtmlOnly", Tracker())[0] == html


def test_a_link_tag_must_be_a_or_area() -> None:
    html = '<abbr href="https://a.test/">x</abbr><a-b href="https://a.test/">y</a-b>'

    assert rewrite_links(html, None, "HtmlOnly", Tracker())[0] == html


def test_markup_inside_another_tags_attribute_is_text() -> None:
    html = """<img alt="<a href='https://a.test/'>" src="x.png"><p title='<area href=https://b.test>'>"""

    assert rewrite_links(html, None, "HtmlOnly", Tracker())[0] == html


@pytest.mark.parametrize(
    ("url", "trackable"),
    [
        ("https://shop.test/", True),
        ("HTTP://SHOP.TEST/Path", True),
        ("https://shop.test/UnSubscribe", False),
        ("https://shop.test/?next={{ url }}", False),
        ("https://shop.test/?next=%7b%25url%25%7d", False),
        ("mailto:a@b.test", False),
        ("tel:+1", False),
        ("#top", False),
        ("ftp://files.test/", False),
        ("https:///nohost", False),
        ("http://[::1", False),
        ("https://kept.test/", False),
        ("https://a.test/\ud800", False),
        ("https://a.test/" + "a" * (MAX_LINK_BYTES - 15), True),
        ("https://a.test/" + "a" * (MAX_LINK_BYTES - 14), False),  # left untracked, not broken
    ],
)
def test_which_links_are_trackable(url: str, trackable: bool) -> None:
    assert is_trackable(url, keep={"https://kept.test/"}) is trackable


def test_the_open_pixel_goes_just_before_the_last_closing_body() -> None:
    html = "<html><body><p>&lt;/body&gt;</p></BODY >\n</html>"

    result = add_open_pixel(html, "https://t.test/o/TOKEN?a=1&b=2")

    pixel = (
        '<img src="https://t.test/o/TOKEN?a=1&amp;b=2" width="1" height="1" alt="" '
        'style="display:none !important;width:1px;height:1px;border:0;margin:0;padding:0">'
    )
    assert result == "<html><body><p>&lt;/body&gt;</p>" + pixel + "</BODY >\n</html>"


def test_the_open_pixel_is_appended_to_a_fragment() -> None:
    result = add_open_pixel("<p>Hi</p>", "https://t.test/o/T")

    assert result.startswith('<p>Hi</p><img src="https://t.test/o/T" width="1" height="1"')


def test_a_link_tag_cut_off_by_the_end_of_the_body_is_left_alone() -> None:
    html = '<p>Hi</p><a href="https://a.test/" title="never closed'

    assert rewrite_links(html, None, "HtmlOnly", Tracker())[0] == html


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "html",
    ["<a " * 100_000, '<a x="' * 100_000, "<a " * 100_000 + '"', "<!--[if -->" * 30_000 + "]"],
)
def test_hostile_markup_is_scanned_in_linear_time(html: str) -> None:
    # A quadratic scan took half a minute on a tenth of this; the timeout is the assertion.
    assert rewrite_links(html, None, "HtmlOnly", Tracker())[0] == html


@pytest.mark.timeout(20)
def test_a_url_followed_by_a_run_of_closers_is_trimmed_in_linear_time() -> None:
    text = "see https://a.test/x" + ")" * 200_000

    tracker = Tracker()
    rewrite_links(None, text, "TextOnly", tracker)

    assert tracker.links("Text") == ["https://a.test/x"]
