"""`contact.history`: the contact's latest events, newest first, as templates, content block
rules and trigger conditions see them (in-process, on both databases)."""

from __future__ import annotations

import httpx

from automation_setup import add_trigger, post_event, rules_of

HISTORY = {
    "Name": "Account summary",
    "Alias": "summary",
    "Subject": "Your account",
    "HtmlBody": (
        "<p>{% for e in contact.history %}{{ e.name }}={{ e.data.order.total }};{% endfor %}</p>"
    ),
}
WELCOME = {
    "Name": "First order",
    "Alias": "first-order",
    "Subject": "Welcome, first-time customer",
    "HtmlBody": "<p>Thank you for your first order.</p>",
}
# The person's first order: the event just reported is already in their history.
FIRST_ORDER = "contact.history | selectattr('name', 'equalto', 'order.placed') | list | length == 1"


async def test_templates_and_conditions_read_the_contacts_history(api: httpx.AsyncClient) -> None:
    for template in (HISTORY, WELCOME):
        assert (await api.post("/templates", json=template)).status_code == 200
    await add_trigger(api, "first-order", "order.placed", "first-order", Condition=FIRST_ORDER)
    results = []
    for n, total in enumerate((10, 20, 30)):
        results.append(
            await post_event(
                api,
                Name="order.placed",
                Email="ana@example.com",
                EventID=f"o-{n}",
                OccurredAt=f"2026-01-0{n + 1}T10:00:00Z",
                Data={"order": {"total": total}},
            )
        )
    fired = [rules_of(r)["first-order"]["Outcome"] for r in results]
    assert fired == ["scheduled", "not_matched", "not_matched"]
    # A dry run sees each event's history as it stood then, not as it is now.
    ran = await api.post(
        "/triggers/first-order/dry-run",
        json={"Since": "2025-12-31T00:00:00Z", "Until": "2026-01-05T00:00:00Z"},
    )
    assert ran.status_code == 200, ran.text
    assert [e["Outcome"] for e in ran.json()["Events"]] == fired
    sent = await api.post(
        "/email/withTemplate",
        json={"From": "hola@shop.test", "To": "Ana@Example.com", "TemplateAlias": "summary"},
    )
    assert sent.status_code == 200, sent.text
    details = await api.get(f"/messages/outbound/{sent.json()['MessageID']}/details")
    html = details.json()["HtmlBody"]
    assert "order.placed=30;order.placed=20;order.placed=10;" in html
    # Someone without events has an empty history, not an error.
    other = await api.post(
        "/email/withTemplate",
        json={"From": "hola@shop.test", "To": "jean@example.com", "TemplateAlias": "summary"},
    )
    assert other.status_code == 200, other.text


async def test_a_block_rule_reads_the_history_of_a_template_with_a_slot(
    api: httpx.AsyncClient,
) -> None:
    template = {
        "Name": "Receipt",
        "Alias": "receipt",
        "Subject": "Receipt",
        "HtmlBody": "<p>Your receipt.</p>{{ block('cross_sell') }}",
    }
    assert (await api.post("/templates", json=template)).status_code == 200
    block = {
        "Key": "returning",
        "Slot": "cross_sell",
        "Rule": "contact.history | length > 0",
        "Contents": {"default": {"HtmlBody": "<p>Welcome back</p>"}},
    }
    assert (await api.post("/content-blocks", json=block)).status_code == 200
    await post_event(api, Name="signup.completed", Email="ana@example.com")
    html = {}
    for to in ("ana@example.com", "jean@example.com"):
        sent = await api.post(
            "/email/withTemplate",
            json={"From": "hola@shop.test", "To": to, "TemplateAlias": "receipt"},
        )
        details = await api.get(f"/messages/outbound/{sent.json()['MessageID']}/details")
        html[to] = details.json()["HtmlBody"]
    assert "Welcome back" in html["ana@example.com"]
    assert "Welcome back" not in html["jean@example.com"]
