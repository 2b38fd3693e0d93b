"""The public subscription pages: whole documents in Spanish and English, the form contracts the
routes read, escaping of every untrusted value, and the brand checks."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, replace
from html import unescape
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path

import pytest

from misiva.pages import Page, PageContext, Topic, page_language, render_page
from misiva.pages.strings import TEXTS

TOPICS = (
    Topic(id="news", name="Novedades", description="Una vez al mes.", subscribed=True),
    Topic(id="offers", name="Ofertas", description=None, subscribed=False),
    Topic(id="events", name="Eventos", description="Talleres y catas.", subscribed=True),
)
FULL = PageContext(
    locale="es",
    brand={
        "company_name": "Olivar",
        "logo_url": "https://olivar.example/logo.png",
        "primary_color": "#0f766e",
        "legal_address": "Calle Mayor 1\n28001 Madrid",
        "support_email": "ayuda@olivar.example",
        "website_url": "https://olivar.example/",
    },
    server_name="olivar-prod",
    email="ana@example.com",
    stream_name="Boletín",
    action_url="https://mail.olivar.example/u/tok123",
    preferences_url="https://mail.olivar.example/p/tok123",
    resubscribe_url="https://mail.olivar.example/r/tok123",
    topics=TOPICS,
    highlight="offers",
)
BARE = PageContext(locale="en", brand={}, server_name="misiva.example")
SCRIPT = "<script>alert(1)</script>"
DEFAULT_PRIMARY = "#1a56db"
TITLES = {
    Page.UNSUBSCRIBE_CONFIRM: "unsubscribe_confirm_title",
    Page.UNSUBSCRIBED: "unsubscribed_title",
    Page.PREFERENCES: "preferences_title",
    Page.PREFERENCES_SAVED: "preferences_saved_title",
    Page.OPT_IN_CONFIRMED: "opt_in_title",
    Page.LINK_INVALID: "link_invalid_title",
    Page.LINK_EXPIRED: "link_expired_title",
}

by_page = pytest.mark.parametrize("page", list(Page), ids=lambda p: p.value)
by_language = pytest.mark.parametrize("language", ["es", "en"])


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""


class Document(HTMLParser):
    """The opening tags of a page with their attributes, and the text of a few elements."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self._open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.elements.append(element)
        if tag in {"title", "h1", "button", "a", "label", "li"}:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1].tag == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def find(self, tag: str, **attrs: str) -> list[Element]:
        return [
            e
            for e in self.elements
            if e.tag == tag and all(e.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]


def parse(html: str) -> Document:
    document = Document()
    document.feed(html)
    document.close()
    return document


def in_language(context: PageContext, language: str) -> PageContext:
    return replace(context, locale=language)


@by_language
@by_page
@pytest.mark.parametrize("context", [FULL, BARE], ids=["full", "bare"])
def test_every_page_is_a_whole_document_in_its_language(
    page: Page, language: str, context: PageContext
) -> None:
    html = render_page(page, in_language(context, language))
    doc = parse(html)

    assert html.startswith("<!doctype html>")
    assert [e.attrs["lang"] for e in doc.find("html")] == [language]
    assert doc.find("meta", charset="utf-8")
    assert doc.find("meta", name="viewport", content="width=device-width, initial-scale=1")
    assert doc.find("meta", name="robots", content="noindex")
    (title,) = doc.find("title")
    (h1,) = doc.find("h1")
    assert h1.text.strip() == TEXTS[language][TITLES[page]]
    assert title.text.startswith(h1.text.strip())
    assert "{{" not in html and "{%" not in html and "{#" not in html
    assert "None" not in html and "«»" not in html and "“”" not in html
    # Self-contained: one inline style sheet, no script, no external style sheet or font.
    assert not doc.find("script") and not doc.find("link")
    assert len(doc.find("style")) == 1
    assert "@import" not in html and "url(" not in html


@by_page
def test_the_texts_of_both_languages_are_complete_and_the_pages_use_their_own(page: Page) -> None:
    assert TEXTS["es"].keys() == TEXTS["en"].keys()
    assert all(text.strip() for texts in TEXTS.values() for text in texts.values())
    # Autoescaping writes an apostrophe as &#39;; the reader sees the text.
    spanish = unescape(render_page(page, in_language(FULL, "es")))
    english = unescape(render_page(page, in_language(FULL, "en")))
    assert TEXTS["es"][TITLES[page]] in spanish and TEXTS["en"][TITLES[page]] not in spanish
    assert TEXTS["en"][TITLES[page]] in english and TEXTS["es"][TITLES[page]] not in english


@pytest.mark.parametrize(
    ("locale", "language"),
    [
        ("es", "es"),
        ("es-MX", "es"),
        ("es_ES", "es"),
        ("ES", "es"),
        (" es-419 ", "es"),
        ("en", "en"),
        ("en_GB", "en"),
        ("fr", "en"),
        ("", "en"),
        ("eu", "en"),
        ("est", "en"),
    ],
)
def test_any_spanish_locale_reads_spanish_and_every_other_english(
    locale: str, language: str
) -> None:
    assert page_language(locale) == language
    html = render_page(Page.LINK_INVALID, replace(BARE, locale=locale))
    assert f'<html lang="{language}">' in html


@by_language
def test_the_unsubscribe_confirmation_posts_the_one_click_body(language: str) -> None:
    doc = parse(render_page(Page.UNSUBSCRIBE_CONFIRM, in_language(FULL, language)))

    (form,) = doc.find("form")
    assert form.attrs == {"method": "post", "action": FULL.action_url}
    assert doc.find("input", type="hidden", name="List-Unsubscribe", value="One-Click")
    (button,) = doc.find("button", type="submit")
    assert button.text == {"es": "Darme de baja", "en": "Unsubscribe"}[language]
    assert doc.find("a", href=FULL.preferences_url)


@by_language
def test_the_preference_centre_has_one_labelled_checkbox_per_topic(language: str) -> None:
    doc = parse(render_page(Page.PREFERENCES, in_language(FULL, language)))

    (form,) = doc.find("form")
    assert form.attrs == {"method": "post", "action": FULL.action_url}
    assert doc.find("input", type="hidden", name="form", value="preferences")
    boxes = doc.find("input", type="checkbox")
    assert [b.attrs["name"] for b in boxes] == ["topic"] * len(TOPICS)
    assert [b.attrs["value"] for b in boxes] == [t.id for t in TOPICS]
    assert ["checked" in b.attrs for b in boxes] == [t.subscribed for t in TOPICS]
    labels = {label.attrs["for"]: label.text for label in doc.find("label")}
    assert [labels[b.attrs["id"]] for b in boxes] == [t.name for t in TOPICS]
    save, all_off = doc.find("button", type="submit")
    assert "name" not in save.attrs
    assert save.text == {"es": "Guardar preferencias", "en": "Save preferences"}[language]
    assert (all_off.attrs["name"], all_off.attrs["value"]) == ("all", "off")
    assert all_off.text == {"es": "Darme de baja de todo", "en": "Unsubscribe from all"}[language]


def test_the_highlighted_topic_is_marked_and_says_what_to_do() -> None:
    doc = parse(render_page(Page.PREFERENCES, FULL))
    marked = doc.find("div", class_="topic is-highlighted")
    assert len(marked) == 1
    offers = doc.find("input", value="offers")[0]
    described = offers.attrs["aria-describedby"]
    assert doc.find("div", id=described)
    assert TEXTS["es"]["highlight_unsubscribed"] in render_page(Page.PREFERENCES, FULL)


def test_a_preference_centre_without_topics_says_there_is_nothing_to_choose() -> None:
    html = render_page(Page.PREFERENCES, replace(FULL, topics=()))
    assert not parse(html).find("input", type="checkbox")
    assert TEXTS["es"]["preferences_empty"] in html


@by_language
def test_saved_preferences_list_each_state_in_words(language: str) -> None:
    doc = parse(render_page(Page.PREFERENCES_SAVED, in_language(FULL, language)))
    texts = TEXTS[language]
    states = [" ".join(item.text.split()) for item in doc.find("li")]
    assert states == [
        f"{t.name} {texts['state_on'] if t.subscribed else texts['state_off']}" for t in TOPICS
    ]
    assert doc.find("a", href=FULL.preferences_url)


def test_unsubscribed_names_the_stream_and_address_and_offers_the_way_back() -> None:
    html = render_page(Page.UNSUBSCRIBED, FULL)
    assert "No volverás a recibir correos de «Boletín» en <strong>ana@example.com</strong>." in html
    doc = parse(html)
    assert doc.find("a", href=FULL.resubscribe_url) and doc.find("a", href=FULL.preferences_url)

    bare = parse(render_page(Page.UNSUBSCRIBED, replace(FULL, resubscribe_url="", email="")))
    assert not bare.find("a", href=FULL.resubscribe_url)
    assert "No volverás a recibir correos de «Boletín»." in render_page(
        Page.UNSUBSCRIBED, replace(FULL, email="")
    )


def test_an_opt_in_confirmed_before_says_so() -> None:
    first = parse(render_page(Page.OPT_IN_CONFIRMED, FULL)).find("h1")[0].text
    again = parse(render_page(Page.OPT_IN_CONFIRMED, replace(FULL, already=True))).find("h1")[0]
    assert first == "¡Suscripción confirmada!"
    assert again.text == TEXTS["es"]["opt_in_already_title"]


@pytest.mark.parametrize("page", [Page.LINK_INVALID, Page.LINK_EXPIRED], ids=lambda p: p.value)
@by_language
def test_refused_links_say_that_nothing_changed(page: Page, language: str) -> None:
    html = unescape(render_page(page, in_language(BARE, language)))
    assert {"es": "No hemos cambiado nada.", "en": "We haven't changed anything."}[language] in html


@by_page
def test_every_untrusted_value_is_escaped(page: Page) -> None:
    hostile = PageContext(
        locale="en",
        brand={
            "company_name": SCRIPT,
            "legal_address": SCRIPT,
            "support_email": f"{SCRIPT}@example.com",
        },
        server_name=SCRIPT,
        email=f"{SCRIPT}@example.com",
        stream_name=SCRIPT,
        action_url=f'/u/"{SCRIPT}',
        preferences_url=f"/p/{SCRIPT}",
        resubscribe_url=f"/r/{SCRIPT}",
        topics=(Topic(id=f'"{SCRIPT}', name=SCRIPT, description=SCRIPT, subscribed=False),),
        highlight=f'"{SCRIPT}',
    )
    html = render_page(page, hostile)
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    assert not parse(html).find("script")


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:x"]
)
def test_urls_other_than_web_links_are_left_out(url: str) -> None:
    context = replace(
        FULL,
        brand={**FULL.brand, "logo_url": url, "website_url": url},
        preferences_url=url,
        resubscribe_url=url,
    )
    for page in Page:
        html = render_page(page, context).lower()
        assert "script:" not in html, page
    doc = parse(render_page(Page.UNSUBSCRIBED, context))
    assert not doc.find("img")
    assert doc.find("span", class_="brand-name")  # without a usable logo, the name shows


@pytest.mark.parametrize(
    "color",
    ["red", "#12345", "#1a56dg", "", "#abcd", "#123456;}</style><script>", "expression(alert(1))"],
)
def test_a_primary_color_that_is_not_a_hex_colour_falls_back(color: str) -> None:
    html = render_page(Page.UNSUBSCRIBED, replace(FULL, brand={"primary_color": color}))
    assert f"--primary: {DEFAULT_PRIMARY};" in html
    if color:
        assert color not in html


@pytest.mark.parametrize(
    ("color", "shown", "on_primary"),
    [("#0F766E", "#0f766e", "#ffffff"), ("#fc0", "#ffcc00", "#000000")],
)
def test_a_hex_primary_color_is_used_with_a_readable_text_colour(
    color: str, shown: str, on_primary: str
) -> None:
    html = render_page(Page.UNSUBSCRIBED, replace(FULL, brand={"primary_color": color}))
    assert f"--primary: {shown};" in html
    assert f"--on-primary: {on_primary};" in html


def test_the_header_shows_the_logo_with_the_brand_name_or_the_name_alone() -> None:
    doc = parse(render_page(Page.UNSUBSCRIBED, FULL))
    (logo,) = doc.find("img")
    assert logo.attrs["alt"] == "Olivar" and logo.attrs["src"] == FULL.brand["logo_url"]
    assert doc.find("a", href="mailto:ayuda@olivar.example")

    bare = render_page(Page.UNSUBSCRIBED, BARE)
    assert "misiva.example" in bare and "<img" not in bare and "<footer>" not in bare


def test_every_page_has_its_template_file() -> None:
    folder = files("misiva.pages") / "templates"
    assert {f"{page.value}.html" for page in Page} <= {p.name for p in folder.iterdir()}


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
def test_a_page_renders_in_chromium_on_a_phone_sized_screen(tmp_path: Path) -> None:
    page = tmp_path / "preferences.html"
    page.write_text(render_page(Page.PREFERENCES, FULL), encoding="utf-8")
    shot = tmp_path / "preferences.png"
    subprocess.run(
        [
            "/usr/bin/chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=390,844",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert shot.read_bytes().startswith(b"\x89PNG")
