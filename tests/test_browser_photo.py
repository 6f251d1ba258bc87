"""'A photo → music' in the browser at a desktop's and a phone's size: send a photo, see its palette and reading,
nudge it, play a song.

Set MUSREC_SCREENSHOT_DIR to a folder to keep screenshots of the pages at both sizes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, CHROMIUM_MISSING, TIMEOUT_MS, browser_page, log_in, pages_at_sizes, screenshot  # noqa: F401
from tests.test_photo_mood import NAVY, encoded, photo_of
from tests.test_photo_search import CALM_SAD, LOUD_HAPPY
from tests.test_sounds_like_search import CALM, make_described_song

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.fixture
def songs(transactional_db) -> None:
    make_described_song("Blue Hour", tags=CALM_SAD, seed=1, energy=0.1, loudness_db=-30.0, tempo_bpm=70.0)
    make_described_song("Night Drift", tags=CALM, seed=2, energy=0.2, loudness_db=-26.0, tempo_bpm=82.0)
    make_described_song("Sunburst", tags=LOUD_HAPPY, seed=3, energy=0.9, loudness_db=-6.0, tempo_bpm=138.0)


@pytest.fixture
def dusk_photo(tmp_path) -> Path:
    """A dark blue evening: a navy sky over a darker ground, with a little grain."""
    image = photo_of(NAVY, size=(900, 600))
    image.paste(photo_of((10, 14, 30), size=(900, 200)), (0, 400))
    path = tmp_path / "dusk.jpg"
    path.write_bytes(encoded(image, "JPEG", quality=90))
    return path


@pytest.mark.parametrize("viewport", list(SIZES))
def test_a_photo_finds_songs_that_match_its_mood_and_a_nudge_changes_them(
    open_page, alice, songs, dusk_photo, viewport
):
    page = open_page(SIZES[viewport], phone=viewport == "phone")
    log_in(page, "alice")
    page.get_by_role("link", name="find music for a photo").click()
    expect(page.get_by_role("heading", name="A photo → music", level=1)).to_be_visible()
    screenshot(page, f"{viewport}-photo-upload")

    page.get_by_label("Photo").set_input_files(dusk_photo)
    page.get_by_role("button", name="Read its mood").click()
    expect(page.get_by_role("heading", name="Music for your photo", level=1)).to_be_visible()
    expect(page.locator("#photo-reading")).to_contain_text("dark")
    expect(page.locator("#photo-reading")).to_contain_text("cold")
    expect(page.locator(".palette .swatch").first).to_be_visible()
    assert 1 <= page.locator(".palette .swatch").count() <= 5
    expect(page.locator("img[alt='The photo you sent']")).to_be_visible()
    rows = page.locator("#photo-songs tbody tr")
    expect(rows.first.locator("td.title")).to_contain_text("Blue Hour")
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    screenshot(page, f"{viewport}-photo-reading")

    # Livelier and brighter, all the way: the loud, happy, fast song comes first, without sending the photo again.
    for name in ("Calmer or livelier", "Darker or brighter"):
        slider = page.get_by_label(name)
        slider.focus()
        for _ in range(8):
            slider.press("ArrowRight")
        slider.dispatch_event("change")
    expect(page).to_have_url(re.compile(r"brighter=4&livelier=4"))
    expect(page.locator("#results .nudged")).to_contain_text("nudged brighter and livelier → energetic, happy, fast")
    expect(rows.first.locator("td.title")).to_contain_text("Sunburst")
    screenshot(page, f"{viewport}-photo-nudged")

    page.get_by_role("button", name="Play Sunburst").click()
    page.wait_for_function("() => !document.querySelector('#player-bar audio').paused")
    expect(page.locator("#player-bar .player-title")).to_have_text("Sunburst")


def test_play_all_queues_the_songs_and_a_non_image_is_refused(open_page, alice, songs, dusk_photo, tmp_path):
    page = open_page(SIZES["desktop"], phone=False)
    log_in(page, "alice")
    page.goto("/photo/")
    not_a_photo = tmp_path / "notes.jpg"
    not_a_photo.write_text("shopping list: milk, eggs")
    page.get_by_label("Photo").set_input_files(not_a_photo)
    page.get_by_role("button", name="Read its mood").click()
    expect(page.get_by_role("alert")).to_contain_text("not a photo Musrec can read")
    screenshot(page, "desktop-photo-refused", full_page=False)

    page.get_by_label("Photo").set_input_files(dusk_photo)
    page.get_by_role("button", name="Read its mood").click()
    page.get_by_role("button", name="▶ Play all").click()
    page.wait_for_function("() => !document.querySelector('#player-bar audio').paused")
    expect(page.locator("#player-bar .player-title")).to_have_text("Blue Hour")

    page.get_by_role("link", name="← A photo → music").click()
    expect(page.get_by_role("heading", name="Your photos")).to_be_visible()
    expect(page.locator(".photo-list li")).to_have_count(1)
    expect(page.locator(".photo-list li")).to_contain_text("dark")
    screenshot(page, "desktop-photo-list", full_page=False)
