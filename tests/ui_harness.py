"""What the UI tests share: the installation they drive, and signing in through the real form."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from harness import Misiva

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
PASSWORD = "correct horse battery staple"
IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass
class UI:
    """An installation with two servers (their API tokens by name) and three users."""

    misiva: Misiva
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return self.misiva.url


async def sign_in(browser: Any, misiva: UI, email: str, password: str = PASSWORD) -> Any:
    page = await browser.new_page(locale="en-GB")
    await page.goto(misiva.url + "/")
    assert page.url.endswith("/ui/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    return page
