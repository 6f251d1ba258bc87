"""Filters by tempo, energy and mood in the browser (issue 13 §1): the catalogue and More like this, at a desktop's
and a phone's size. Set MUSREC_SCREENSHOT_DIR to a folder to keep screenshots of both pages, filtered."""

from __future__ import annotations

import numpy as np
import pytest

from tests.browser import CHROMIUM, CHROMIUM_MISSING, TIMEOUT_MS, browser_page, log_in, pages_at_sizes, screenshot  # noqa: F401
from tests.factories import make_song
from tests.test_song_filters import analysed, unit

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
D = 200


@pytest.fixture
def songs() -> dict[str, int]:
    """A seed (120 BPM) and ten songs near it: "Slow calm" ones nearest, "Fast lively" ones further out."""
    rng = np.random.default_rng(21)
    seed = unit(rng.standard_normal(D))
    ids = {"seed": analysed(make_song(title="Seed", artist="Seeder"), seed, mood="calm", tempo=120, energy=0.3).pk}
    for i in range(1, 6):
        analysed(
            make_song(title=f"Slow calm {i}", artist=f"Slow artist {i}"),
            seed + 0.2 * unit(rng.standard_normal(D)),
            mood="calm",
            tempo=70,
            energy=0.2,
        )
        analysed(
            make_song(title=f"Fast lively {i}", artist=f"Fast artist {i}"),
            seed + 0.6 * unit(rng.standard_normal(D)),
            mood="energetic",
            tempo=150,
            energy=0.9,
        )
    return ids


def no_sideways_scroll(page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")


@pytest.mark.parametrize("viewport", list(SIZES))
def test_the_catalogue_is_filtered_by_mood_and_tempo_and_the_chips_clear_them(open_page, alice, songs, viewport):
    page = open_page(SIZES[viewport], phone=viewport == "phone")
    log_in(page, "alice")
    rows = page.locator("#song-results tbody tr")
    expect(rows).to_have_count(11)

    page.locator(".song-filters > summary").click()
    page.get_by_label("Mood").select_option("energetic")
    expect(rows).to_have_count(5)
    expect(page.locator("#song-results")).not_to_contain_text("Slow calm")
    assert "mood=energetic" in page.url
    page.get_by_label("Tempo", exact=True).fill("160")
    page.get_by_label("Tempo", exact=True).press("Enter")
    expect(page.locator("#results .empty")).to_contain_text("No songs match with these filters")
    expect(page.locator(".filter-chips .chip")).to_have_count(2)
    page.get_by_label("Tempo", exact=True).fill("100")
    page.get_by_label("Tempo", exact=True).press("Enter")
    expect(rows).to_have_count(5)
    no_sideways_scroll(page)
    screenshot(page, f"{viewport}-catalogue-filtered")

    page.locator(".filter-chips .chip", has_text="Energetic").click()
    expect(page.locator(".filter-chips .chip")).to_have_count(1)
    expect(rows).to_have_count(6)  # every song at 100 BPM or more: the fast ones and the seed, none of the slow
    expect(page.get_by_label("Mood")).to_have_value("")


@pytest.mark.parametrize("viewport", list(SIZES))
def test_more_like_this_is_filtered_on_the_song_page(open_page, alice, songs, viewport):
    page = open_page(SIZES[viewport], phone=viewport == "phone")
    log_in(page, "alice", then=f"/songs/{songs['seed']}/")
    playlist = page.locator("#recommendations ol.playlist li")
    expect(playlist.first).to_contain_text("Slow calm")  # the nearest, unfiltered

    section = page.locator("#playlist")
    section.locator(".song-filters > summary").click()
    section.get_by_label("Energy").select_option("high")
    expect(playlist.first).to_contain_text("Fast lively")
    expect(section.locator("#recommendations")).not_to_contain_text("Slow calm")
    expect(playlist).to_have_count(5)
    expect(section.locator(".filter-chips .chip")).to_have_count(1)
    expect(section.locator(".filter-chips .chip")).to_contain_text("High energy")
    expect(section.get_by_role("button", name="Start radio with these filters")).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, f"{viewport}-more-like-this-filtered")

    section.locator(".filter-chips .chip").click()
    expect(playlist.first).to_contain_text("Slow calm")
    expect(page.locator("#playlist .filter-chips")).to_have_count(0)
    expect(page).to_have_url(f"/songs/{songs['seed']}/")  # the song page stays where it is


def test_a_radio_started_from_a_filtered_playlist_keeps_to_its_filters(page, alice, songs):
    log_in(page, "alice", then=f"/songs/{songs['seed']}/")
    section = page.locator("#playlist")
    section.locator(".song-filters > summary").click()
    section.get_by_label("Mood").select_option("energetic")
    expect(section.locator("#recommendations ol.playlist li").first).to_contain_text("Fast lively")
    section.get_by_role("button", name="Start radio with these filters").click()
    expect(page.locator("#player-bar .player-radio-name")).to_have_text("Radio: Seed")
    state = f"() => JSON.parse(sessionStorage.getItem('musrec-player-{alice.pk}') || '{{}}')"
    page.wait_for_function(f"() => (({state})().queue || []).length >= 4")
    queue = page.evaluate(state)["queue"]
    # The seed plays first; every song the radio added is an energetic one, though the calm ones are nearer.
    assert queue[0]["title"] == "Seed"
    assert all(track["title"].startswith("Fast lively") for track in queue[1:]), queue
    assert page.evaluate(state)["radio"]["filters"] == "mood=energetic"
