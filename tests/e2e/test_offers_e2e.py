"""Issue 10's end-to-end: an order confirmation with a nominative promo code and a cross-sell
slot, sent through a real `misiva serve` to contacts of different profiles over real SMTP; each
gets the block that fits them and a code of their own (the same again on a re-send), and a
click on the block's link and a conversion posted for the message show in the template's and
the block's results."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable

import httpx
import pytest

from harness import Misiva
from misiva.testing.smtp_sink import SmtpSink

pytestmark = pytest.mark.slow
ORDER = {
    "Name": "Order confirmation",
    "Alias": "order",
    "Subject": "Order {{ order.number }}",
    "HtmlBody": (
        "<h1>Thank you, {{ contact.first_name }}</h1>"
        "<p>Order {{ order.number }} for {{ order.total }} EUR is confirmed and will ship "
        "tomorrow. Track it from your account at any time.</p>"
        "<p>Your code for next time: <b>{{ promo_code('WELCOME10') }}</b></p>"
        "{{ block('cross_sell') }}"
    ),
    "TextBody": "Order {{ order.number }} confirmed. Code: {{ promo_code('WELCOME10') }}",
}
MUG = {
    "Key": "mug-es",
    "Slot": "cross_sell",
    "Rule": "contact.country == 'ES' and order.total > 50",
    "Priority": 10,
    "Contents": {"default": {"HtmlBody": '<p>Mug: <a href="https://shop.test/mug">see</a></p>'}},
}
NEWSLETTER = {
    "Key": "newsletter",
    "Slot": "cross_sell",
    "Priority": 1,
    "Contents": {"default": {"HtmlBody": "<p>Join our newsletter</p>"}},
}
PEOPLE = (  # email, country, order total, the block they should get
    ("ana@example.com", "ES", 80, "Mug:"),
    ("jean@example.com", "FR", 80, "Join our newsletter"),
    ("lea@example.com", "ES", 20, "Join our newsletter"),
)


def _html(raw: bytes) -> str:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    return parsed.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]


def test_order_confirmation_with_code_and_block_to_different_profiles(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    misiva = misiva_factory(routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none")
    token, _ = misiva.setup_tenant()
    misiva.serve()
    headers = {"X-Postmark-Server-Token": token}
    with httpx.Client(base_url=misiva.url, headers=headers, timeout=15) as api:
        assert api.post("/promo-pools", json={"Key": "WELCOME10"}).status_code == 200
        generated = api.post(
            "/promo-pools/WELCOME10/generate", json={"Pattern": "W10-####", "Count": 20}
        )
        assert generated.status_code == 200, generated.text
        assert api.post("/templates", json=ORDER).status_code == 200
        mug = api.post("/content-blocks", json=MUG).json()
        assert api.post("/content-blocks", json=NEWSLETTER).status_code == 200
        sent: dict[str, str] = {}
        for address, country, total, _ in PEOPLE:
            contact = {"Email": address, "FirstName": address[:3].title(), "Country": country}
            assert api.post("/contacts", json=contact).status_code == 200
            response = api.post(
                "/email/withTemplate",
                json={
                    "From": "hola@shop.test",
                    "To": address,
                    "TemplateAlias": "order",
                    "TemplateModel": {"order": {"number": f"A-{total}", "total": total}},
                    "TrackLinks": "HtmlOnly",
                },
            )
            assert response.status_code == 200, response.text
            sent[address] = response.json()["MessageID"]
        resent = api.post(
            "/email/withTemplate",
            json={
                "From": "hola@shop.test",
                "To": "ana@example.com",
                "TemplateAlias": "order",
                "TemplateModel": {"order": {"number": "A-80", "total": 80}},
                "TrackLinks": "HtmlOnly",
            },
        )
        assert resent.status_code == 200
        assert sink.wait_for(4, timeout=20)
        by_recipient: dict[str, list[str]] = {}
        for message in sink.messages:
            by_recipient.setdefault(message.rcpt_tos[0], []).append(_html(message.data))
        codes = {}
        for address, _, _, expected_block in PEOPLE:
            html = by_recipient[address][0]
            assert expected_block in html, (address, html)
            codes[address] = re.search(r"<b>(W10-\d{4})</b>", html).group(1)  # type: ignore[union-attr]
        assert len(set(codes.values())) == 3  # a code of their own each
        first, again = by_recipient["ana@example.com"]
        assert re.search(r"<b>(W10-\d{4})</b>", again).group(1) == codes["ana@example.com"]  # type: ignore[union-attr]
        stock = api.get("/promo-pools/WELCOME10").json()["Stock"]
        assert stock["Allocated"] == 3 and stock["Available"] == 17

        # Ana clicks the mug and buys: the click and the conversion are credited.
        tracked = re.findall(r'href="([^"]+/t/c/[^"]+)"', first)
        assert len(tracked) == 1  # the block's link (the template has none of its own)
        assert httpx.get(tracked[0], follow_redirects=False).status_code in (302, 303, 307)
        converted = api.post(
            "/conversions",
            json={
                "MessageID": sent["ana@example.com"],
                "Value": 24.5,
                "Currency": "EUR",
                "OrderID": "B-1",
            },
        )
        assert converted.status_code == 200, converted.text
        assert converted.json()["Blocks"][0]["BlockID"] == mug["ID"]

        templates = api.get("/results/templates").json()["Templates"]
        [order] = [t for t in templates if t["Name"] == "Order confirmation"]
        assert order["Sends"] == 4 and order["Clicks"] == 1
        assert order["Conversions"] == 1 and order["Revenue"] == {"EUR": 24.5}
        block = api.get(f"/content-blocks/{mug['ID']}/results").json()
        [variant] = block["Variants"]
        assert (variant["Sends"], variant["UniqueClicks"], variant["Conversions"]) == (2, 1, 1)
        assert variant["Revenue"] == {"EUR": 24.5}
