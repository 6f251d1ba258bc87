"""The home page in the browser, at a desktop's and a phone's size (issue 11 §5): a visitor's landing, signing up,
the first minute ending in music, and a signed-in person's shelves, none of it scrolling sideways.

Set MUSREC_SCREENSHOT_DIR to a folder to keep screenshots of the landing, a new person's home, For you after
picking, and a signed-in home with every shelf, at both sizes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pytest

from catalog.models import Album, Play, Playlist, Rating, Song
from tests.browser import CHROMIUM, CHROMIUM_MISSING, TIMEOUT_MS, browser_page, log_in, screenshot  # noqa: F401
from tests.conftest import PASSWORD
from tests.factories import embed, make_song

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
D = 200
SONG_SECONDS = 20.0

# Every <img> in ``selector``: loaded and really decoded (not a broken-image icon).
IMAGES_SHOWN = """(selector) => [...document.querySelectorAll(selector)].map((img) => ({
  src: img.currentSrc, shown: img.complete && img.naturalWidth > 0,
}))"""
# The page is no wider than the window (a shelf scrolls inside itself, never the page).
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
PLAYING = "() => { const a = document.querySelector('#player-bar audio'); return !a.paused && a.currentTime > 0.2; }"


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


@pytest.fixture
def catalogue() -> dict[str, list[Song]]:
    """Two kinds of music, two albums of three analysed songs each, long enough to keep playing."""
    rng = np.random.default_rng(3)
    songs: dict[str, list[Song]] = {}
    for kind in ("Forest", "Desert"):
        direction = unit(rng.standard_normal(D))
        songs[kind] = []
        for number in (1, 2):
            album = Album.objects.create(title=f"{kind} Tapes {number}")
            for track in (1, 2, 3):
                song = make_song(
                    title=f"{kind} {number}.{track}",
                    artist=f"{kind} Band {number}.{track}",
                    album=album,
                    track_number=track,
                    genres=[kind],
                    seconds=SONG_SECONDS,
                )
                songs[kind].append(embed(song, direction + 0.3 * unit(rng.standard_normal(D))))
    return songs


@pytest.fixture
def new_page(page, live_server) -> Iterator:
    """Opens a page at ``size`` in the browser of ``page``: a phone's (touch, a mobile viewport) or a desktop's."""
    contexts = []

    def open_page(viewport: str):
        width, height = SIZES[viewport]
        phone = viewport == "phone"
        context = page.context.browser.new_context(
            base_url=live_server.url,
            viewport={"width": width, "height": height},
            is_mobile=phone,
            has_touch=phone,
            device_scale_factor=2 if phone else 1,
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def covers_shown(page, selector: str) -> list[dict[str, object]]:
    # Covers load lazily, when scrolled near: ask for them all now (a shelf's last cards are out of sight).
    page.evaluate(
        "(selector) => document.querySelectorAll(selector).forEach((img) => { img.loading = 'eager'; })", selector
    )
    page.wait_for_function(
        "(selector) => [...document.querySelectorAll(selector)].every((img) => img.complete)", arg=selector
    )
    return page.evaluate(IMAGES_SHOWN, selector)


@pytest.mark.parametrize("viewport", SIZES)
def test_a_visitor_signs_up_from_the_landing_picks_songs_and_music_plays(new_page, catalogue, live_server, viewport):
    page = new_page(viewport)

    page.goto("/")

    expect(page.get_by_role("heading", name="Find music by how it sounds")).to_be_visible()
    covers = covers_shown(page, ".landing-covers img")
    assert len(covers) == 4 and all(cover["shown"] for cover in covers), covers
    assert page.evaluate(SIDEWAYS) <= 0
    screenshot(page, f"{viewport}-home-visitor")

    page.get_by_role("link", name="Sign up, it’s free").click()
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()

    # Home, and the first thing on it is what to do.
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Tell Musrec what you like")).to_be_visible()
    page.wait_for_load_state("load")  # the player's script listens to the play buttons once it has run
    assert page.evaluate(SIDEWAYS) <= 0
    screenshot(page, f"{viewport}-home-new-person")
    start = page.locator("#start")
    start.get_by_role("button", name="Play Desert 1.1").click()
    page.wait_for_function(PLAYING)
    expect(page.locator("#player-bar .player-title")).to_have_text("Desert 1.1")

    start.get_by_label(re.compile(r"^Desert 1\.1")).check()
    start.get_by_label(re.compile(r"^Desert 2\.1")).check()
    start.get_by_role("button", name="Show my recommendations").click()

    # For you, one click from music: Play all queues the list and it plays.
    expect(page.get_by_role("heading", name="For you")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/for-you/$"))
    first = page.locator(".for-you-list button.play").first
    first_title = first.get_attribute("data-title")
    assert first_title.startswith("Desert")
    page.get_by_role("button", name="▶ Play all").click()
    expect(page.locator("#player-bar .player-title")).to_have_text(first_title)
    page.wait_for_function(PLAYING)
    screenshot(page, f"{viewport}-for-you-after-picking")

    # Home now suggests instead of asking.
    page.get_by_role("link", name="♫ Musrec").click()
    expect(page.locator("#for-you-shelf .card").first).to_be_visible()
    expect(page.get_by_role("heading", name="Tell Musrec what you like")).to_have_count(0)
    assert page.evaluate(SIDEWAYS) <= 0


@pytest.fixture
def alices_music(alice, bob, catalogue) -> None:
    """Alice's likes, plays, an upload and two playlists; Bob's private upload and playlist."""
    for song in catalogue["Forest"][:2]:
        Rating.objects.rate(alice, song, Rating.LIKE)
    for song in catalogue["Desert"][:3]:
        Play.objects.create(user=alice, song=song, seconds_listened=3)
    embed(make_song(title="Alice Favourite", owner=alice, in_catalogue=False), unit(np.ones(D)))
    Playlist.objects.create_with_songs(owner=alice, name="Alice Evening", songs=catalogue["Desert"][3:])
    Playlist.objects.create_with_songs(owner=alice, name="Alice Morning", songs=catalogue["Forest"][3:])
    make_song(title="Bob Secret Demo", owner=bob, in_catalogue=False, genres=["Bobcore"])
    Playlist.objects.create(owner=bob, name="Bob Party Mix")


@pytest.mark.parametrize("viewport", SIZES)
def test_the_signed_in_home_shows_its_shelves_and_plays_from_them(new_page, alices_music, viewport):
    page = new_page(viewport)
    log_in(page, "alice", then="/")
    page.wait_for_load_state("load")

    for heading in (
        "Continue listening",
        "For you",
        "Recently added",
        "Your uploads",
        "Your playlists",
        "Browse by genre",
    ):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    # For you arrives once the page is shown, with its reasons and Play all.
    expect(page.locator("#for-you-shelf .card").first).to_be_visible()
    expect(page.locator("#for-you-shelf .reason").first).to_contain_text("Because you")
    expect(page.locator("#home-for-you").get_by_role("button", name="▶ Play all")).to_be_visible()
    expect(page.locator("#uploads-shelf .name")).to_have_text(["Alice Favourite"])
    expect(page.locator("#playlists-shelf .name")).to_have_count(2)
    assert sorted(page.locator("#playlists-shelf .name").all_inner_texts()) == ["Alice Evening", "Alice Morning"]
    expect(page.get_by_text("Bob Party Mix")).to_have_count(0)
    expect(page.get_by_text("Bobcore")).to_have_count(0)
    expect(page.locator(".genre-chips a")).to_have_text(["Desert 6", "Forest 6"])
    covers = covers_shown(page, ".shelf img.cover")
    assert covers and all(cover["shown"] for cover in covers), covers
    assert page.evaluate(SIDEWAYS) <= 0
    screenshot(page, f"{viewport}-home-signed-in", full_page=True)

    # A card's ▶ queues its shelf: Continue listening, the latest first.
    page.locator("#continue-shelf").get_by_role("button", name="Play Desert 1.3").click()
    page.wait_for_function(PLAYING)
    expect(page.locator("#player-bar .player-title")).to_have_text("Desert 1.3")
    expect(page.locator("#player-bar .player-queue-list li")).to_have_count(3)
    # A playlist's ▶ plays the playlist.
    page.locator("#playlists-shelf").get_by_role("button", name="Play Alice Evening").click()
    expect(page.locator("#player-bar .player-title")).to_have_text("Desert 2.1")
    page.wait_for_function(PLAYING)

    # A genre leads to Browse, filtered.
    page.get_by_role("link", name="Forest 6").click()
    expect(page).to_have_url(re.compile(r"/songs/\?genre=forest$"))
    expect(page.locator("#results .summary")).to_have_text("6 results in Forest")
