"""What schemathesis found in the API, kept as plain regression tests on both backends."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import httpx
import pytest

from misiva.accounts.servers import create_server
from misiva.api.app import create_app
from misiva.config import Settings
from misiva.runtime.wiring import Platform, build_platform

HUGE = [2**31, 2**63, 2**64, -(2**63) - 1]


@pytest.fixture
async def platform(database_url: str) -> AsyncIterator[Platform]:
    built = build_platform(Settings(database_url=database_url, routes="*=capture"))
    yield built
    await built.close()


@pytest.fixture
async def api(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    created = await create_server(platform.db, "shop")
    transport = httpx.ASGITransport(app=create_app(platform.api_deps()))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://misiva.test",
        headers={"X-Postmark-Server-Token": created.api_token, "Accept": "application/json"},
    ) as client:
        yield client


def _postmark_error(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"ErrorCode", "Message"}, body
    assert isinstance(body["ErrorCode"], int) and body["Message"]
    return dict(body)


ID_PATHS = [
    ("GET", "/bounces/{}"),
    ("GET", "/bounces/{}/dump"),
    ("PUT", "/bounces/{}/activate"),
    ("GET", "/webhooks/{}"),
    ("DELETE", "/webhooks/{}"),
    ("POST", "/webhooks/deliveries/{}/replay"),
    ("GET", "/content-blocks/{}"),
    ("GET", "/content-blocks/{}/results"),
    ("DELETE", "/content-blocks/{}"),
    ("GET", "/dmarc/reports/{}"),
]


async def test_ids_past_the_column_range_are_a_postmark_422_not_a_500(
    api: httpx.AsyncClient,
) -> None:
    # Found by schemathesis: 9223372036854775808 reached SQLite's driver (OverflowError) and
    # PostgreSQL's (DataError past 2**31 for INTEGER ids), and the API answered 500.
    for (method, path), value in itertools.product(ID_PATHS, HUGE):
        response = await api.request(method, path.format(value))
        assert response.status_code < 500, (method, path.format(value), response.text)
        if value >= 2**63 or value < -(2**63) or response.status_code != 200:
            _postmark_error(response)


OFFSET_QUERIES = [
    "/bounces?count=10&offset={}",
    "/messages/outbound?count=10&offset={}",
    "/contacts?count=10&offset={}",
    "/events?count=10&offset={}",
    "/webhooks/deliveries/log?count=10&offset={}",
    "/capture/messages?count=10&offset={}",
    "/subscriptions?count=10&offset={}",
    "/dmarc/reports?count=10&offset={}",
    "/conversions?count=10&offset={}",
    "/templates?count=10&offset={}",
    "/scheduled-messages?count=10&offset={}",
    "/alerts?count=10&offset={}",
]


async def test_huge_offsets_never_answer_500(api: httpx.AsyncClient) -> None:
    # Found by hand beside schemathesis (these lists read their own query parameters, so the
    # document does not declare them): an offset of 2**63 overflowed both drivers.
    for query, value in itertools.product(OFFSET_QUERIES, HUGE):
        response = await api.get(query.format(value))
        assert response.status_code < 500, (query.format(value), response.text)
        if response.status_code != 200:
            _postmark_error(response)


async def test_bad_query_parameters_answer_in_postmarks_shape(api: httpx.AsyncClient) -> None:
    # FastAPI's own validation answer was `{"detail": [...]}`, unreadable to Postmark clients.
    body = _postmark_error(await api.get("/contacts", params={"count": "many"}))
    assert body["ErrorCode"] == 300
    assert "count" in str(body["Message"])


async def test_the_document_declares_postmark_errors_on_every_operation(
    api: httpx.AsyncClient,
) -> None:
    document = (await api.get("/openapi.json")).json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status in ("401", "422"):
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/PostmarkError"}, (
                    method,
                    path,
                )


NUMBER_PATHS = [
    "/templates/{}",
    "/templates/{}/versions",
    "/scheduled-messages?trigger={}",
    "/alerts?count=10&offset={}",
    "/dmarc/reports?count={}",
    "/templates?count=10&offset={}",
    "/scheduled-messages?count=10&offset={}",
    "/messages/outbound?count=10&offset={}",
]


async def test_numbers_that_str_isdigit_accepts_never_answer_500(api: httpx.AsyncClient) -> None:
    # `str.isdigit()` accepts "²" (int() refuses it) and digits of any length (the drivers
    # refuse them): each reached int() or the database and answered 500.
    for path, number in itertools.product(
        NUMBER_PATHS, ["99999999999999999999", "\u00b2", "\u0661", "-0"]
    ):
        response = await api.get(path.format(number))
        assert response.status_code < 500, (path.format(number), response.text)
        if response.status_code != 200:
            _postmark_error(response)
