"""In-process fixtures: the real app over a real database, called through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from builders import Tenant
from misiva.accounts.domains import add_domain
from misiva.accounts.servers import create_server
from misiva.api.app import create_app
from misiva.config import Settings
from misiva.runtime.wiring import Platform, build_platform


@pytest.fixture
async def platform(database_url: str) -> AsyncIterator[Platform]:
    built = build_platform(Settings(database_url=database_url, routes="*=capture"))
    yield built
    await built.close()


@pytest.fixture
async def tenant(platform: Platform) -> Tenant:
    created = await create_server(platform.db, "shop")
    added = await add_domain(platform.db, "shop.test", "shop")
    return Tenant(server=created.server, domain=added.domain, token=created.api_token)


@pytest.fixture
async def api(platform: Platform, tenant: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(platform.api_deps()))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://misiva.test",
        headers={"X-Postmark-Server-Token": tenant.token, "Accept": "application/json"},
    ) as client:
        yield client
