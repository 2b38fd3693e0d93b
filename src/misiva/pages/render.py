"""Render one public subscription page as a whole HTML document, in the reader's language and the
sender's brand."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

# MarkupSafe is Jinja2's own escaping library (a dependency of jinja2, and the Markup type its
# autoescaping works with); we use it to fill trusted sentences with escaped values.
from markupsafe import Markup, escape

from misiva.pages.strings import TEXTS


class Page(StrEnum):
    """The pages a recipient can land on from a subscription link; the value names the template."""

    UNSUBSCRIBE_CONFIRM = "unsubscribe-confirm"
    UNSUBSCRIBED = "unsubscribed"
    PREFERENCES = "preferences"
    PREFERENCES_SAVED = "preferences-saved"
    OPT_IN_CONFIRMED = "opt-in-confirmed"
    LINK_INVALID = "link-invalid"
    LINK_EXPIRED = "link-expired"


@dataclass(frozen=True, slots=True)
class Topic:
    """One subscribable stream as the preference centre shows it."""

    id: str
    name: str
    description: str | None
    subscribed: bool


@dataclass(frozen=True, slots=True)
class PageContext:
    """Everything a page may show; each page uses the fields it needs. All values are untrusted."""

    locale: str
    brand: dict[str, str]
    server_name: str
    email: str = ""
    stream_name: str = ""
    action_url: str = ""
    preferences_url: str = ""
    resubscribe_url: str = ""
    topics: tuple[Topic, ...] = ()
    highlight: str = ""
    already: bool = False


DEFAULT_PRIMARY_COLOR = "#1a56db"
_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
# Browsers ignore ASCII whitespace and control characters inside a URL's scheme ("java\tscript:"),
# so a value holding any is refused rather than parsed.
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")
_SAFE_SCHEMES = frozenset({"", "http", "https"})
# The text colours tried on the primary colour: pure black and white, because between them one
# always reaches WCAG 2 AA's 4.5:1 against any background (the worst case is 4.58:1).
_WHITE = "#ffffff"
_BLACK = "#000000"
# Links and focus rings use the primary colour on white only when it is readable there (AA,
# 4.5:1); a pale brand colour gives way to the body text colour.
_INK = "#111827"
_AA_CONTRAST = 4.5


@dataclass(frozen=True, slots=True)
class _Brand:
    """The brand as the templates see it: checked, defaulted, with the colours derived."""

    name: str
    logo_url: str
    website_url: str
    legal_address: str
    support_email: str
    primary: str
    on_primary: str
    accent: str


def render_page(page: Page, context: PageContext) -> str:
    """The whole HTML document for `page`, in the context's language and brand."""
    language = page_language(context.locale)
    texts = TEXTS[language]
    values: dict[str, Any] = {f.name: getattr(context, f.name) for f in fields(context)}
    values.update(
        lang=language,
        t=SimpleNamespace(**texts),
        brand=_brand(context.brand, context.server_name),
        action_url=_safe_url(context.action_url),
        preferences_url=_safe_url(context.preferences_url),
        resubscribe_url=_safe_url(context.resubscribe_url),
        about=lambda key: _about(texts, key, stream=context.stream_name, email=context.email),
    )
    return _ENV.get_template(f"{page.value}.html").render(values)


def page_language(locale: str) -> str:
    """The language of the page for `locale`: "es" or "en"."""
    # Any Spanish (es, es-MX, es_ES, ES) reads the Spanish page; every other language gets the
    # English one, the more widely read of the two.
    language = locale.strip().replace("_", "-").split("-")[0].lower()
    return "es" if language == "es" else "en"


def _fill(text: str, **values: str | Markup) -> Markup:
    """A trusted sentence with its placeholders filled: plain values are escaped, Markup kept."""
    return Markup(escape(text)).format(**values)


def _strong(value: str) -> Markup:
    return Markup("<strong>{}</strong>").format(value)


def _mailto(address: str) -> Markup:
    return Markup('<a href="mailto:{0}">{0}</a>').format(address)


def _about(texts: Mapping[str, str], key: str, *, stream: str, email: str) -> Markup:
    """The sentence `key` about the stream and the address, in the form the known values allow
    (see strings.py)."""
    if stream and email:
        return _fill(texts[key], stream=stream, email=_strong(email))
    if stream:
        return _fill(texts[f"{key}_stream"], stream=stream)
    return _fill(texts[f"{key}_plain"])


def _brand(brand: Mapping[str, str], server_name: str) -> _Brand:
    """Brand values are typed in by a user: colours and URLs are checked before they reach a
    style sheet or an href, where escaping alone does not make them safe."""
    primary = _primary_color(brand.get("primary_color", ""))
    support = brand.get("support_email", "").strip()
    return _Brand(
        name=brand.get("company_name", "").strip() or server_name,
        logo_url=_safe_url(brand.get("logo_url", "")),
        website_url=_safe_url(brand.get("website_url", "")),
        legal_address=brand.get("legal_address", "").strip(),
        support_email=support if _EMAIL.fullmatch(support) else "",
        primary=primary,
        on_primary=max((_WHITE, _BLACK), key=lambda text: _contrast(primary, text)),
        accent=primary if _contrast(primary, _WHITE) >= _AA_CONTRAST else _INK,
    )


def _primary_color(value: str) -> str:
    """`value` as a lowercase #rrggbb colour, or the default when it is not a CSS hex colour."""
    value = value.strip()
    if not _HEX_COLOR.fullmatch(value):
        return DEFAULT_PRIMARY_COLOR
    if len(value) == 4:
        value = "#" + "".join(digit * 2 for digit in value[1:])
    return value.lower()


def _safe_url(value: str) -> str:
    """`value` when it is an http(s) or relative URL; "" otherwise (javascript:, data:, ...), so
    that the link or image is left out."""
    value = value.strip()
    if _CONTROL_OR_SPACE.search(value):
        return ""
    try:
        scheme = urlsplit(value).scheme
    except ValueError:
        return ""
    return value if scheme in _SAFE_SCHEMES else ""


def _contrast(first: str, second: str) -> float:
    """The WCAG 2 contrast ratio of two #rrggbb colours, from 1 to 21."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _luminance(color: str) -> float:
    """WCAG 2 relative luminance of a #rrggbb colour."""
    channels = (int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# Built once: the parsed templates are cached in it. Every value a page shows comes from a link or
# from a user's brand settings, so every template autoescapes, and a misspelt name fails loudly.
_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters.update(fill=_fill, strong=_strong, mailto=_mailto)
