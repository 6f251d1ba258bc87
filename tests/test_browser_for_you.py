"""For you in a real browser: a new listener picks a song, then likes another kind and sees the list change."""

from __future__ import annotations

import numpy as np
import pytest

from catalog.models import Album, Rating
from tests.browser import CHROMIUM, CHROMIUM_MISSING, browser_page, log_in  # noqa: F401
from tests.factories import embed, make_song

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]

D = 200


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


@pytest.fixture
def catalogue(transactional_db) -> None:
    """Two kinds of music, five analysed songs each, one artist per song."""
    rng = np.random.default_rng(0)
    common = unit(rng.standard_normal(D))
    for kind in ("Forest", "Desert"):
        direction = unit(common + unit(rng.standard_normal(D)))
        album = Album.objects.create(title=f"{kind} Album")
        for i in range(1, 6):
            song = make_song(title=f"{kind} {i}", artist=f"{kind} Artist {i}", album=album, track_number=i)
            embed(song, direction + 0.3 * unit(rng.standard_normal(D)))


def test_a_new_listener_starts_from_one_song_then_a_like_changes_for_you_at_once(page, alice, catalogue):
    log_in(page, "alice")
    page.get_by_role("link", name="For you").click()
    expect(page.get_by_role("heading", name="Tell Musrec what you like")).to_be_visible()

    page.get_by_role("checkbox", name="Forest 1").check()
    page.get_by_role("button", name="Show my recommendations").click()

    for_you = page.locator("#for-you")
    expect(for_you.locator(".reason").first).to_have_text("Because you liked “Forest 1”")
    expect(for_you.locator(".what a").first).to_contain_text("Forest")
    expect(for_you).not_to_contain_text("Because you liked “Desert")

    # A like from the list itself: the list answers without a page load.
    for_you.get_by_role("button", name="Like Desert 3", exact=True).click()

    expect(for_you).to_contain_text("Because you liked “Desert 3”")
    expect(for_you.get_by_role("link", name="Desert 3", exact=True)).to_have_count(0)
    assert set(Rating.objects.filter(user=alice).values_list("song__title", flat=True)) == {"Forest 1", "Desert 3"}
