"""The studio's pages in-process over both databases: the live preview endpoint, saving a
draft that sends do not see, publish and rollback in the audit log, a test send, a diff, and
the roles and CSRF rules."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from builders import Tenant
from misiva.accounts.audit import recent
from misiva.accounts.users import create_user, sign_in
from misiva.api.app import create_app
from misiva.authoring import templates as authoring
from misiva.authoring.templates import TemplateFields
from misiva.domain.templates import TemplateType
from misiva.domain.users import Role
from misiva.runtime.wiring import Platform
from misiva.storage import messages as message_store
from misiva.web.deps import SESSION_COOKIE
from misiva.web.mount import mount_ui

PASSWORD = "correct horse battery staple"


class Browser:
    """A signed-in user's client: cookie and the session's CSRF token."""

    def __init__(self, client: httpx.AsyncClient, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    async def post(self, url: str, **fields: str) -> httpx.Response:
        return await self.client.post(url, data={"csrf": self.csrf, **fields})


@pytest.fixture
async def signed_in(platform: Platform, tenant: Tenant) -> AsyncIterator[dict[str, Browser]]:
    app = mount_ui(create_app(platform.api_deps()), platform.web_deps())
    browsers = {}
    clients = []
    for email, role in (("marta@shop.test", Role.MARKETER), ("vera@shop.test", Role.VIEWER)):
        await create_user(platform.db, email, PASSWORD, role, server_names=("shop",))
        signed = await sign_in(platform.db, email, PASSWORD)
        assert signed is not None
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://misiva.test",
            cookies={SESSION_COOKIE: signed[0]},
        )
        clients.append(client)
        browsers[role.value] = Browser(client, signed[1].csrf_token)
    yield browsers
    for client in clients:
        await client.aclose()


async def _order(platform: Platform, tenant: Tenant) -> str:
    created = await authoring.create_template(
        platform.db,
        tenant.server.id,
        TemplateFields(
            name="Order", alias="order", subject="Order {{ n }}", html_body="<p>Total {{ t }}</p>"
        ),
    )
    await authoring.set_test_model(platform.db, tenant.server.id, "order", {"n": "A-1", "t": 5})
    return f"/ui/servers/{tenant.server.id}/templates/{created.template.id}"


async def test_the_preview_endpoint_renders_the_unsaved_draft(
    platform: Platform, tenant: Tenant, signed_in: dict[str, Browser]
) -> None:
    url = await _order(platform, tenant)
    viewer = signed_in["viewer"]
    fields = {"variant": "default", "subject": "Pedido {{ n }}", "body": "<p>Gesamt {{ t }}</p>"}
    response = await viewer.client.post(
        url + "/preview",
        data={**fields, "test_data": '{"n": "B-2", "t": 7}'},
        headers={"X-CSRF-Token": viewer.csrf},
    )
    assert response.status_code == 200
    assert "Pedido B-2" in response.text
    assert 'sandbox=""' in response.text and "&lt;p&gt;Gesamt 7&lt;/p&gt;" in response.text
    lacking = await viewer.post(url + "/preview", **fields, test_data='{"n": "B-2"}')
    assert "The data lacks <code>t</code>." in lacking.text and "line" in lacking.text
    forged = await viewer.client.post(url + "/preview", data=fields)
    assert forged.status_code == 400
    # Previewing saved nothing.
    _, versions = await authoring.list_versions(platform.db, tenant.server.id, "order")
    assert len(versions) == 1


async def test_save_publish_rollback_diff_and_the_audit_log(
    platform: Platform, tenant: Tenant, signed_in: dict[str, Browser]
) -> None:
    url = await _order(platform, tenant)
    marta = signed_in["marketer"]
    edited = {
        "variant": "default",
        "subject": "Order {{ n }} is ready",
        "body": "<p>Total {{ t }}</p>",
    }
    saved = await marta.post(
        url, action="save", note="ready", test_data='{"n": "C-3", "t": 1}', **edited
    )
    assert saved.status_code == 303 and "saved=2" in saved.headers["location"]
    details = await authoring.get_template(platform.db, tenant.server.id, "order")
    # A draft: sends still use version 1.
    assert details.template.published_version == 1 and details.template.latest_version == 2
    assert await authoring.get_test_model(platform.db, tenant.server.id, "order") == {
        "n": "C-3",
        "t": 1,
    }
    page = await marta.client.get(url)
    assert "Publish version 2" in page.text and "is a draft" in page.text
    published = await marta.post(url + "/publish", version="2")
    assert published.status_code == 303
    rolled = await marta.post(url + "/publish", version="1")
    assert rolled.status_code == 303
    diff = await marta.client.get(url + "/diff", params={"from": "1", "to": "2"})
    assert '<span class="del">-Order {{ n }}</span>' in diff.text
    assert '<span class="add">+Order {{ n }} is ready</span>' in diff.text
    actions = [line.entry.action for line in await recent(platform.db)]
    assert actions[:4] == [
        "template.rollback",
        "template.publish",
        "template.test_data",
        "template.save",
    ]
    invalid = await marta.post(url, action="save", **{**edited, "body": "<p>{{ t }</p>"})
    assert invalid.status_code == 422 and "line" in invalid.text


async def test_a_viewer_may_look_but_not_save_publish_or_send(
    platform: Platform, tenant: Tenant, signed_in: dict[str, Browser]
) -> None:
    url = await _order(platform, tenant)
    viewer = signed_in["viewer"]
    page = await viewer.client.get(url)
    assert page.status_code == 200 and "Save draft" not in page.text
    fields = {"variant": "default", "subject": "Hacked", "body": "<p>x</p>"}
    assert (await viewer.post(url, action="save", **fields)).status_code == 403
    assert (await viewer.post(url, action="send_test", **fields)).status_code == 403
    assert (await viewer.post(url + "/publish", version="1")).status_code == 403
    listing = await viewer.client.get(
        f"/ui/servers/{tenant.server.id}/templates", params={"q": "ord"}
    )
    assert ">Order</a>" in listing.text
    _, versions = await authoring.list_versions(platform.db, tenant.server.id, "order")
    assert len(versions) == 1


async def test_a_test_send_is_the_draft_on_the_outbound_stream(
    platform: Platform, tenant: Tenant, signed_in: dict[str, Browser]
) -> None:
    url = await _order(platform, tenant)
    marta = signed_in["marketer"]
    response = await marta.post(
        url,
        action="send_test",
        variant="default",
        subject="Unsaved {{ n }}",
        body="<p>Total {{ t }}</p>",
        test_data='{"n": "D-4", "t": 9}',
        test_to="lucia@example.com",
        test_from="marta@shop.test",
    )
    assert response.status_code == 200, response.text
    found = re.search(r'href="/ui/messages/([^"]+)"', response.text)
    assert found is not None
    async with platform.db.reading() as tx:
        message = await message_store.get_message(tx, found.group(1))
    assert message is not None and message.subject == "[Test] Unsaved D-4"
    assert message.stream == "outbound" and message.server_id == tenant.server.id
    actions = [line.entry for line in await recent(platform.db)]
    assert actions[0].action == "template.send_test"
    assert actions[0].details["to"] == "lucia@example.com"
    refused = await marta.post(
        url,
        action="send_test",
        variant="default",
        subject="x",
        body="<p>x</p>",
        test_to="lucia@example.com",
        test_from="someone@elsewhere.test",
    )
    assert refused.status_code == 422 and "Sender Signature" in refused.text


async def test_layouts_and_a_new_locale_variant_are_edited_like_templates(
    platform: Platform, tenant: Tenant, signed_in: dict[str, Browser]
) -> None:
    url = await _order(platform, tenant)
    layout = await authoring.create_template(
        platform.db,
        tenant.server.id,
        TemplateFields(
            name="Brand",
            alias="brand",
            template_type=TemplateType.LAYOUT,
            html_body="<header>{{ server.name }}</header>{{{ @content }}}",
        ),
    )
    marta = signed_in["marketer"]
    layout_page = await marta.client.get(
        f"/ui/servers/{tenant.server.id}/templates/{layout.template.id}"
    )
    assert (
        layout_page.status_code == 200 and "&lt;header&gt;shop&lt;/header&gt;" in layout_page.text
    )
    spanish = await marta.client.get(url, params={"locale": "es"})
    assert "new: save to add it" in spanish.text and 'value="Order {{ n }}"' in spanish.text
    saved = await marta.post(
        url,
        action="save",
        variant="es",
        format="html",
        subject="Pedido {{ n }}",
        body="<p>Total {{ t }}</p>",
        layout="brand",
        test_data='{"n": "A-1", "t": 5}',
    )
    assert saved.status_code == 303 and "locale=es" in saved.headers["location"]
    details = await authoring.get_template(platform.db, tenant.server.id, "order", 2)
    assert sorted(details.version.variants) == ["default", "es"]
    assert details.template.layout_alias == "brand"
    page = await marta.client.get(url, params={"locale": "es"})
    assert "Pedido A-1" in page.text and "&lt;header&gt;shop&lt;/header&gt;" in page.text
