"""'Sounds like…' in the browser at a desktop's and a phone's size: describe, see the chips and songs, play one.

Set MUSREC_SCREENSHOT_DIR to a folder to keep screenshots of the page at both sizes.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.browser import CHROMIUM, CHROMIUM_MISSING, TIMEOUT_MS, browser_page, log_in, pages_at_sizes, screenshot  # noqa: F401
from tests.test_sounds_like_search import CALM, LOUD, PIANO, make_described_song

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.fixture
def described(transactional_db) -> None:
    make_described_song("Still Water", tags={**CALM, **PIANO}, seed=1, energy=0.1, loudness_db=-30.0, tempo_bpm=70.0)
    make_described_song("Soft Rain", tags=CALM, seed=2, energy=0.2, loudness_db=-27.0, tempo_bpm=80.0)
    make_described_song("Thunder", tags=LOUD, seed=3, energy=0.9, loudness_db=-7.0, tempo_bpm=172.0)


@pytest.mark.parametrize("viewport", list(SIZES))
def test_a_description_finds_songs_that_play(open_page, alice, described, viewport):
    page = open_page(SIZES[viewport], phone=viewport == "phone")
    log_in(page, "alice")
    screenshot(page, f"{viewport}-browse-with-describe-link", full_page=False)
    page.get_by_role("link", name="Describe it in words: Sounds like…").click()
    expect(page.get_by_role("heading", name="Sounds like…", level=1)).to_be_visible()

    # Typing asks as one types (after a pause); Enter asks at once, whatever the machine's load did to the pause.
    page.get_by_label("Describe the music").fill("calm piano hummingbirdish")
    page.get_by_label("Describe the music").press("Enter")
    understood = page.locator(".understood .chip:not(.unknown)")
    expect(understood).to_have_text(["calm", "piano"])
    expect(page.locator(".understood .chip.unknown")).to_have_text(["hummingbirdish"])
    rows = page.locator("#described-songs tbody tr")
    expect(rows.first.locator("td.title")).to_contain_text("Still Water")
    expect(rows).to_have_count(3)
    assert "q=calm%20piano%20hummingbirdish" in page.url
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    screenshot(page, f"{viewport}-sounds-like")

    page.get_by_role("button", name="Play Still Water").click()
    page.wait_for_function("() => !document.querySelector('#player-bar audio').paused")
    expect(page.locator("#player-bar .player-title")).to_have_text("Still Water")


def test_an_unknown_description_says_so_and_an_example_replaces_it(open_page, alice, described):
    page = open_page(SIZES["desktop"], phone=False)
    log_in(page, "alice", then=reverse("recommender:sounds_like"))
    # htmx listens once the page's scripts have run; Enter asks at once, whatever the load did to the typing pause.
    page.wait_for_load_state("load")
    page.get_by_label("Describe the music").fill("glorp blorp")
    page.get_by_label("Describe the music").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("No word of this description is in the vocabulary")
    expect(page.locator(".understood .chip.unknown")).to_have_text(["glorp", "blorp"])
    expect(page.locator("#described-songs")).to_have_count(0)
    screenshot(page, "desktop-sounds-like-unknown")

    page.get_by_role("link", name="calm piano").click()
    expect(page.get_by_label("Describe the music")).to_have_value("calm piano")
    expect(page.locator(".understood .chip")).to_have_text(["calm", "piano"])
    expect(page.locator("#described-songs tbody tr").first).to_contain_text("Still Water")
