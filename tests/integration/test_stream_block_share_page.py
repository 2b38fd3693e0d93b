"""The streams page's "Largest share of a message for content blocks (%)" field, in-process
over both databases: saved, emptied back to the default, refused with a message when out of
bounds, not applicable on a Broadcasts stream, and only for those who may change streams."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from builders import Tenant
from misiva.accounts.audit import recent
from misiva.accounts.users import create_user, sign_in
from misiva.api.app import create_app
from misiva.domain.users import Role
from misiva.runtime.wiring import Platform
from misiva.storage import streams as stream_store
from misiva.web.deps import SESSION_COOKIE
from misiva.web.mount import mount_ui

PASSWORD = "correct horse battery staple"
FIELDS = {"name": "Default Transactional Stream", "description": "", "track_links": "None"}


# A signed-in user's client, and their session's CSRF token.
User = tuple[httpx.AsyncClient, str]


@pytest.fixture
async def users(platform: Platform, tenant: Tenant) -> AsyncIterator[dict[str, User]]:
    app = mount_ui(create_app(platform.api_deps()), platform.web_deps())
    found: dict[str, User] = {}
    async with contextlib.AsyncExitStack() as stack:
        for name, role, locale in (
            ("dev", Role.DEVELOPER, "en"),
            ("ana", Role.DEVELOPER, "es"),
            ("marta", Role.MARKETER, "en"),
        ):
            email = f"{name}@shop.test"
            await create_user(
                platform.db, email, PASSWORD, role, server_names=("shop",), locale=locale
            )
            signed = await sign_in(platform.db, email, PASSWORD)
            assert signed is not None
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://misiva.test",
                cookies={SESSION_COOKIE: signed[0]},
            )
            found[name] = (await stack.enter_async_context(client), signed[1].csrf_token)
        yield found


async def _post(user: User, url: str, **fields: str) -> httpx.Response:
    """The stream's form as posted, with these fields changed."""
    client, csrf = user
    return await client.post(url, data={"csrf": csrf, **FIELDS, **fields})


async def _share(platform: Platform, tenant: Tenant, stream_id: str) -> int | None:
    async with platform.db.reading() as tx:
        stream = await stream_store.get_stream(tx, tenant.server.id, stream_id)
    assert stream is not None
    return stream.max_block_share


async def test_a_developer_sets_and_resets_the_share_and_bad_input_says_why(
    platform: Platform, tenant: Tenant, users: dict[str, User]
) -> None:
    base = f"/ui/servers/{tenant.server.id}/streams"
    dev = users["dev"]
    shown = await dev[0].get(base)
    assert shown.status_code == 200
    assert 'id="share-outbound" name="max_block_share"' in shown.text
    assert 'placeholder="30"' in shown.text and "Empty: the default, 30%." in shown.text
    # The broadcast stream's form has no field, and says why.
    assert 'id="share-broadcast"' not in shown.text
    assert "not applicable, a Broadcasts stream has no limit." in shown.text
    saved = await _post(dev, f"{base}/outbound", max_block_share="25")
    assert saved.status_code == 303 and "done=edited" in saved.headers["location"]
    assert await _share(platform, tenant, "outbound") == 25
    assert 'inputmode="numeric" value="25"' in (await dev[0].get(base)).text
    entry = (await recent(platform.db, server_id=tenant.server.id))[0].entry
    assert entry.action == "stream.edit" and entry.details["max_block_share"] == "25"
    for bad in ("101", "-5", "twenty", "12.5"):
        refused = await _post(dev, f"{base}/outbound", max_block_share=bad)
        assert refused.status_code == 422
        assert "is a whole number from 0 to 100" in refused.text
    assert await _share(platform, tenant, "outbound") == 25
    emptied = await _post(dev, f"{base}/outbound", max_block_share=" ")
    assert emptied.status_code == 303
    assert await _share(platform, tenant, "outbound") is None
    # The broadcast stream's form posts no share: saving it changes nothing there.
    broadcast = await _post(dev, f"{base}/broadcast", name="Promotions")
    assert broadcast.status_code == 303
    assert await _share(platform, tenant, "broadcast") is None


async def test_spanish_and_a_marketer_may_not_change_streams(
    platform: Platform, tenant: Tenant, users: dict[str, User]
) -> None:
    base = f"/ui/servers/{tenant.server.id}/streams"
    marta = users["marta"]
    assert (await _post(marta, f"{base}/outbound", max_block_share="90")).status_code == 403
    assert await _share(platform, tenant, "outbound") is None
    ana = users["ana"]
    spanish = await ana[0].get(base)
    assert "Máximo de un mensaje para bloques de contenido (%)" in spanish.text
    assert "Vacío: el valor por defecto, 30%." in spanish.text
    assert "no se aplica, un flujo de Difusiones no tiene límite." in spanish.text
    refused = await _post(ana, f"{base}/outbound", max_block_share="200")
    assert refused.status_code == 422 and "es un número entero de 0 a 100" in refused.text
