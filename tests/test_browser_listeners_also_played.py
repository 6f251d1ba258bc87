"""“Listeners also played” on a song page in the browser, at a desktop's and a phone's size (issue 14). Set
MUSREC_SCREENSHOT_DIR to a folder to keep a screenshot of the song page with the section at both sizes."""

from __future__ import annotations

import pytest

from recommender.collaborative import train_collaborative_model
from tests.browser import CHROMIUM, CHROMIUM_MISSING, browser_page, log_in, pages_at_sizes, screenshot  # noqa: F401
from tests.test_listeners_also_played import crowd_fixture  # noqa: F401

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def no_sideways_scroll(page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")


@pytest.mark.parametrize("viewport", list(SIZES))
def test_the_song_page_shows_what_its_listeners_also_play_and_it_plays(open_page, alice, crowd, viewport):
    train_collaborative_model()
    page = open_page(SIZES[viewport], phone=viewport == "phone")
    log_in(page, "alice", then=crowd.seed.get_absolute_url())

    section = page.locator("#listeners-also-played")
    expect(section.get_by_role("heading", name="Listeners also played")).to_be_visible()
    expect(section).to_contain_text("People who play this also play these — from what everyone plays, never who")
    rows = section.locator("ol.playlist li")
    expect(rows).to_have_count(3)
    expect(section).not_to_contain_text("Blue Hour")  # the jazz the seed's listeners skip
    expect(page.locator("#recommendations ol.playlist li").first).to_be_visible()  # More like this is there too
    # Each song with its cover, as in the page's other lists (they load lazily: scrolled to, they must load).
    section.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#listeners-also-played img.cover')]"
        ".filter((img) => img.complete && img.naturalWidth > 0).length === 3"
    )
    no_sideways_scroll(page)
    screenshot(page, f"{viewport}-listeners-also-played")

    first = rows.first
    title = first.locator(".what a").first.inner_text()
    first.locator("button.play").click()
    page.wait_for_function("() => !document.querySelector('#player-bar audio').paused")
    expect(page.locator("#player-bar .player-title")).to_have_text(title)


def test_a_song_without_enough_listeners_shows_no_trace_of_the_section(page, alice, crowd):
    train_collaborative_model()
    log_in(page, "alice", then=crowd.rare.get_absolute_url())  # three listeners, the setting asks for five

    expect(page.locator("#recommendations ol.playlist li").first).to_be_visible()
    # The placeholder asked and went away (waited for: it is there until the answer comes), leaving nothing.
    expect(page.locator("[hx-get*='listeners-also-played']")).to_have_count(0)
    expect(page.get_by_text("Listeners also played")).to_have_count(0)
