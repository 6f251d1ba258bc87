"""More like this, blended with what people play together (issue 14), in the browser at a desktop's and a phone's
size: each song says which side placed it, on its own line under the title. Set MUSREC_SCREENSHOT_DIR to a folder to
keep a screenshot of the list at both sizes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.browser import CHROMIUM, CHROMIUM_MISSING, browser_page, log_in, pages_at_sizes, screenshot  # noqa: F401
from tests.test_hybrid import FAR, SEED, TOGETHER_TEXT, trained_fixture, world_fixture  # noqa: F401

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def box(locator) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None
    return found


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    """Whether two boxes share more than a pixel's sliver."""
    wide = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    high = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    return wide > 1 and high > 1


@pytest.mark.parametrize("viewport", list(SIZES))
def test_more_like_this_says_which_side_placed_each_song(open_page, alice, trained, viewport):
    page = open_page(SIZES[viewport], phone=viewport == "phone")
    log_in(page, "alice", then=trained.seed.get_absolute_url())

    rows = page.locator("#recommendations ol.playlist li")
    expect(rows.first).to_be_visible()
    far = rows.filter(has=page.get_by_role("link", name=FAR, exact=True))
    expect(far.locator(".reason")).to_have_text(TOGETHER_TEXT)
    expect(rows.locator(".reason").first).to_be_visible()
    assert rows.count() == rows.locator(".reason").count()  # every song says why, once one is placed by listening
    expect(rows.filter(has_text=f"Sounds like “{SEED}”").first).to_be_visible()

    far.scroll_into_view_if_needed()
    screenshot(page, f"{viewport}-more-like-this-blended")  # before the checks: a failing layout is worth a look

    # The reason runs on a line of its own under the title, inside its row, and never sideways off the page.
    for row in (far, rows.first):
        title, reason, whole = box(row.locator(".what")), box(row.locator(".reason")), box(row)
        assert reason["y"] >= title["y"] + title["height"] - 2, (title, reason)
        assert whole["x"] <= reason["x"] and reason["x"] + reason["width"] <= whole["x"] + whole["width"] + 1
        assert reason["y"] + reason["height"] <= whole["y"] + whole["height"] + 1
        assert row.locator(".reason").evaluate("(el) => el.scrollWidth <= el.clientWidth + 1")
        # Nor does it run into the buttons or the match (a phone wraps the row's pieces onto lines of their own).
        for other in (".song-actions", ".similarity", ".what"):
            assert not overlap(reason, box(row.locator(other))), (other, reason, box(row.locator(other)))
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")

    # The whole page (opened by its address, without JavaScript's help) shows the same reasons.
    page.goto(reverse("recommender:more_like_this", args=[trained.seed.pk]))
    expect(page.locator("ol.playlist li .reason").filter(has_text=TOGETHER_TEXT)).to_have_count(1)
    screenshot(page, f"{viewport}-more-like-this-blended-page")
