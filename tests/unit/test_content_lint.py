"""Each content lint rule, on small rendered emails: what it finds, at which severity, where."""

from __future__ import annotations

from misiva.domain.content import LintCode, LintFinding, Severity, StreamUse
from misiva.domain.templates import GMAIL_CLIP_BYTES, RenderedContent, TemplateContent
from misiva.lint.html import read_html
from misiva.lint.rules import LintInput, lint

TEXT = "Hello Ana,\n\nYour order 1042 is on its way.\n"
PARAGRAPH = "<p>Hello Ana, your order 1042 is on its way. It should arrive on Thursday.</p>"


def check(
    html: str | None = PARAGRAPH,
    text: str | None = TEXT,
    *,
    subject: str = "Your order is on its way",
    authored_text: bool = True,
    variables: frozenset[str] = frozenset({"unsubscribe_url"}),
    use: StreamUse = StreamUse.UNKNOWN,
) -> list[LintFinding]:
    rendered = RenderedContent(subject=subject, html_body=html, text_body=text)
    source = TemplateContent(
        subject=subject, html_body=html, text_body=text if authored_text else None
    )
    return list(lint(LintInput(rendered, source, variables, use)))


def codes(findings: list[LintFinding]) -> dict[LintCode, Severity]:
    return {f.code: f.severity for f in findings}


def test_a_plain_clean_email_has_no_findings() -> None:
    assert check() == []


def test_an_html_email_without_text_is_an_error_and_a_derived_one_a_warning() -> None:
    assert codes(check(text=None, authored_text=False)) == {
        LintCode.TEXT_MISSING: Severity.ERROR,
        LintCode.TEXT_DERIVED: Severity.WARNING,
    }
    assert codes(check(text="  \n", authored_text=True)) == {LintCode.TEXT_MISSING: Severity.ERROR}
    assert codes(check(authored_text=False)) == {LintCode.TEXT_DERIVED: Severity.WARNING}


def test_an_image_without_alt_is_found_on_its_line_and_an_empty_alt_is_decorative() -> None:
    text = PARAGRAPH * 6  # enough words not to be mostly images
    html = f'{text}\n<p>\n<img src="https://shop.example/logo.png" width="80">\n</p>'
    [finding] = check(html)
    assert finding.code is LintCode.ALT_MISSING and finding.severity is Severity.WARNING
    assert (finding.part, finding.line) == ("HtmlBody", 3)
    assert "logo.png" in finding.message
    assert check(f'{text}<img src="x.png" alt="">') == []
    assert check(f'{text}<img src="x.png" alt>') == []


def test_images_with_no_text_are_an_error_and_with_little_text_a_warning() -> None:
    image = '<img src="https://shop.example/offer.jpg" alt="Offer">'
    assert codes(check(image * 3)) == {LintCode.IMAGES_ONLY: Severity.ERROR}
    assert codes(check(image + PARAGRAPH)) == {LintCode.IMAGES_ONLY: Severity.WARNING}
    assert check(image + PARAGRAPH * 6) == []


def test_html_over_102_kb_is_clipped_by_gmail() -> None:
    html = PARAGRAPH * (GMAIL_CLIP_BYTES // len(PARAGRAPH) + 1)
    [finding] = check(html)
    assert finding.code is LintCode.HTML_CLIPPED and finding.severity is Severity.ERROR
    assert check(PARAGRAPH * (GMAIL_CLIP_BYTES // len(PARAGRAPH) - 1)) == []


def test_a_plain_http_link_is_a_warning() -> None:
    html = f'{PARAGRAPH}<a href="http://shop.example/orders/1042">Your order</a>'
    [finding] = check(html)
    assert finding.code is LintCode.LINK_INSECURE and finding.severity is Severity.WARNING
    assert finding.line == 1


def test_links_through_url_shorteners_are_errors() -> None:
    for url in (
        "https://bit.ly/3xYz",
        "https://tinyurl.com/abc",
        "http://t.co/x",
        "https://www.ow.ly/a",
    ):
        found = codes(check(f'{PARAGRAPH}<a href="{url}">Track it</a>'))
        assert found[LintCode.LINK_SHORTENER] is Severity.ERROR, url
    assert check(f'{PARAGRAPH}<a href="https://shop.example/bit.ly">Track it</a>') == []


def test_a_link_whose_text_shows_another_domain_is_an_error() -> None:
    html = f'{PARAGRAPH}<a href="https://login.evil.example/x">https://www.paypal.com/signin</a>'
    [finding] = check(html)
    assert finding.code is LintCode.LINK_TEXT_MISMATCH and finding.severity is Severity.ERROR
    assert "paypal.com" in finding.message and "login.evil.example" in finding.message
    same_site = (
        '<a href="https://www.shop.example/orders">shop.example/orders</a>',
        '<a href="https://shop.example/o">https://help.shop.example</a>',
        '<a href="https://shop.example/invoice.pdf">invoice.pdf</a>',
        '<a href="mailto:help@other.example">help@other.example</a>',
        '<a href="https://shop.example/o">See your order</a>',
    )
    for link in same_site:
        assert check(PARAGRAPH + link) == [], link


def test_a_template_without_unsubscribe_warns_and_on_a_broadcasts_stream_errs() -> None:
    assert codes(check(variables=frozenset())) == {LintCode.UNSUBSCRIBE_MISSING: Severity.WARNING}
    assert "If sent on a Broadcasts stream" in check(variables=frozenset())[0].message
    on_broadcasts = check(variables=frozenset(), use=StreamUse.COMMERCIAL)
    assert codes(on_broadcasts) == {LintCode.UNSUBSCRIBE_MISSING: Severity.ERROR}
    assert check(variables=frozenset(), use=StreamUse.TRANSACTIONAL) == []


def test_password_like_variables_are_errors_located_where_they_are_read() -> None:
    variables = frozenset(
        {"unsubscribe_url", "user.temporaryPassword", "api.client_secret", "new_pwd",
         "password_reset_url", "secret_santa_date", "order.lines[].name"}
    )  # fmt: skip
    rendered = RenderedContent("Welcome", PARAGRAPH, TEXT)
    source = TemplateContent("Welcome", PARAGRAPH, TEXT)
    found = lint(
        LintInput(rendered, source, variables, locate_variable=lambda path: ("TextBody", 7))
    )
    flagged = sorted(f.message.split()[2] for f in found)
    assert flagged == ["api.client_secret", "new_pwd", "user.temporaryPassword"]
    assert all(f.severity is Severity.ERROR and f.line == 7 for f in found)


def test_promotion_dominating_a_transactional_email_is_a_modest_warning() -> None:
    offers = (
        "<p>Big SALE: 50% off everything! Limited time deal. Use the coupon SAVE20 for free "
        "shipping. Shop now, don't miss our exclusive offer.</p>"
    )
    [finding] = check(PARAGRAPH + offers)
    assert finding.code is LintCode.PROMOTIONAL_CONTENT and finding.severity is Severity.WARNING
    assert "50% off" in finding.message and "A guess from words" in finding.message
    assert check(PARAGRAPH + offers, use=StreamUse.COMMERCIAL) == []
    one_line = PARAGRAPH * 3 + "<p>Free shipping on your next order.</p>"
    assert check(one_line) == []
    spanish = "<p>¡Rebajas! Descuento del 30 %, oferta por tiempo limitado: compra ahora.</p>"
    assert codes(check(PARAGRAPH + spanish)) == {LintCode.PROMOTIONAL_CONTENT: Severity.WARNING}


def test_errors_come_first() -> None:
    html = f'{PARAGRAPH}<img src="x.png"><a href="https://bit.ly/x">Go</a>'
    severities = [f.severity for f in check(html)]
    assert severities == sorted(severities, key=lambda s: s is not Severity.ERROR)
    assert severities[0] is Severity.ERROR


def test_the_html_reader_sees_text_links_and_images_but_not_styles() -> None:
    facts = read_html(
        "<html><head><style>p{color:red}</style><title>T</title></head><body>"
        '<p>Hi <a href="https://a.example/">there <img src="i.png" alt="logo"></a></p>'
        "<script>var x = 1;</script></body></html>"
    )
    assert facts.text == "Hi there"
    [link] = facts.links
    assert link.href == "https://a.example/" and link.text == "there logo"
    assert [i.alt for i in facts.images] == ["logo"]
