"""Templates end to end in-process: Postmark's API, versions, locales, contacts, rendering."""

from __future__ import annotations

import email
import email.policy
from typing import Any

import httpx

from builders import Tenant
from misiva.accounts.servers import configure_server
from misiva.config import Settings
from misiva.runtime.wiring import Platform, build_platform
from misiva.storage import capture as capture_store
from misiva.storage import messages as message_store

LAYOUT = {
    "Name": "Brand",
    "Alias": "brand",
    "TemplateType": "Layout",
    "HtmlBody": (
        "<html><head><style>.title { color: #1a56db; }</style></head><body>"
        '<h1 class="title">{{ server.name }}</h1>{{{ @content }}}</body></html>'
    ),
    "TextBody": "{{ server.name }}\n\n{{{ @content }}}\n",
}
ORDER = {
    "Name": "Order confirmation",
    "Alias": "order",
    "LayoutTemplate": "brand",
    "Subject": "Order {{ order.number }}",
    "HtmlBody": (
        "<p>Hi {{ contact.first_name | default('there') }},</p>"
        "<table><tbody>{% for line in order.lines %}<tr><td>{{ line.name }}</td>"
        "<td>{{ line.total | money(order.currency) }}</td></tr>{% endfor %}</tbody></table>"
        "<p>Total: {{ order.total | money(order.currency) }}</p>"
    ),
}
ORDER_ES = {
    "Locale": "es",
    "Subject": "Pedido {{ order.number }}",
    "HtmlBody": (
        "<p>Hola {{ contact.first_name | default('') }}:</p>"
        "<table><tbody>{% for line in order.lines %}<tr><td>{{ line.name }}</td>"
        "<td>{{ line.total | money(order.currency) }}</td></tr>{% endfor %}</tbody></table>"
        "<p>Total: {{ order.total | money(order.currency) }}</p>"
    ),
}
MODEL = {
    "order": {
        "number": "A-1001",
        "currency": "EUR",
        "total": 1234.5,
        "lines": [{"name": "Cafetera", "total": 1234.5}],
    }
}


async def _setup(api: httpx.AsyncClient) -> None:
    for body in (LAYOUT, ORDER):
        response = await api.post("/templates", json=body)
        assert response.status_code == 200, response.text
    response = await api.put("/templates/order", json=ORDER_ES)
    assert response.status_code == 200, response.text


async def _deliver_captured(database_url: str, message_id: str) -> email.message.EmailMessage:
    platform = build_platform(Settings(database_url=database_url, routes="*=capture"))
    try:
        await platform.new_worker().run_once()
        async with platform.db.transaction() as tx:
            [captured] = await capture_store.get_captured_for_message(tx, message_id)
    finally:
        await platform.close()
    parsed = email.message_from_bytes(captured.mime, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def _part(message: email.message.EmailMessage, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None
    content: str = part.get_content()
    return content


async def test_send_with_template_renders_layout_locale_contact_and_inlined_css(
    api: httpx.AsyncClient, database_url: str
) -> None:
    await _setup(api)
    await api.post(
        "/contacts", json={"Email": "ana@example.com", "FirstName": "Ana", "Locale": "es"}
    )
    sent = await api.post(
        "/email/withTemplate",
        json={
            "From": "hola@shop.test",
            "To": "ana@example.com",
            "TemplateAlias": "order",
            "TemplateModel": MODEL,
        },
    )
    assert sent.status_code == 200, sent.text
    message = await _deliver_captured(database_url, sent.json()["MessageID"])
    assert message["Subject"] == "Pedido A-1001"
    html = _part(message, "html")
    assert "Hola Ana" in html and "Cafetera" in html
    assert "1.234,50\xa0€" in html
    assert 'style="color: #1a56db' in html or 'style="color:#1a56db' in html
    text = _part(message, "plain")
    assert "Hola Ana" in text and "shop" in text
    details = (await api.get(f"/messages/outbound/{sent.json()['MessageID']}/details")).json()
    assert details["TemplateVersion"] == 2 and details["Locale"] == "es"


async def test_english_contact_gets_the_english_variant(
    api: httpx.AsyncClient, database_url: str
) -> None:
    await _setup(api)
    await api.post(
        "/contacts", json={"Email": "bob@example.com", "FirstName": "Bob", "Locale": "en-GB"}
    )
    sent = await api.post(
        "/email/batchWithTemplates",
        json={
            "Messages": [
                {
                    "From": "hola@shop.test",
                    "To": "bob@example.com",
                    "TemplateAlias": "order",
                    "TemplateModel": MODEL,
                }
            ]
        },
    )
    [entry] = sent.json()
    assert entry["ErrorCode"] == 0, entry
    message = await _deliver_captured(database_url, entry["MessageID"])
    assert message["Subject"] == "Order A-1001"
    assert "Hi Bob" in _part(message, "html") and "€1,234.50" in _part(message, "html")


async def test_missing_variable_is_refused_naming_it_and_nothing_is_queued(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    await _setup(api)
    response = await api.post(
        "/email/withTemplate",
        json={
            "From": "hola@shop.test",
            "To": "ana@example.com",
            "TemplateAlias": "order",
            "TemplateModel": {"order": {"number": "1", "currency": "EUR", "lines": []}},
        },
    )
    assert response.status_code == 422
    assert "order.total" in response.json()["Message"]
    async with platform.db.transaction() as tx:
        assert not await message_store.count_by_status(tx)


async def test_unknown_template_is_1101(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/email/withTemplate",
        json={
            "From": "hola@shop.test",
            "To": "ana@example.com",
            "TemplateId": 999,
            "TemplateModel": {},
        },
    )
    assert response.status_code == 422 and response.json()["ErrorCode"] == 1101


async def test_sandbox_escape_is_refused_when_saved(api: httpx.AsyncClient) -> None:
    for body in ("{{ ''.__class__.__mro__ }}", "{{ cycler.__init__.__globals__ }}"):
        response = await api.post(
            "/templates", json={"Name": "evil", "HtmlBody": body, "Subject": "x"}
        )
        assert response.status_code == 422, (body, response.text)


async def test_publish_rollback_and_diff(api: httpx.AsyncClient, database_url: str) -> None:
    await _setup(api)
    await api.put(
        "/templates/order", json={"Locale": "es", "Subject": "Tu pedido {{ order.number }}"}
    )

    async def subject() -> str:
        sent = await api.post(
            "/email/withTemplate",
            json={
                "From": "hola@shop.test",
                "To": "ana@example.com",
                "TemplateAlias": "order",
                "TemplateModel": MODEL,
                "Locale": "es",
            },
        )
        assert sent.status_code == 200, sent.text
        message = await _deliver_captured(database_url, sent.json()["MessageID"])
        return str(message["Subject"])

    assert await subject() == "Tu pedido A-1001"
    rolled = await api.post("/templates/order/publish", json={"Version": 2})
    assert rolled.json()["PublishedVersion"] == 2
    assert await subject() == "Pedido A-1001"
    draft = await api.post(
        "/templates/order/versions", json={"Locale": "es", "Subject": "Borrador"}
    )
    assert draft.json()["Published"] is False
    assert await subject() == "Pedido A-1001"
    diff = (await api.get("/templates/order/diff", params={"from": 2, "to": 3})).json()["Diff"]
    assert "-Pedido {{ order.number }}" in diff and "+Tu pedido {{ order.number }}" in diff
    versions = (await api.get("/templates/order/versions")).json()
    assert [v["Version"] for v in versions["Versions"]] == [1, 2, 3, 4]


async def test_postmark_template_endpoints_shapes(api: httpx.AsyncClient) -> None:
    await _setup(api)
    listing = (await api.get("/templates", params={"Count": 10, "Offset": 0})).json()
    assert listing["TotalCount"] == 2
    assert {"Active", "TemplateId", "Name", "Alias", "TemplateType", "LayoutTemplate"} <= set(
        listing["Templates"][0]
    )
    layouts = (
        await api.get("/templates", params={"count": 10, "offset": 0, "templateType": "Layout"})
    ).json()
    assert [t["Alias"] for t in layouts["Templates"]] == ["brand"]
    one = (await api.get("/templates/order")).json()
    assert one["Subject"] == "Order {{ order.number }}" and one["LayoutTemplate"] == "brand"
    in_use = await api.delete("/templates/brand")
    assert in_use.status_code == 422 and in_use.json()["ErrorCode"] == 1130
    assert (await api.delete("/templates/order")).json()["ErrorCode"] == 0
    assert (await api.get("/templates/order")).json()["ErrorCode"] == 1101


async def test_validate_renders_and_suggests_a_model(api: httpx.AsyncClient) -> None:
    body: dict[str, Any] = {
        "Subject": "Hi {{ person.name }}",
        "HtmlBody": "<p>{% for item in items %}{{ item.title }}{% endfor %}</p>",
        "TestRenderModel": {"person": {"name": "Ana"}, "items": [{"title": "Uno"}]},
    }
    result = (await api.post("/templates/validate", json=body)).json()
    assert result["AllContentIsValid"] is True
    assert result["Subject"]["RenderedContent"] == "Hi Ana"
    assert "person" in result["SuggestedTemplateModel"]
    broken = (await api.post("/templates/validate", json={"HtmlBody": "{% for x in %}"})).json()
    assert broken["AllContentIsValid"] is False
    assert broken["HtmlBody"]["ValidationErrors"][0]["Line"] == 1


async def test_layout_placeholder_rules(api: httpx.AsyncClient, tenant: Tenant) -> None:
    no_placeholder = await api.post(
        "/templates", json={"Name": "L", "TemplateType": "Layout", "HtmlBody": "<p>x</p>"}
    )
    assert no_placeholder.json()["ErrorCode"] == 1131
    in_standard = await api.post(
        "/templates", json={"Name": "S", "Subject": "s", "HtmlBody": "{{{ @content }}}"}
    )
    assert in_standard.json()["ErrorCode"] == 1131


async def test_server_brand_and_default_locale_reach_the_template(
    api: httpx.AsyncClient, platform: Platform, database_url: str
) -> None:
    await configure_server(
        platform.db, "shop", default_locale="es", brand={"company_name": "Tienda Sol"}
    )
    await api.post(
        "/templates",
        json={
            "Name": "B",
            "Alias": "b",
            "Subject": "{{ server.brand.company_name }}",
            "TextBody": "{{ 3.5 | money('EUR') }}",
        },
    )
    sent = await api.post(
        "/email/withTemplate",
        json={
            "From": "hola@shop.test",
            "To": "nadie@example.com",
            "TemplateAlias": "b",
            "TemplateModel": {},
        },
    )
    assert sent.status_code == 200, sent.text
    message = await _deliver_captured(database_url, sent.json()["MessageID"])
    assert message["Subject"] == "Tienda Sol"
    assert _part(message, "plain").strip() == "3,50\xa0€"
