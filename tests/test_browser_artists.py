"""Artist and album pages and covers in the browser, at a desktop's and a phone's size (issue 11 §4).

Set MUSREC_SCREENSHOT_DIR to a folder to keep screenshots of the artist page, the album page, a song list with
covers and the player bar with a cover, at both sizes.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from django.urls import reverse

from catalog.importer import Outcome, import_file
from catalog.models import Album, Artist, Song
from tests.browser import CHROMIUM, CHROMIUM_MISSING, TIMEOUT_MS, browser_page, log_in, pages_at_sizes, screenshot  # noqa: F401
from tests.factories import add_picture, embed, jpeg, make_song, write_audio

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
D = 200

# Every <img> in the page that should show a picture: loaded, and really decoded (not a broken-image icon).
IMAGES_SHOWN = """(selector) => [...document.querySelectorAll(selector)].map((img) => ({
  src: img.currentSrc, shown: img.complete && img.naturalWidth > 0, visible: img.checkVisibility(),
}))"""


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


@pytest.fixture
def library(tmp_path) -> dict[str, str]:
    """An album with a picture in its files (long enough to keep playing), albums and artists without, all analysed."""
    rng = np.random.default_rng(11)
    forest, desert = unit(rng.standard_normal(D)), unit(rng.standard_normal(D))
    folder = tmp_path / "Forest Sessions"
    folder.mkdir()
    picture = jpeg(640, 640, colour=(32, 110, 70))
    for track in range(1, 4):
        path = write_audio(
            folder / f"0{track} - song.wav",
            seconds=90,
            sample_rate=8000,
            seed=track,
            title=f"Clearing {track}",
            artist="Forest Band",
            album="Forest Sessions",
            track=str(track),
        )
        result = import_file(add_picture(path, picture))
        assert result.outcome == Outcome.IMPORTED, result.reason
        embed(Song.objects.get(pk=result.song_id), forest + 0.2 * unit(rng.standard_normal(D)))
    for name, direction, albums in (("Moss Band", forest, 2), ("Desert Band", desert, 1), ("Canyon Band", desert, 1)):
        for number in range(1, albums + 1):
            album = Album.objects.create(title=f"{name.split()[0]} Tapes {number}")
            for track in range(1, 4):
                song = make_song(
                    title=f"{album.title} · {track}",
                    artist=name,
                    album=album,
                    track_number=track,
                    tempo_bpm=float(rng.uniform(70, 170)),
                    energy=float(rng.uniform(0, 1)),
                )
                embed(song, direction + 0.3 * unit(rng.standard_normal(D)))
    return {
        "artist": reverse("recommender:artist", args=[Artist.objects.get(name="Forest Band").pk]),
        "album": reverse("recommender:album", args=[Album.objects.get(title="Forest Sessions").pk]),
        "other-artist": reverse("recommender:artist", args=[Artist.objects.get(name="Moss Band").pk]),
        "browse": reverse("catalog:song_list"),
    }


def covers_shown(page, selector: str) -> list[dict]:
    """The pictures ``selector`` finds, once they have all loaded (or the wait has timed out)."""
    # On a timeout the assertions below say which picture is missing.
    with contextlib.suppress(playwright_api.TimeoutError):
        page.wait_for_function(
            "(selector) => [...document.querySelectorAll(selector)].every((img) => img.complete && img.naturalWidth)"
            " && document.querySelector(selector)",
            arg=selector,
        )
    images = page.evaluate(IMAGES_SHOWN, selector)
    assert images, f"no {selector} on {page.url}"
    broken = [image["src"] for image in images if not image["shown"]]
    assert not broken, broken
    return images


def no_sideways_scroll(page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")


@pytest.mark.parametrize("viewport", list(SIZES))
def test_an_album_page_shows_its_covers_and_plays_with_the_cover_in_the_player(open_page, alice, library, viewport):
    page = open_page(SIZES[viewport], phone=viewport == "phone")
    log_in(page, "alice")

    page.goto(library["album"])
    expect(page.get_by_role("heading", name="Forest Sessions", level=1)).to_be_visible()
    header = covers_shown(page, ".catalogue-head img.cover")
    assert "/covers/" in header[0]["src"]  # the picture found in the files, not a drawn one
    rows = covers_shown(page, "#album-songs img.cover")
    assert len(rows) == 3 and all(row["visible"] for row in rows)
    covers_shown(page, ".cover-grid img.cover")  # similar albums, with drawn covers
    no_sideways_scroll(page)
    screenshot(page, f"{viewport}-album")

    page.get_by_role("button", name="▶ Play all").click()
    page.wait_for_function("() => !document.querySelector('#player-bar audio').paused")
    bar_cover = covers_shown(page, "#player-bar img.player-cover")[0]
    assert bar_cover["visible"] and "/covers/" in bar_cover["src"]
    expect(page.locator("#player-bar .player-title")).to_have_text("Clearing 1")
    artwork = page.evaluate("() => navigator.mediaSession.metadata.artwork.map((a) => [a.src, a.sizes])")
    assert [sizes for _, sizes in artwork] == ["128x128", "512x512"] and "/512/" in artwork[1][0]
    screenshot(page, f"{viewport}-player-bar-with-cover", full_page=False)

    page.locator("#player-bar a.player-artist").click()
    expect(page.get_by_role("heading", name="Forest Band", level=1)).to_be_visible()
    assert not page.evaluate("() => document.querySelector('#player-bar audio').paused")


@pytest.mark.parametrize("viewport", list(SIZES))
def test_artist_pages_and_song_lists_show_covers_and_link_the_names(open_page, alice, library, viewport):
    page = open_page(SIZES[viewport], phone=viewport == "phone")
    log_in(page, "alice")

    page.goto(library["other-artist"])
    expect(page.get_by_role("heading", name="Moss Band", level=1)).to_be_visible()
    covers_shown(page, ".catalogue-head img.cover, .cover-grid img.cover")
    similar = page.locator("section", has=page.get_by_role("heading", name="Similar artists"))
    expect(similar.get_by_role("link").first).to_contain_text("Forest Band")
    no_sideways_scroll(page)
    screenshot(page, f"{viewport}-artist")

    page.goto(library["browse"])
    covers_shown(page, "#song-results img.cover")
    no_sideways_scroll(page)
    screenshot(page, f"{viewport}-song-list")
    page.locator("#song-results a.album-link:visible", has_text="Desert Tapes 1").first.click()
    expect(page.get_by_role("heading", name="Desert Tapes 1", level=1)).to_be_visible()
    covers_shown(page, ".catalogue-head img.cover")
    screenshot(page, f"{viewport}-album-drawn-cover")

    page.locator("#album-songs").get_by_role("link", name="Desert Tapes 1 · 2").click()
    expect(page.get_by_role("heading", name="Desert Tapes 1 · 2", level=1)).to_be_visible()
    covers_shown(page, ".catalogue-head img.cover")
    expect(page.locator(".song .byline").get_by_role("link", name="Desert Band")).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, f"{viewport}-song")
