"""The starter library's folders are in the `templates pull/push` format, and its HTML keeps the
accessibility basics: a `lang`, alt texts, presentation tables. Format checks only."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from misiva.starter import starter_dir

PLACEHOLDER = "{{{ @content }}}"
LOCALES = ("es", "en")
LAYOUTS = {"basic"}
STANDARD = {
    "welcome-confirm",
    "password-reset",
    "order-confirmation",
    "payment-receipt",
    "invoice",
    "shipping-notice",
    "information-request",
    "donation-receipt",
    "tax-document",
    "unsubscribe-confirmation",
    "subscription-confirm",
    "subscription-welcome",
}
ALIAS = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
OPENING_TAG = r"<{}\b[^>]*>"

ROOT = starter_dir() / "templates"
FOLDERS = sorted(p for p in ROOT.iterdir() if p.is_dir()) if ROOT.is_dir() else []


def meta(folder: Path) -> dict[str, object]:
    return tomllib.loads((folder / "template.toml").read_text(encoding="utf-8"))


def is_layout(folder: Path) -> bool:
    return meta(folder).get("type") == "Layout"


def tags(html: str, name: str) -> list[str]:
    return re.findall(OPENING_TAG.format(name), html, re.I)


def html_bodies() -> list[object]:
    return [
        pytest.param(
            f"{folder.name}/{locale}",
            (folder / locale / "body.html").read_text(encoding="utf-8"),
            id=f"{folder.name}-{locale}",
        )
        for folder in FOLDERS
        for locale in LOCALES
    ]


by_folder = pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
by_html = pytest.mark.parametrize(("where", "html"), html_bodies())


def test_the_library_holds_the_layout_and_every_lifecycle_template() -> None:
    assert {p.name for p in FOLDERS} == LAYOUTS | STANDARD
    assert {p.name for p in FOLDERS if is_layout(p)} == LAYOUTS


@by_folder
def test_template_toml_names_the_folder_its_type_and_layout(folder: Path) -> None:
    data = meta(folder)
    assert data.keys() <= {"name", "alias", "type", "layout"}
    assert isinstance(data.get("name"), str) and data["name"]
    assert data.get("alias") == folder.name
    assert ALIAS.match(folder.name)
    assert data.get("type") in {"Standard", "Layout"}
    if data["type"] == "Layout":
        assert "layout" not in data
    else:
        assert data.get("layout") in LAYOUTS
        assert (ROOT / str(data["layout"]) / "template.toml").is_file()


@by_folder
def test_each_locale_has_its_parts_and_nothing_else(folder: Path) -> None:
    expected = {"body.html", "body.txt"}
    if not is_layout(folder):
        expected.add("subject.txt")
    locales = {p.name for p in folder.iterdir() if p.is_dir()}
    assert locales == set(LOCALES)
    for locale in LOCALES:
        assert {p.name for p in (folder / locale).iterdir()} == expected
        for name in expected:
            assert (folder / locale / name).read_text(encoding="utf-8").strip(), (locale, name)


@by_folder
def test_standard_templates_have_a_json_test_model_and_layouts_do_not(folder: Path) -> None:
    model_file = folder / "test-model.json"
    if is_layout(folder):
        assert not model_file.exists()
        return
    model = json.loads(model_file.read_text(encoding="utf-8"))
    assert isinstance(model, dict) and model
    # The platform fills these namespaces; a model must not shadow them.
    assert not model.keys() & {"contact", "server", "message"}


@by_folder
def test_subjects_are_one_short_line(folder: Path) -> None:
    if is_layout(folder):
        return
    for locale in LOCALES:
        subject = (folder / locale / "subject.txt").read_text(encoding="utf-8").strip()
        assert "\n" not in subject
        assert len(subject) <= 120


@by_folder
def test_the_content_placeholder_is_in_layouts_once_and_never_in_templates(folder: Path) -> None:
    for locale in LOCALES:
        for name in ("body.html", "body.txt"):
            source = (folder / locale / name).read_text(encoding="utf-8")
            assert source.count(PLACEHOLDER) == (1 if is_layout(folder) else 0), (locale, name)


@by_folder
def test_layouts_are_complete_responsive_documents(folder: Path) -> None:
    if not is_layout(folder):
        return
    for locale in LOCALES:
        html = (folder / locale / "body.html").read_text(encoding="utf-8")
        (opening,) = tags(html, "html")
        assert re.search(r'\blang="[^"]+"', opening)
        assert f"'{locale}'" in opening  # the variant's own language is the fallback
        assert re.search(r"<meta charset=", html, re.I)
        assert re.search(r'<meta name="viewport"', html, re.I)
        assert re.search(r"<title>.+</title>", html, re.I)
        assert re.search(r"@media \(max-width: ?600px\)", html)
        assert "max-width:600px" in html.replace(" ", "")


@by_html
def test_every_image_has_alt_text(where: str, html: str) -> None:
    for img in tags(html, "img"):
        assert re.search(r'\balt="[^"]+"', img), (where, img)


@by_html
def test_layout_tables_are_presentation_tables_and_data_tables_have_headers(
    where: str, html: str
) -> None:
    # Comments hold Outlook's ghost tables; they are layout tables too.
    for table in tags(html, "table"):
        if 'class="data-table"' in table:
            assert 'role="presentation"' not in table, where
            continue
        assert 'role="presentation"' in table, (where, table)
        assert 'cellpadding="0"' in table and 'cellspacing="0"' in table, (where, table)
    if 'class="data-table"' in html:
        assert re.search(r'<th scope="(?:col|row)"', html), where


@by_html
def test_html_needs_no_scripts_external_fonts_or_unescaped_output(where: str, html: str) -> None:
    assert not tags(html, "script"), where
    assert not tags(html, "link"), where
    assert "@import" not in html, where
    assert not re.search(r"\|\s*safe\b", html), where


@by_html
def test_buttons_and_links_have_text_that_makes_sense_alone(where: str, html: str) -> None:
    for text in re.findall(r"<a\b[^>]*>(.*?)</a>", html, re.S):
        # A printed value ({{ confirm_url }}) is text; statements ({% if %}) are not.
        shown = re.sub(r"{{.*?}}", " value ", re.sub(r"<[^>]+>|{%.*?%}", " ", text, flags=re.S))
        words = shown.split()
        lowered = " ".join(words).lower()
        assert lowered not in {"", "aquí", "here", "click here", "haz clic aquí", "pincha aquí"}, (
            where,
            text,
        )


@by_folder
def test_text_bodies_are_plain_text(folder: Path) -> None:
    for locale in LOCALES:
        text = (folder / locale / "body.txt").read_text(encoding="utf-8")
        assert not re.search(r"</?[a-zA-Z][^>]*>", text), locale
        # Links stand on their own line, so that every mail reader makes them clickable.
        for line in text.splitlines():
            if "_url }}" in line or ".url }}" in line:
                assert line.strip().startswith("{{"), (locale, line)
