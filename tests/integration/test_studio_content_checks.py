"""The studio's content checks over HTTP with signed-in sessions: the lint beside the live
preview, the "Spam score" panel from a real spamd, and the publish gate: a marketer's publish
of a spammy version is refused (and audited), a developer's goes ahead with a warning."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from builders import Tenant
from misiva.accounts.audit import recent
from misiva.accounts.domains import add_domain
from misiva.accounts.servers import create_server
from misiva.accounts.users import create_user, sign_in
from misiva.api.app import create_app
from misiva.authoring import templates as authoring
from misiva.authoring.templates import TemplateFields
from misiva.config import Settings
from misiva.domain.users import Role
from misiva.runtime.wiring import Platform, build_platform
from misiva.web.deps import SESSION_COOKIE
from misiva.web.mount import mount_ui

PASSWORD = "correct horse battery staple"
SPAMMY = TemplateFields(
    name="Prize",
    alias="prize",
    subject="FREE!!! CLICK HERE TO CLAIM YOUR $1,000,000 PRIZE",
    html_body=(
        "<p>DEAR FRIEND, YOU HAVE BEEN SELECTED!!! CLICK HERE FOR FREE MONEY. 100% FREE, "
        "NO RISK, ACT NOW! Cheap viagra, make money fast. Wire transfer of US$10,000,000 "
        'to your bank account.</p><p><a href="https://shop.test/claim">CLICK HERE</a></p>'
        "<p>{{ unsubscribe_url }}</p>"
    ),
    text_body="DEAR FRIEND, CLICK HERE FOR FREE MONEY. ACT NOW! {{ unsubscribe_url }}",
)
CLEAN = TemplateFields(
    name="Shipped",
    alias="shipped",
    subject="Your order {{ n }} has shipped",
    html_body="<p>Hello, your order {{ n }} left our warehouse today.</p>",
    text_body="Hello, your order {{ n }} left our warehouse today.",
)


class Browser:
    def __init__(self, client: httpx.AsyncClient, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    async def post(self, url: str, **fields: str) -> httpx.Response:
        return await self.client.post(url, data={"csrf": self.csrf, **fields})


async def _browsers(platform: Platform, roles: dict[str, Role]) -> dict[str, Browser]:
    app = mount_ui(create_app(platform.api_deps()), platform.web_deps())
    found = {}
    for email, role in roles.items():
        await create_user(platform.db, email, PASSWORD, role, server_names=("shop",))
        signed = await sign_in(platform.db, email, PASSWORD)
        assert signed is not None
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://misiva.test",
            cookies={SESSION_COOKIE: signed[0]},
        )
        found[role.value] = Browser(client, signed[1].csrf_token)
    return found


@pytest.fixture
async def checked(database_url: str, spamd_addr: str) -> AsyncIterator[Platform]:
    built = build_platform(
        Settings(database_url=database_url, routes="*=capture", spamd_addr=spamd_addr)
    )
    yield built
    await built.close()


@pytest.fixture
async def shop(checked: Platform) -> Tenant:
    created = await create_server(checked.db, "shop")
    added = await add_domain(checked.db, "shop.test", "shop")
    return Tenant(server=created.server, domain=added.domain, token=created.api_token)


@pytest.fixture
async def people(checked: Platform, shop: Tenant) -> AsyncIterator[dict[str, Browser]]:
    browsers = await _browsers(
        checked, {"marta@shop.test": Role.MARKETER, "dev@shop.test": Role.DEVELOPER}
    )
    yield browsers
    for browser in browsers.values():
        await browser.client.aclose()


async def _draft(platform: Platform, tenant: Tenant) -> str:
    """A clean published version 1 and a spammy draft version 2 of the same template."""
    created = await authoring.create_template(platform.db, tenant.server.id, CLEAN)
    await authoring.set_test_model(platform.db, tenant.server.id, "shipped", {"n": "A-1"})
    spammy = TemplateFields(
        subject=SPAMMY.subject, html_body=SPAMMY.html_body, text_body=SPAMMY.text_body
    )
    await authoring.update_template(platform.db, tenant.server.id, "shipped", spammy, publish=False)
    return f"/ui/servers/{tenant.server.id}/templates/{created.template.id}"


async def test_a_marketers_publish_of_a_spammy_version_is_refused_and_audited(
    checked: Platform, shop: Tenant, people: dict[str, Browser]
) -> None:
    url = await _draft(checked, shop)
    refused = await people["marketer"].post(url + "/publish", version="2", locale="default")
    assert refused.status_code == 422
    assert "was not published: it fails the content checks" in refused.text
    assert "The spam score is" in refused.text
    details = await authoring.get_template(checked.db, shop.server.id, "shipped")
    assert details.template.published_version == 1
    [entry] = [e.entry for e in await recent(checked.db) if e.entry.action.endswith("refused")]
    assert entry.action == "template.publish_refused" and entry.details["version"] == "2"
    assert float(entry.details["score"]) >= 5.0


async def test_a_developer_publishes_it_with_a_warning(
    checked: Platform, shop: Tenant, people: dict[str, Browser]
) -> None:
    url = await _draft(checked, shop)
    published = await people["developer"].post(url + "/publish", version="2", locale="default")
    assert published.status_code == 200
    assert "Published over the content checks:" in published.text
    details = await authoring.get_template(checked.db, shop.server.id, "shipped")
    assert details.template.published_version == 2
    [entry] = [e.entry for e in await recent(checked.db) if e.entry.action == "template.publish"]
    assert entry.details["warnings"] and float(entry.details["score"]) >= 5.0


async def test_a_clean_version_is_published_for_a_marketer_as_before(
    checked: Platform, shop: Tenant, people: dict[str, Browser]
) -> None:
    created = await authoring.create_template(checked.db, shop.server.id, CLEAN)
    await authoring.set_test_model(checked.db, shop.server.id, "shipped", {"n": "A-1"})
    edit = TemplateFields(subject="Order {{ n }} shipped")
    await authoring.update_template(checked.db, shop.server.id, "shipped", edit, publish=False)
    url = f"/ui/servers/{shop.server.id}/templates/{created.template.id}"
    published = await people["marketer"].post(url + "/publish", version="2")
    assert published.status_code == 303 and "published=2" in published.headers["location"]


async def test_the_spam_score_panel_scores_the_editor_with_rules(
    checked: Platform, shop: Tenant, people: dict[str, Browser]
) -> None:
    url = await _draft(checked, shop)
    marta = people["marketer"]
    fields = {
        "variant": "default",
        "subject": SPAMMY.subject or "",
        "body": SPAMMY.html_body or "",
        "text": SPAMMY.text_body or "",
        "test_data": '{"n": "A-1"}',
    }
    scored = await marta.post(url, action="spamcheck", **fields)
    assert scored.status_code == 200
    assert 'id="spam-score"' in scored.text and "DEAR_FRIEND" in scored.text
    assert "Over the threshold: marketers cannot publish it." in scored.text
    clean = {**fields, "subject": "Your order", "body": "<p>It left today.</p>", "text": "Ok"}
    calm = await marta.post(url, action="spamcheck", **clean)
    assert "Under the threshold." in calm.text


async def test_the_live_preview_shows_the_content_lint(
    checked: Platform, shop: Tenant, people: dict[str, Browser]
) -> None:
    url = await _draft(checked, shop)
    marta = people["marketer"]
    body = '<p>Track it at <a href="https://bit.ly/abc">bit.ly</a></p><img src="a.png">'
    response = await marta.post(
        url + "/preview", variant="default", subject="Order", body=body, text="Order"
    )
    assert response.status_code == 200
    assert "Content checks" in response.text
    assert (
        'data-code="LinkShortener"' in response.text and 'data-code="AltMissing"' in response.text
    )


async def test_without_spamd_the_studio_says_spam_scoring_is_not_set_up(
    platform: Platform, tenant: Tenant
) -> None:
    url = await _draft(platform, tenant)
    browsers = await _browsers(platform, {"marta@shop.test": Role.MARKETER})
    marta = browsers["marketer"]
    try:
        page = await marta.client.get(url)
        assert "Spam scoring is not set up on this installation." in page.text
        panel = await marta.post(url, action="spamcheck", variant="default")
        assert "an administrator sets MISIVA_SPAMD_ADDR" in panel.text
        # Lint passes (no errors): without spamd, a marketer's publish is not blocked by it.
        published = await marta.post(url + "/publish", version="2")
        assert published.status_code == 303
    finally:
        await marta.client.aclose()
