"""Photograph a running Misiva for the docs: the dashboard, the template studio and a message.

    python tools/screenshots.py --url http://127.0.0.1:8025 --email demo@misiva.test \\
        --password '...' --out docs/img

Signs in through the real form in Debian's Chromium (Playwright, no downloaded browser), finds
the pages by following the UI's own links, and saves 1280x800 PNGs. A page that does not
answer 200 is named on stderr and the script exits 1 (after taking every page it could).
`make screenshots` runs it against a freshly seeded demo database.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, ViewportSize, async_playwright

CHROMIUM = "/usr/bin/chromium"
# As root in a container with no network: the flags Debian's Chromium needs (tests/web too).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}


class PageFailed(Exception):
    """A page the docs need did not answer 200, or a link to it was not there."""


@dataclass(frozen=True)
class Shot:
    name: str
    path: Path


def wait_for(url: str, seconds: float) -> None:
    """Poll until Misiva answers (it may still be starting), bounded by `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url + "/ui/login", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: {url} did not answer within {seconds:.0f} s")
        time.sleep(0.2)


async def visit(page: Page, url: str) -> None:
    response = await page.goto(url)
    status = response.status if response else 0
    if status != 200:
        raise PageFailed(f"{url} answered {status}")
    await page.wait_for_load_state("networkidle")


# Each link with the text of the row or item it sits in (where a list names a template's alias).
_LINKS = "els => els.map(e => [e.href, (e.closest('tr, li') || e).textContent])"


async def first_link(page: Page, pattern: str, what: str, prefer: str = "") -> str:
    """The first link whose href matches `pattern` (a regex), as a full URL; the first one in a
    row that mentions `prefer`, if there is one."""
    links = [
        (str(href), str(text))
        for href, text in await page.locator("a[href]").evaluate_all(_LINKS)
        if re.search(pattern, str(href))
    ]
    if not links:
        raise PageFailed(f"no link to {what} on {page.url}")
    return next((href for href, text in links if prefer and prefer in text), links[0][0])


async def sign_in(page: Page, base: str, email: str, password: str) -> None:
    await visit(page, base + "/ui/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r".*/ui/?$"))


async def take_all(base: str, email: str, password: str, out: Path) -> list[str]:
    """Every screenshot that can be taken; returns what failed."""
    failed: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport=VIEWPORT, locale="en-GB")
            await sign_in(page, base, email, password)
            server = await first_link(page, r"/ui/servers/\d+/", "a server")
            root = re.sub(r"(/ui/servers/\d+)/.*", r"\1", server)
            # The studio's list may link to a new template first: the first existing one is
            # the picture worth taking.
            template = rf"{re.escape(root)}/templates/(?!new\b)[^?#/]+"
            for name, steps in (
                ("dashboard", [f"{root}/dashboard"]),
                (
                    "template-studio",
                    [f"{root}/templates", (template, "a template", "order-confirmation")],
                ),
                ("message", [f"{root}/messages", (r"/ui/messages/[0-9a-f-]+$", "a message")]),
            ):
                try:
                    await _follow(page, steps)
                    await page.screenshot(path=str(out / f"{name}.png"))
                    print(f"saved {out / f'{name}.png'} ({page.url})")
                except PageFailed as problem:
                    failed.append(f"{name}: {problem}")
        finally:
            await browser.close()
    return failed


async def _follow(page: Page, steps: list[Any]) -> None:
    """Go to a URL, then follow the first link matching each (pattern, what) after it."""
    for step in steps:
        if isinstance(step, str):
            await visit(page, step)
        else:
            await visit(page, await first_link(page, *step))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", required=True, help="Misiva's base URL, e.g. http://127.0.0.1:8025"
    )
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--wait", type=float, default=30.0, help="Seconds to wait for Misiva.")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    wait_for(base, args.wait)
    args.out.mkdir(parents=True, exist_ok=True)
    failed = asyncio.run(take_all(base, args.email, args.password, args.out))
    for problem in failed:
        print(f"screenshots: {problem}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
