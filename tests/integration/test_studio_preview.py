"""The studio's preview service on both databases: a draft rendered as a send would be, the
variables panel (what the template needs, what the test data lacks), problems with lines."""

from __future__ import annotations

import httpx

from builders import Tenant
from misiva.accounts.contacts import upsert_contact
from misiva.authoring import templates as authoring
from misiva.authoring.preview import Draft, PreviewData, parse_test_data, preview_draft
from misiva.authoring.templates import TemplateFields
from misiva.domain.templates import TemplateContent, TemplateType
from misiva.ingest.templated import contact_namespace
from misiva.runtime.wiring import Platform

ORDER_HTML = """<p>Hola {{ contact.first_name }},</p>
<ul>
{% for line in order.lines %}<li>{{ line.name }}</li>{% endfor %}
</ul>
<p>{{ order.note | default('') }}</p>
<p>Total: {{ order.total }}</p>"""


def _draft(html: str = ORDER_HTML, subject: str = "Pedido {{ order.number }}") -> Draft:
    content = TemplateContent(subject=subject, html_body=html)
    return Draft(TemplateType.STANDARD, content, None, "es")


async def test_the_variables_panel_says_what_the_template_needs_and_the_data_lacks(
    platform: Platform, tenant: Tenant
) -> None:
    data = PreviewData({"order": {"number": "A-1", "lines": [{"name": "Cafetera"}, {}]}, "x": 1})
    result = await preview_draft(platform.db, tenant.server, _draft(), data)
    assert result.variables is not None
    assert result.variables.needed == (
        "contact.first_name",
        "order.lines[].name",
        "order.number",
        "order.total",
    )
    assert result.variables.optional == ("order.note",)
    assert result.variables.missing == ("contact.first_name", "order.lines[1].name", "order.total")
    assert result.variables.unused == ("x",)
    assert result.variables.suggested["order"]["lines"] == [{"name": "name_Value"}]
    # Nothing is rendered as a blank: each lacking variable is a problem at the line reading it.
    assert result.rendered is None
    where = {p.message: (p.part, p.line) for p in result.problems}
    assert where == {
        "The TemplateModel is missing required variable: contact.first_name.": ("HtmlBody", 1),
        "The TemplateModel is missing required variable: order.lines[1].name.": ("HtmlBody", 3),
        "The TemplateModel is missing required variable: order.total.": ("HtmlBody", 6),
    }


async def test_a_complete_preview_renders_with_the_server_and_a_real_contact(
    platform: Platform, tenant: Tenant
) -> None:
    contact = await upsert_contact(
        platform.db,
        tenant.server.id,
        {"Email": "lucia@example.com", "FirstName": "Lucía", "Attributes": {"tier": "gold"}},
    )
    html = ORDER_HTML + "<p>{{ contact.tier }} · {{ server.name }}</p>"
    model = {"order": {"number": "A-1", "lines": [{"name": "Cafetera"}], "total": 10}}
    # The test data's own contact gives way to the chosen contact's profile, as in a send.
    data = PreviewData(
        {**model, "contact": {"first_name": "Test"}},
        contact_namespace(contact, contact.email),
    )
    result = await preview_draft(platform.db, tenant.server, _draft(html), data)
    assert result.problems == () and result.rendered is not None
    assert result.rendered.subject == "Pedido A-1"
    assert result.rendered.html_body is not None
    assert "Hola Lucía" in result.rendered.html_body and "gold · shop" in result.rendered.html_body
    assert result.variables is not None and result.variables.missing == ()
    assert result.locale == "es"


async def test_syntax_errors_and_bad_test_data_have_line_numbers(
    platform: Platform, tenant: Tenant
) -> None:
    broken = "<p>fine</p>\n<p>{{ order.number }</p>\n"
    result = await preview_draft(platform.db, tenant.server, _draft(broken), PreviewData())
    assert result.rendered is None and result.variables is None
    assert [(p.part, p.line) for p in result.problems] == [("HtmlBody", 2)]
    bad = parse_test_data('{\n  "order": {\n    "number": "A-1",\n  }\n}')
    assert not isinstance(bad, dict)
    assert (bad.part, bad.line) == ("TestData", 4)
    assert parse_test_data("") == {} and not isinstance(parse_test_data("[1]"), dict)


async def test_the_draft_is_previewed_inside_the_published_layout(
    platform: Platform, tenant: Tenant
) -> None:
    server_id = tenant.server.id
    await authoring.create_template(
        platform.db,
        server_id,
        TemplateFields(
            name="Brand",
            alias="brand",
            template_type=TemplateType.LAYOUT,
            html_body="<div class='brand'>{{ server.name }}</div>{{{ @content }}}",
        ),
    )
    draft = Draft(TemplateType.STANDARD, TemplateContent("Hi", "<p>Body</p>"), "brand", "default")
    result = await preview_draft(platform.db, tenant.server, draft, PreviewData())
    assert result.rendered is not None and result.rendered.html_body is not None
    assert "shop</div>" in result.rendered.html_body and "<p>Body</p>" in result.rendered.html_body
    missing = Draft(TemplateType.STANDARD, TemplateContent("Hi", "<p>x</p>"), "nope", "default")
    refused = await preview_draft(platform.db, tenant.server, missing, PreviewData())
    assert refused.rendered is None and "nope" in refused.problems[0].message


async def test_saving_a_whole_variant_removes_an_emptied_part_and_stays_a_draft(
    platform: Platform, tenant: Tenant
) -> None:
    db, server_id = platform.db, tenant.server.id
    created = await authoring.create_template(
        db,
        server_id,
        TemplateFields(name="Note", alias="note", subject="S", html_body="<p>H</p>", text_body="T"),
    )
    saved = await authoring.update_template(
        db,
        server_id,
        "note",
        TemplateFields(subject="S2", html_body="<p>H2</p>"),
        publish=False,
        whole_variant=True,
    )
    assert saved.version.variants["default"] == TemplateContent("S2", "<p>H2</p>", None, None)
    assert saved.template.published_version == created.version.number == 1
    # What sends read is still version 1.
    published = await authoring.get_template(db, server_id, "note")
    assert published.version.number == 1 and published.version.variants["default"].text_body == "T"
    await authoring.set_test_model(db, server_id, "note", {"a": 1})
    assert await authoring.get_test_model(db, server_id, "note") == {"a": 1}


async def test_the_validate_api_points_at_the_line_reading_a_missing_variable(
    api: httpx.AsyncClient,
) -> None:
    body = {
        "Subject": "Order {{ order.number }}",
        "HtmlBody": "<p>Hi</p>\n<p>{{ order.total }}</p>",
        "TestRenderModel": {"order": {"number": "A-1"}},
    }
    result = (await api.post("/templates/validate", json=body)).json()
    assert result["AllContentIsValid"] is False
    assert result["Subject"]["ValidationErrors"] == []
    [error] = result["HtmlBody"]["ValidationErrors"]
    assert error["Line"] == 2 and "order.total" in error["Message"]
