"""The UI tests' fixtures: Debian's Chromium driven by Playwright, and an installation with two
servers and three users (ui_harness.UI)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from harness import Misiva
from ui_harness import CHROMIUM, HAVE_CHROMIUM, IN_CI, PASSWORD, UI


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not HAVE_CHROMIUM:
        if IN_CI:
            pytest.fail("Chromium is required in CI: `make test` installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    # The async API: the sync one runs an event loop on the test's thread, where the
    # database fixtures run theirs.
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            # As root in a container, with no network: the flags Debian's Chromium needs here.
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield launched
        await launched.close()


@pytest.fixture
def ui(misiva_factory: Callable[..., Misiva]) -> UI:
    misiva = misiva_factory()
    tokens = {
        "shop": misiva.setup_tenant("shop", "shop.test")[0],
        "other": misiva.setup_tenant("other", "other.test")[0],
    }
    for email, role, servers in (
        ("owner@shop.test", "owner", ()),
        ("marta@shop.test", "marketer", ("shop",)),
        ("dev@shop.test", "developer", ("shop",)),
    ):
        args = [f"--server={s}" for s in servers]
        misiva.cli(
            "users", "create", email, "--role", role, *args, "--password-stdin", stdin=PASSWORD
        )
    misiva.serve()
    return UI(misiva, tokens)
