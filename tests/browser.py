"""Fixtures for the browser tests: Debian's headless Chromium driven by Playwright against pytest-django's live server.

Import the fixture into a test module with ``from tests.browser import browser_page``; tests then ask for ``page``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_MISSING = f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"

# Playwright's own browser downloads are never used: the tests drive the distribution's Chromium.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    # Lets page.evaluate("player.play()") start audio without a click.
    "--autoplay-policy=no-user-gesture-required",
    # No sound on developer machines; the media clock advances with or without a sound card.
    "--mute-audio",
]

TIMEOUT_MS = 15_000


@pytest.fixture(name="page")
def browser_page(live_server) -> Iterator:
    """A fresh page in a fresh browser context (no cookies), with generous timeouts for slow CI machines."""
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API keeps an asyncio loop "running" in this thread while it is started, so
    # Django would refuse ORM calls from the test (SynchronousOnlyOperation). The loop only runs while
    # we are blocked inside a Playwright call and never touches the database, so the guard protects
    # nothing here. Setting it lets tests create or check rows whether or not the browser is up.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            context = browser.new_context(base_url=live_server.url, viewport={"width": 1200, "height": 800})
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            try:
                yield page
            finally:
                context.close()
                browser.close()
                # Django keeps connections in context-local storage, and the ORM calls made while
                # Playwright runs get their own context, hence their own connection: close it here,
                # or it outlives the test and blocks dropping the test database.
                connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def log_in(page, username: str, *, then: str | None = None) -> None:
    """Log ``username`` in through the login form (every test user has the conftest's password), landing on
    ``then``: the catalogue unless it says otherwise (most tests start from its songs; logging in without a ``next``
    lands on the home page, which tests/test_browser_home.py tests)."""
    from django.urls import reverse
    from playwright.sync_api import expect

    from tests.conftest import PASSWORD

    page.goto(f"{reverse('login')}?next={then or reverse('catalog:song_list')}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".who")).to_have_text(username)
    # The page's scripts (htmx, the player) run at "load": a click before that could be lost between a plain
    # navigation and htmx's (CI once stayed on the catalogue for 15 s after clicking a link there).
    page.wait_for_load_state("load")


def screenshot(page, name: str, *, full_page: bool = True) -> None:
    """Keep a screenshot when MUSREC_SCREENSHOT_DIR names a folder (for looking at pages; tests never need it)."""
    if folder := os.environ.get("MUSREC_SCREENSHOT_DIR"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)


@pytest.fixture(name="open_page")
def pages_at_sizes(page, live_server) -> Iterator:
    """Pages at a chosen size, each in its own context: ``open_page((390, 844), phone=True)`` is a phone (touch,
    mobile, twice the pixels); the contexts close with the test."""
    contexts = []

    def open_at(size: tuple[int, int], *, phone: bool):
        context = page.context.browser.new_context(
            base_url=live_server.url,
            viewport={"width": size[0], "height": size[1]},
            is_mobile=phone,
            has_touch=phone,
            device_scale_factor=2 if phone else 1,
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_at
    for context in contexts:
        context.close()
