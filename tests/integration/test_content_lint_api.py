"""POST /templates/validate carries Misiva's content lint beside Postmark's fields, linted for
the kind of the MessageStream given (or worded "if sent on ..." without one)."""

from __future__ import annotations

from typing import Any

import httpx

from misiva.domain.enums import ErrorCode

POSTMARK_FIELDS = {"AllContentIsValid", "Subject", "HtmlBody", "TextBody", "SuggestedTemplateModel"}
PROMO = {
    "Subject": "Your order {{ n }}",
    "HtmlBody": (
        '<p>Order {{ n }} is confirmed.</p><img src="https://shop.test/banner.png">'
        '<p>Track it: <a href="https://bit.ly/x">https://shop.test/track</a></p>'
        "<p>Your temporary password: {{ user.password }}</p>"
    ),
    "TextBody": "Order {{ n }} is confirmed. Password: {{ user.password }}",
    "TestRenderModel": {"n": "A-1", "user": {"password": "hunter2"}},
}


def _lint(body: dict[str, Any]) -> dict[str, tuple[str, str | None, int | None]]:
    return {f["Code"]: (f["Severity"], f["Part"], f["Line"]) for f in body["Lint"]}


async def test_validate_answers_postmarks_fields_and_the_lint(api: httpx.AsyncClient) -> None:
    response = await api.post("/templates/validate", json=PROMO)
    assert response.status_code == 200
    body = response.json()
    assert body.keys() >= POSTMARK_FIELDS and body["AllContentIsValid"] is True
    found = _lint(body)
    assert found["LinkShortener"][0] == "error"
    assert found["LinkTextMismatch"][0] == "error"
    assert found["AltMissing"][:2] == ("warning", "HtmlBody")
    assert found["PasswordVariable"] == ("error", "HtmlBody", 1)
    assert found["UnsubscribeMissing"][0] == "warning"
    assert "TextMissing" not in found
    first = body["Lint"][0]
    assert set(first) == {"Code", "Severity", "Message", "Part", "Line"}


async def test_validate_for_a_broadcasts_stream_makes_a_missing_unsubscribe_an_error(
    api: httpx.AsyncClient,
) -> None:
    body = {"Subject": "News", "TextBody": "Our news of the month.", "MessageStream": "broadcast"}
    found = _lint((await api.post("/templates/validate", json=body)).json())
    assert found["UnsubscribeMissing"][0] == "error"
    transactional = {**body, "MessageStream": "outbound"}
    assert "UnsubscribeMissing" not in _lint(
        (await api.post("/templates/validate", json=transactional)).json()
    )
    unknown = await api.post("/templates/validate", json={**body, "MessageStream": "nope"})
    assert unknown.status_code == 422 and unknown.json()["ErrorCode"] == ErrorCode.STREAM_NOT_FOUND


async def test_content_that_does_not_render_has_no_lint(api: httpx.AsyncClient) -> None:
    body = (await api.post("/templates/validate", json={"Subject": "{{ broken"})).json()
    assert body["AllContentIsValid"] is False and body["Lint"] == []
