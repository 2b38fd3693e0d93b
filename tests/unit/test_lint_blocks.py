"""Service first: content blocks after the transactional content, and a bounded share of it."""

from __future__ import annotations

from misiva.domain.content import LintCode, Severity, StreamUse
from misiva.domain.templates import RenderedContent, TemplateContent
from misiva.lint import blocks as lint_blocks
from misiva.lint.rules import LintInput, lint
from misiva.render import blocks as render_blocks

RECEIPT = "<p>Your order A-1 is confirmed. It ships on Monday to Calle Mayor 1, Madrid.</p>"


def _codes(html: str, rendered_html: str, use: StreamUse, **kw: float) -> dict[LintCode, Severity]:
    given = LintInput(
        rendered=RenderedContent(
            subject="Order A-1", html_body=rendered_html, text_body="Order", locale="en"
        ),
        source=TemplateContent(subject="Order", html_body=html, text_body="Order"),
        variables=frozenset(),
        use=use,
        **kw,  # type: ignore[arg-type]
    )
    return {
        f.code: f.severity
        for f in lint(given)
        if f.code in {LintCode.BLOCK_BEFORE_CONTENT, LintCode.BLOCK_SHARE}
    }


def test_a_slot_before_the_transactional_content_is_flagged() -> None:
    first = "{{ block('cross_sell') }}" + RECEIPT
    after = RECEIPT + "{{ block('cross_sell') }}"
    assert _codes(first, RECEIPT, StreamUse.TRANSACTIONAL) == {
        LintCode.BLOCK_BEFORE_CONTENT: Severity.ERROR
    }
    assert _codes(first, RECEIPT, StreamUse.UNKNOWN) == {
        LintCode.BLOCK_BEFORE_CONTENT: Severity.WARNING
    }
    assert _codes(first, RECEIPT, StreamUse.COMMERCIAL) == {}
    assert _codes(after, RECEIPT, StreamUse.TRANSACTIONAL) == {}


def test_a_filled_block_that_takes_too_much_of_the_message_is_flagged() -> None:
    template = RECEIPT + "{{ block('cross_sell') }}"
    offer = "<p>" + "Buy our new coffee mugs, two for one this week only! " * 3 + "</p>"
    big = RECEIPT + render_blocks.BLOCK_START + offer + render_blocks.BLOCK_END
    small = RECEIPT + render_blocks.BLOCK_START + "<p>Mugs 2x1</p>" + render_blocks.BLOCK_END
    assert _codes(template, big, StreamUse.TRANSACTIONAL) == {LintCode.BLOCK_SHARE: Severity.ERROR}
    assert _codes(template, small, StreamUse.TRANSACTIONAL) == {}
    # The stream's policy sets the bound; a Broadcasts stream has none.
    assert _codes(template, big, StreamUse.TRANSACTIONAL, max_block_share=0.9) == {}
    assert _codes(template, big, StreamUse.COMMERCIAL) == {}


def test_render_and_lint_agree_on_the_block_markers() -> None:
    assert render_blocks.BLOCK_START == lint_blocks.BLOCK_START
    assert render_blocks.BLOCK_END == lint_blocks.BLOCK_END
