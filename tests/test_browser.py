"""End to end in a real browser: sign up, live search, genre filter, playback with seeking, log out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from catalog.importer import Outcome, import_file
from catalog.models import Genre, Song
from tests.browser import CHROMIUM, CHROMIUM_MISSING, browser_page, log_in  # noqa: F401
from tests.conftest import PASSWORD
from tests.factories import write_audio

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]

SEARCH_SCREENSHOT = Path("/tmp/musrec-search.png")

# A long, low-rate WAV for the seeking test: Chromium reads a few MB ahead of the playhead, so a
# short file is fully buffered before any seek and no second Range request would ever be needed.
LONG_SONG_RATE = 8000
LONG_SONG_SECONDS = 600
SEEK_TO_SECONDS = 540


def import_song(folder: Path, name: str, **tags: object) -> Song:
    result = import_file(write_audio(folder / name, **tags))
    assert result.outcome == Outcome.IMPORTED, result.reason
    return Song.objects.get(pk=result.song_id)


@pytest.fixture
def catalogue(tmp_path) -> dict[str, Song]:
    """Four short, real songs; Punk sits below Rock."""
    songs = {
        "heroes": import_song(
            tmp_path, "heroes.wav", seed=1, title="Heroes of Wesnoth", artist="Frogatto", genre="Rock"
        ),
        "punk": import_song(tmp_path, "pins.wav", seed=2, title="Safety Pins", artist="The Staples", genre="Punk"),
        "jazz": import_song(tmp_path, "smoke.wav", seed=3, title="Blue Smoke", artist="Ada Trio", genre="Jazz"),
        "quiet": import_song(tmp_path, "harbour.wav", seed=4, title="Quiet Harbour", artist="Ada Trio"),
    }
    Genre.objects.filter(name="Punk").update(parent=Genre.objects.get(name="Rock"))
    return songs


def sign_up(page, username: str) -> None:
    page.goto("/accounts/signup/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()


def range_start(response) -> int | None:
    match = re.match(r"bytes (\d+)-", response.headers.get("content-range", ""))
    return int(match.group(1)) if match else None


def test_a_new_listener_signs_up_then_searches_and_filters_without_reloading(page, catalogue, live_server):

    sign_up(page, "carol")

    expect(page).to_have_url(f"{live_server.url}/")  # home
    expect(page.locator(".who")).to_have_text("carol")
    assert User.objects.filter(username="carol").exists()
    page.locator("nav").get_by_role("link", name="Browse").click()
    expect(page).to_have_url(f"{live_server.url}/songs/")
    results = page.locator("#results")
    expect(results.locator("tbody tr")).to_have_count(4)

    # htmx swaps #results in place; a full page load would wipe this marker.
    page.evaluate("window.musrecMarker = 'same page'")
    page.get_by_label("Search").fill("wesnth")

    expect(results.locator(".summary")).to_have_text("1 result for “wesnth”")
    expect(results.locator("tbody tr")).to_have_count(1)
    expect(results.get_by_role("link", name="Heroes of Wesnoth")).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?(.*&)?q=wesnth"))
    assert page.evaluate("window.musrecMarker") == "same page"

    page.get_by_label("Search").fill("")
    expect(results.locator(".summary")).to_have_count(0)
    page.get_by_label("Genre").select_option("rock")

    expect(results.locator(".summary")).to_have_text("2 results in Rock")
    expect(results.get_by_role("link", name="Heroes of Wesnoth")).to_be_visible()
    expect(results.get_by_role("link", name="Safety Pins")).to_be_visible()
    expect(results.get_by_role("link", name="Blue Smoke")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"\?(.*&)?genre=rock"))
    assert page.evaluate("window.musrecMarker") == "same page"

    page.screenshot(path=str(SEARCH_SCREENSHOT), full_page=True)


def test_a_listener_plays_a_song_and_seeks_with_a_range_request(page, alice, tmp_path):
    song = import_song(
        tmp_path,
        "long.wav",
        seconds=LONG_SONG_SECONDS,
        sample_rate=LONG_SONG_RATE,
        title="Heroes of Wesnoth",
        artist="Frogatto",
    )
    bytes_per_second = song.file_size / song.duration
    seek_byte = int(SEEK_TO_SECONDS * bytes_per_second)
    audio_responses = []
    page.on("response", lambda response: "/audio" in response.url and audio_responses.append(response))

    log_in(page, "alice")
    page.get_by_role("link", name="Heroes of Wesnoth").click()

    expect(page.get_by_role("heading", name="Heroes of Wesnoth")).to_be_visible()
    # The song page plays through the player bar, the site's one player.
    player = page.locator("#player-bar audio")
    player.evaluate("player => player.addEventListener('playing', () => { window.musrecPlaying = true })")
    page.locator("#page").get_by_role("button", name="Play Heroes of Wesnoth", exact=True).click()
    page.wait_for_function(
        "window.musrecPlaying === true && document.querySelector('#player-bar audio').currentTime > 0.3"
    )
    assert audio_responses, "the player never asked for the audio"
    assert all(response.request.header_value("range") for response in audio_responses)
    assert {response.status for response in audio_responses} == {206}

    # The seek target lies far past what Chromium has buffered, so it must fetch from the middle of
    # the file; the request for the file's tail (metadata probing) starts after seek_byte.
    with page.expect_response(
        lambda response: (
            "/audio" in response.url
            and response.status == 206
            and seek_byte - 1024 * 1024 < (range_start(response) or -1) <= seek_byte
        )
    ) as seek_response:
        player.evaluate("(player, seconds) => { player.currentTime = seconds }", SEEK_TO_SECONDS)
    page.wait_for_function(
        "target => { const p = document.querySelector('#player-bar audio');"
        " return !p.paused && p.currentTime > target }",
        arg=SEEK_TO_SECONDS + 0.3,
    )

    assert seek_response.value.request.header_value("range").startswith(f"bytes={range_start(seek_response.value)}-")
    assert seek_response.value.headers["content-range"].endswith(f"/{song.file_size}")


def test_after_logging_out_the_catalogue_sends_you_to_log_in(page, alice, catalogue, live_server):
    log_in(page, "alice")

    page.get_by_role("button", name="Log out").click()

    expect(page).to_have_url(f"{live_server.url}/")  # the home page, as a visitor sees it
    expect(page.get_by_role("link", name="Sign up, it’s free")).to_be_visible()
    page.goto("/songs/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/songs/$"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.goto(catalogue["heroes"].get_absolute_url())
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/songs/\d+/$"))
    audio = page.request.get(f"{live_server.url}/songs/{catalogue['heroes'].pk}/audio", max_redirects=0)
    assert audio.status == 302
    assert "/accounts/login/" in audio.headers["location"]
