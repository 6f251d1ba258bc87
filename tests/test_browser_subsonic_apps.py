"""The Apps page in the browser, at a desktop's and a phone's size: make a secret, copy it, a player signs in with it.

Set MUSREC_SCREENSHOT_DIR to a folder to keep screenshots of the page with a new secret, at both sizes.
"""

from __future__ import annotations

import pytest

from tests.browser import CHROMIUM, CHROMIUM_MISSING, browser_page, log_in, screenshot  # noqa: F401

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.mark.parametrize("size", SIZES)
def test_a_secret_made_on_the_apps_page_signs_a_player_in(page, alice, size):
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, "alice")
    page.goto("/apps/")
    expect(page.get_by_role("heading", name="Listen in other apps")).to_be_visible()
    page.get_by_role("button", name="Make an API secret").click()
    secret = page.locator("[data-api-secret]")
    expect(secret).to_be_visible()
    expect(page.locator(".apps .messages")).to_contain_text("this once")
    # Nothing on the page is wider than the screen: a long secret wraps rather than widening a phone's page.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"apps-{size}")
    answer = page.request.get("/rest/ping.view", params={"u": "alice", "p": secret.inner_text(), "f": "json"})
    assert answer.json()["subsonic-response"]["status"] == "ok"
    page.reload()
    expect(page.locator("[data-api-secret]")).to_have_count(0)
    # Replacing the secret takes a second, deliberate press: the button is folded away first.
    expect(page.get_by_role("button", name="Make a new secret")).to_be_hidden()
    page.get_by_text("Make a new secret or revoke this one…").click()
    expect(page.get_by_role("button", name="Make a new secret")).to_be_visible()
