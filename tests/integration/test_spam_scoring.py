"""Spam scores from a real spamd: the starter library scores clean, a spammy template scores
over the threshold with named rules, the API's spamcheck and publish answer with them, and
an installation without spamd says so instead of pretending."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from builders import Tenant
from misiva.accounts.domains import add_domain
from misiva.accounts.servers import create_server
from misiva.api.app import create_app
from misiva.authoring.content_checks import ContentChecker
from misiva.authoring.sync import push
from misiva.authoring.templates import TemplateFields, create_template, update_template
from misiva.config import Settings
from misiva.domain.content import Severity
from misiva.domain.enums import ErrorCode
from misiva.runtime.wiring import Platform, build_platform
from misiva.spam.spamd import SpamdClient, SpamdUnavailable
from misiva.starter import starter_dir

THRESHOLD = 5.0
SPAMMY_SUBJECT = "FREE!!! CLICK HERE TO CLAIM YOUR $1,000,000 PRIZE"
SPAMMY_HTML = """<html><body>
<p>DEAR FRIEND, YOU HAVE BEEN SELECTED!!! CLICK HERE FOR FREE MONEY.</p>
<p>100% FREE, NO RISK, ACT NOW! Limited time offer. Buy now, cheap viagra, make money fast,
earn $$$ from home. Wire transfer of US$10,000,000 million dollars to your bank account.</p>
<p><a href="https://shop.test/claim">CLICK HERE</a></p>
</body></html>"""
SPAMMY_TEXT = (
    "DEAR FRIEND, YOU HAVE BEEN SELECTED!!! CLICK HERE FOR FREE MONEY. 100% FREE, NO RISK, "
    "ACT NOW! Cheap viagra, make money fast. Wire transfer of US$10,000,000 to your account."
)


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
async def api(checked: Platform, shop: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(checked.api_deps()))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://misiva.test",
        headers={"X-Postmark-Server-Token": shop.token, "Accept": "application/json"},
    ) as client:
        yield client


async def make_spammy(platform: Platform, server_id: int) -> int:
    fields = TemplateFields(
        name="Prize", alias="prize", subject=SPAMMY_SUBJECT, html_body=SPAMMY_HTML,
        text_body=SPAMMY_TEXT,
    )  # fmt: skip
    return (await create_template(platform.db, server_id, fields)).template.id


async def test_the_starter_library_scores_clean_and_lints_without_errors(
    checked: Platform, shop: Tenant
) -> None:
    changes = await push(checked.db, shop.server.id, starter_dir() / "templates")
    checker = checked.api_deps().content_checks
    timings = []
    for change in changes:
        _, report = await checker.check_version(
            checked.db, shop.server, change.alias, sender_domain="shop.test"
        )
        assert len(report.variants) == 2, change.alias  # es and en
        for variant in report.variants:
            assert variant.problem is None, (change.alias, variant.problem)
            assert variant.spam is not None
            timings.append(variant.spam.seconds)
            hits = [(r.name, r.score) for r in variant.spam.rules]
            assert variant.spam.score < THRESHOLD, (change.alias, variant.variant, hits)
        errors = report.findings(Severity.ERROR)
        assert not errors, (change.alias, errors)
        assert not report.blockers(), (change.alias, report.blockers())
    timings.sort()
    print(f"spamd: {len(timings)} checks, median {timings[len(timings) // 2] * 1000:.0f} ms")


async def test_a_spammy_template_scores_over_the_threshold_with_named_rules(
    checked: Platform, shop: Tenant
) -> None:
    template_id = await make_spammy(checked, shop.server.id)
    checker = checked.api_deps().content_checks
    _, report = await checker.check_version(checked.db, shop.server, template_id)
    assert report.score is not None and report.score >= THRESHOLD
    assert report.over_threshold
    worst = report.worst
    assert worst is not None and worst.spam is not None
    names = {rule.name for rule in worst.spam.rules}
    assert "DEAR_FRIEND" in names
    assert all(rule.description for rule in worst.spam.rules if rule.score >= 0.5)
    assert any("spam score" in reason for reason in report.blockers())


async def test_the_api_spamcheck_answers_score_threshold_and_rules(
    checked: Platform, shop: Tenant, api: httpx.AsyncClient
) -> None:
    await make_spammy(checked, shop.server.id)
    started = time.perf_counter()
    response = await api.post("/templates/prize/spamcheck")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["Alias"] == "prize" and body["Version"] == 1
    assert body["Score"] >= THRESHOLD and body["Threshold"] == THRESHOLD and body["IsSpam"]
    assert body["SpamCheck"] == "Done"
    rule = next(r for r in body["Rules"] if r["Name"] == "DEAR_FRIEND")
    assert rule["Score"] > 0 and "Dear Friend" in rule["Description"]
    assert elapsed < 10


async def test_an_api_publish_warns_with_the_checks_and_publishes(
    checked: Platform, shop: Tenant, api: httpx.AsyncClient
) -> None:
    """The API is the developers' door: it never refuses a publish for its content."""
    template_id = await make_spammy(checked, shop.server.id)
    draft = TemplateFields(subject=SPAMMY_SUBJECT + " NOW", locale="default")
    await update_template(checked.db, shop.server.id, template_id, draft, publish=False)
    response = await api.post("/templates/prize/publish", json={"Version": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["TemplateId"] == template_id
    checks = body["ContentChecks"]
    assert checks["IsSpam"] and checks["Blockers"]
    assert (await api.get("/templates/prize/versions")).json()["PublishedVersion"] == 2


async def test_a_spamd_that_does_not_answer_is_a_503_with_its_own_code(
    checked: Platform, shop: Tenant
) -> None:
    await make_spammy(checked, shop.server.id)
    deps = checked.api_deps()
    gone = ContentChecker(SpamdClient("127.0.0.1", 9, timeout_seconds=2), THRESHOLD)
    app = create_app(type(deps)(**{**_fields(deps), "content_checks": gone}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://misiva.test",
        headers={"X-Postmark-Server-Token": shop.token},
    ) as client:
        response = await client.post("/templates/prize/spamcheck")
    assert response.status_code == 503
    assert response.json()["ErrorCode"] == ErrorCode.SPAM_CHECK_UNAVAILABLE
    with pytest.raises(SpamdUnavailable):
        await gone.require_spamd().ping()


def _fields(deps: object) -> dict[str, object]:
    return {name: getattr(deps, name) for name in deps.__dataclass_fields__}  # type: ignore[attr-defined]


async def test_without_spamd_the_check_says_it_is_not_configured(
    platform: Platform, tenant: Tenant, api_plain: httpx.AsyncClient
) -> None:
    await make_spammy(platform, tenant.server.id)
    response = await api_plain.post("/templates/prize/spamcheck", json={})
    assert response.status_code == 422
    body = response.json()
    assert body["ErrorCode"] == ErrorCode.SPAM_CHECK_NOT_CONFIGURED
    assert "MISIVA_SPAMD_ADDR" in body["Message"]
    published = await api_plain.post("/templates/prize/publish", json={"Version": 1})
    checks = published.json()["ContentChecks"]
    assert checks["SpamCheck"] == "NotConfigured" and checks["Score"] is None


@pytest.fixture
async def api_plain(platform: Platform, tenant: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(platform.api_deps()))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://misiva.test",
        headers={"X-Postmark-Server-Token": tenant.token, "Accept": "application/json"},
    ) as client:
        yield client
