"""Promo codes without a database: generated codes, CSV imports, finding `promo_code()` calls
in a template and rendering the codes allocated for it."""

from __future__ import annotations

import re

import pytest

from misiva.domain.errors import InvalidRequest
from misiva.domain.promo import generate_codes, parse_codes, parse_csv, pattern_space
from misiva.domain.templates import TemplateContent
from misiva.render import TemplateError, compile_template, render
from misiva.render.promo import PROMO_VAR


def test_generated_codes_are_unique_follow_the_pattern_and_avoid_taken_ones() -> None:
    taken = {"WELCOME-0000-AAAA"}
    codes = generate_codes("WELCOME-####-????", 5_000, taken)
    assert len(codes) == len(set(codes)) == 5_000
    assert all(re.fullmatch(r"WELCOME-\d{4}-[A-HJ-NP-Z]{4}", c) for c in codes)
    assert not taken & set(codes)


def test_a_pattern_too_small_for_the_count_is_refused() -> None:
    assert pattern_space("A-##") == 100
    with pytest.raises(InvalidRequest, match="cannot give 60 distinct codes"):
        generate_codes("A-##", 60)
    with pytest.raises(InvalidRequest, match="not a valid pattern"):
        generate_codes("WELCOME", 1)
    with pytest.raises(InvalidRequest, match="not a valid pattern"):
        generate_codes("BAD CODE ##", 1)


def test_csv_import_keeps_good_rows_and_reports_bad_lines() -> None:
    text = "code,note\nABC-1,first\n\nbad code,x\nABC-2\nABC-1,again\n,empty\n"
    parsed = parse_csv(text)
    assert parsed.codes == ["ABC-1", "ABC-2"]
    assert parsed.errors == [
        (4, "'bad code' is not a valid code"),
        (6, "'ABC-1' appears twice in this import"),
        (7, "'' is not a valid code"),
    ]


def test_json_list_import_is_checked_the_same_way() -> None:
    parsed = parse_codes(["X1", " X2 ", "X1", "!"])
    assert parsed.codes == ["X1", "X2"]
    assert [line for line, _ in parsed.errors] == [3, 4]


def test_promo_code_calls_are_found_before_rendering_and_not_asked_of_the_model() -> None:
    compiled = compile_template(
        TemplateContent(
            subject="{{ promo_code('SUBJ') }}",
            html_body="<p>{% if promo_code('WELCOME10') %}Use {{ promo_code('WELCOME10') }}"
            "{% endif %}</p>",
            text_body="Code: {{ promo_code('TEXT') }}",
        )
    )
    assert compiled.promo_pools == {"SUBJ", "WELCOME10", "TEXT"}
    assert not compiled.required


def test_render_looks_up_the_allocated_code_and_an_omitted_one_drops_the_block() -> None:
    compiled = compile_template(
        TemplateContent(
            subject="Order",
            html_body="<p>{% if promo_code('W') %}Use {{ promo_code('W') }}{% endif %}</p>",
            text_body=None,
        )
    )
    given = render(compiled, {PROMO_VAR: {"W": "W-1234"}}, locale="en")
    assert given.html_body is not None and "Use W-1234" in given.html_body
    omitted = render(compiled, {PROMO_VAR: {"W": ""}}, locale="en")
    assert omitted.html_body is not None and "Use" not in omitted.html_body
    # A preview has no recipient: nothing is allocated, the call shows a sample.
    preview = render(compiled, {}, locale="en")
    assert preview.html_body is not None and "Use W-PREVIEW" in preview.html_body


def test_a_key_that_is_not_a_literal_fails_clearly_at_render() -> None:
    compiled = compile_template(
        TemplateContent(subject="x", html_body="{{ promo_code(pool) }}", text_body=None)
    )
    assert compiled.promo_pools == frozenset()
    with pytest.raises(TemplateError, match="literal"):
        render(compiled, {"pool": "W", PROMO_VAR: {}}, locale="en")
