"""The content lint rules, one function each, run in the order of one explicit table.

Each rule reads a rendered email (what a recipient gets) and the template it came from, and
says what to fix; `lint()` runs them all. Errors block a marketer's publish, warnings never
block (docs/deliverability-content.md says why each rule exists and at which severity).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from misiva.domain.content import LintCode, LintFinding, Severity, StreamUse
from misiva.domain.templates import GMAIL_CLIP_BYTES, RenderedContent, TemplateContent
from misiva.lint import blocks as block_rules
from misiva.lint.html import HtmlFacts, read_html
from misiva.lint.words import FILE_ENDINGS, PROMOTIONAL, SECRET_ENDINGS, SHORTENERS

HTML = "HtmlBody"
TEXT = "TextBody"
# The platform value a commercial footer needs (render.model.PLATFORM_VALUES).
UNSUBSCRIBE_VARIABLE = "unsubscribe_url"
# An HTML body with images and less text than this is images-only to a filter: SpamAssassin's
# HTML_IMAGE_ONLY_* rules count up to 400 bytes of words; under 50 characters there is none.
IMAGES_ONLY_ERROR_CHARS = 50
IMAGES_ONLY_WARNING_CHARS = 400
# Promotion "dominates" at 3 phrases or more and 2 or more per 100 words: an order
# confirmation with one "free shipping" line passes, a newsletter of offers does not.
PROMOTIONAL_MIN_HITS = 3
PROMOTIONAL_PER_100_WORDS = 2.0

_URL_TEXT = re.compile(
    r"^(?:https?://)?(?:www\.)?((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+([a-z]{2,63}))\.?"
    r"(?::\d+)?(?:[/?#]\S*)?$",
    re.IGNORECASE,
)
_PROMOTIONAL = re.compile(
    r"\d+\s?% off|" + "|".join(rf"\b{re.escape(p)}\b" for p in PROMOTIONAL if p != "% off"),
    re.IGNORECASE,
)


def _no_line(_path: str) -> tuple[str | None, int | None]:
    return None, None


@dataclass(frozen=True, slots=True)
class LintInput:
    """One rendered locale variant, and what is known of the template behind it."""

    rendered: RenderedContent
    source: TemplateContent  # the author's variant: where lines are counted
    variables: frozenset[str]  # dotted paths the template (with its layout) reads
    use: StreamUse = StreamUse.UNKNOWN
    # Where a variable is first read (part, line): authoring knows the template's lines.
    locate_variable: Callable[[str], tuple[str | None, int | None]] = field(default=_no_line)
    # The stream's commercial-content policy: the largest share of text content blocks take.
    max_block_share: float = block_rules.DEFAULT_MAX_BLOCK_SHARE


@dataclass(frozen=True, slots=True)
class _Facts:
    given: LintInput
    html: HtmlFacts


Rule = Callable[[_Facts], Iterator[LintFinding]]


def lint(given: LintInput) -> tuple[LintFinding, ...]:
    """Every finding of every rule; errors first, each group in the table's order."""
    facts = _Facts(given, read_html(given.rendered.html_body or ""))
    found = [finding for rule in RULES for finding in rule(facts)]
    return tuple(sorted(found, key=lambda f: f.severity is not Severity.ERROR))


def _text_missing(facts: _Facts) -> Iterator[LintFinding]:
    rendered = facts.given.rendered
    if rendered.html_body is not None and not (rendered.text_body or "").strip():
        yield LintFinding(
            LintCode.TEXT_MISSING,
            Severity.ERROR,
            "The email has no plain-text part: some readers and filters need one (an "
            "HTML-only message scores as spam). Write a TextBody.",
            TEXT,
        )


def _text_derived(facts: _Facts) -> Iterator[LintFinding]:
    given = facts.given
    if given.rendered.html_body is not None and given.source.text_body is None:
        yield LintFinding(
            LintCode.TEXT_DERIVED,
            Severity.WARNING,
            "No TextBody of its own: Misiva derives the plain-text part from the HTML. Read it "
            "in the preview, or write one.",
            TEXT,
        )


def _alt_missing(facts: _Facts) -> Iterator[LintFinding]:
    for image in facts.html.images:
        if image.alt is None:
            line = _source_line(facts.given.source, image.tag, "src", image.src)
            yield LintFinding(
                LintCode.ALT_MISSING,
                Severity.WARNING,
                f"The image {_short(image.src)} has no alt text: readers who block images, "
                'and screen readers, get nothing (alt="" marks a decorative one).',
                HTML,
                line,
            )


def _images_only(facts: _Facts) -> Iterator[LintFinding]:
    images, text = facts.html.images, facts.html.text
    if not images or len(text) >= IMAGES_ONLY_WARNING_CHARS:
        return
    error = len(text) < IMAGES_ONLY_ERROR_CHARS
    yield LintFinding(
        LintCode.IMAGES_ONLY,
        Severity.ERROR if error else Severity.WARNING,
        f"The HTML shows {len(images)} image(s) and only {len(text)} characters of text: "
        "filters score mail that is mostly images as spam, and readers who block images "
        "see nothing. Put the message in text.",
        HTML,
    )


def _html_clipped(facts: _Facts) -> Iterator[LintFinding]:
    size = len((facts.given.rendered.html_body or "").encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        yield LintFinding(
            LintCode.HTML_CLIPPED,
            Severity.ERROR,
            f"The HTML is {size:,} bytes: Gmail clips it after {GMAIL_CLIP_BYTES:,} (102 KB) "
            "and hides the rest, often the footer and its unsubscribe link.",
            HTML,
        )


def _links(facts: _Facts) -> Iterator[LintFinding]:
    """Plain-HTTP links, shortened links, and links whose text shows another site."""
    source = facts.given.source
    for link in facts.html.links:
        parts = urlsplit(link.href)
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        if scheme not in ("http", "https"):
            continue
        line = _source_line(source, link.tag, "href", link.href)
        if scheme == "http":
            yield LintFinding(
                LintCode.LINK_INSECURE,
                Severity.WARNING,
                f"The link {_short(link.href)} uses plain HTTP: use https://, which readers "
                "and filters trust.",
                HTML,
                line,
            )
        if _bare(host) in SHORTENERS:
            yield LintFinding(
                LintCode.LINK_SHORTENER,
                Severity.ERROR,
                f"The link {_short(link.href)} goes through the URL shortener {host}: "
                "shorteners hide the target and are on spam blocklists. Link to the page itself.",
                HTML,
                line,
            )
        shown = _shown_domain(link.text)
        if shown and host and not _same_site(shown, host):
            yield LintFinding(
                LintCode.LINK_TEXT_MISMATCH,
                Severity.ERROR,
                f"A link shows {shown} but goes to {host}: that is how phishing looks, and "
                "filters treat it so. Show the address the link goes to.",
                HTML,
                line,
            )


def _unsubscribe_missing(facts: _Facts) -> Iterator[LintFinding]:
    use = facts.given.use
    if use is StreamUse.TRANSACTIONAL or UNSUBSCRIBE_VARIABLE in facts.given.variables:
        return
    commercial = use is StreamUse.COMMERCIAL
    when = "On this Broadcasts stream" if commercial else "If sent on a Broadcasts stream"
    yield LintFinding(
        LintCode.UNSUBSCRIBE_MISSING,
        Severity.ERROR if commercial else Severity.WARNING,
        f"{when}, the email needs an unsubscribe link: add {{{{ unsubscribe_url }}}} (or use a "
        "layout whose footer has it). Commercial mail without one breaks the law (CAN-SPAM, "
        "GDPR/LSSI) and Gmail's and Yahoo's sender rules.",
    )


def _password_variable(facts: _Facts) -> Iterator[LintFinding]:
    for path in sorted(facts.given.variables):
        leaf = path.rsplit(".", 1)[-1].replace("[]", "")
        name = leaf.lower().replace("_", "").replace("-", "")
        if name.endswith(SECRET_ENDINGS):
            part, line = facts.given.locate_variable(path)
            yield LintFinding(
                LintCode.PASSWORD_VARIABLE,
                Severity.ERROR,
                f"The variable {path} looks like a password or secret: email is stored in "
                "many places and forwarded; send a link that sets it (such as a reset link) "
                "instead.",
                part,
                line,
            )


def _promotional(facts: _Facts) -> Iterator[LintFinding]:
    given = facts.given
    if given.use is StreamUse.COMMERCIAL:
        return
    text = facts.html.text if given.rendered.html_body else (given.rendered.text_body or "")
    text = f"{given.rendered.subject} {text}"
    hits = [m.group(0).lower() for m in _PROMOTIONAL.finditer(text)]
    words = max(1, len(text.split()))
    per_100 = 100 * len(hits) / words
    if len(hits) < PROMOTIONAL_MIN_HITS or per_100 < PROMOTIONAL_PER_100_WORDS:
        return
    examples = ", ".join(f"“{h}”" for h in dict.fromkeys(hits)) if hits else ""
    yield LintFinding(
        LintCode.PROMOTIONAL_CONTENT,
        Severity.WARNING,
        f"If sent on a transactional stream: {len(hits)} promotional phrases in {words} "
        f"words ({examples}). A guess from words, not a verdict: mail whose main purpose is "
        "to sell is commercial and belongs on a Broadcasts stream, with consent and an "
        "unsubscribe link. Keep offers a small part of a transactional email.",
    )


RULES: tuple[Rule, ...] = (
    _text_missing,
    _text_derived,
    _alt_missing,
    _images_only,
    _html_clipped,
    _links,
    _unsubscribe_missing,
    _password_variable,
    _promotional,
    lambda facts: block_rules.placement(facts.given.source, facts.given.use),
    lambda facts: block_rules.share(
        facts.given.rendered.html_body, facts.given.use, facts.given.max_block_share
    ),
)


def _source_line(source: TemplateContent, tag: str, attribute: str, value: str) -> int | None:
    """The line of the author's HTML holding this tag, or failing that its attribute's value
    as written; None when it is not there as such (it came from a layout, MJML, a variable)."""
    html = source.html_body
    if not html:
        return None
    for needle in (tag, f'{attribute}="{value}"', f"{attribute}='{value}'"):
        at = html.find(needle) if needle and value else -1
        if at >= 0:
            return html.count("\n", 0, at) + 1
    return None


def _shown_domain(text: str) -> str | None:
    """The host a link's text shows when the text is an address (`shop.example/orders`,
    `https://www.shop.example`); None for words, and for file names like invoice.pdf."""
    match = _URL_TEXT.match(text.strip())
    if match is None or match.group(2).lower() in FILE_ENDINGS:
        return None
    return match.group(1).lower()


def _bare(host: str) -> str:
    return host.removeprefix("www.")


def _same_site(shown: str, host: str) -> bool:
    a, b = _bare(shown), _bare(host)
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def _short(url: str, limit: int = 60) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"
