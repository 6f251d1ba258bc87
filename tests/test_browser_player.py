"""In a real browser: the player bar plays on across pages, every play lands in the history, likes stick."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.urls import reverse

from catalog.importer import Outcome, import_file
from catalog.models import Play, Rating, Song
from tests.browser import CHROMIUM, CHROMIUM_MISSING, browser_page, log_in  # noqa: F401
from tests.factories import write_audio

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]

TIMEOUT_S = 15


def import_song(folder: Path, name: str, **tags: object) -> Song:
    result = import_file(write_audio(folder / name, **tags))
    assert result.outcome == Outcome.IMPORTED, result.reason
    return Song.objects.get(pk=result.song_id)


@pytest.fixture
def songs(tmp_path) -> dict[str, Song]:
    """Listed in this order by title: a 2-second song, a 2-minute one (long enough to skip), another short one."""
    return {
        "aurora": import_song(tmp_path, "aurora.wav", seconds=2, seed=1, title="Aurora", artist="North"),
        # A low sample rate keeps two minutes of audio small.
        "borealis": import_song(
            tmp_path, "borealis.wav", seconds=120, sample_rate=8000, seed=2, title="Borealis", artist="North"
        ),
        "cascade": import_song(tmp_path, "cascade.wav", seconds=2, seed=3, title="Cascade", artist="South"),
    }


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_listener_plays_one_song_skips_another_and_finds_both_in_the_history(page, alice, songs, live_server):
    log_in(page, "alice")
    bar = page.locator("#player-bar")
    audio = bar.locator("audio")
    # Both markers vanish if the page is loaded again instead of swapped.
    page.evaluate("window.musrecMarker = 'same page'")
    audio.evaluate("audio => { audio.musrecMarker = 'same player' }")

    page.get_by_role("button", name="Play Aurora").click()

    expect(bar.locator(".player-title")).to_have_text("Aurora")
    expect(bar.locator(".player-queue-list li")).to_have_count(3)
    expect(bar.locator(".player-queue-list li[aria-current=true]")).to_have_text("Aurora · North")
    # Aurora plays to its end and the queue moves on to Borealis by itself.
    expect(bar.locator(".player-title")).to_have_text("Borealis", timeout=TIMEOUT_S * 1000)
    expect(page.get_by_role("button", name="Play Borealis")).to_have_class(re.compile(r"\bplaying\b"))
    expect(bar.get_by_role("link", name="Borealis")).to_have_attribute("href", songs["borealis"].get_absolute_url())
    add = reverse("catalog:playlist_add_song", args=[songs["borealis"].pk])
    expect(bar.get_by_role("link", name="Add to playlist")).to_have_attribute("href", add)
    page.wait_for_function("() => document.querySelector('#player-bar audio').currentTime > 1")
    bar.get_by_role("button", name="Next song").click()

    expect(bar.locator(".player-title")).to_have_text("Cascade")
    wait_until(lambda: Play.objects.filter(user=alice).count() >= 2, "the two plays to be recorded")
    aurora, borealis = (Play.objects.get(user=alice, song=songs[name]) for name in ("aurora", "borealis"))
    assert aurora.completed and not aurora.skipped
    assert 1.5 <= aurora.seconds_listened <= 2.0
    assert borealis.skipped and not borealis.completed
    assert 0.9 <= borealis.seconds_listened < 10

    page.locator("nav").get_by_role("link", name="History").click()

    expect(page).to_have_url(f"{live_server.url}/history/")
    expect(page).to_have_title("History · Musrec")
    rows = page.locator("table.history tbody tr")
    expect(rows.filter(has_text="Borealis")).to_contain_text("Skipped")
    expect(rows.filter(has_text="Aurora")).to_contain_text("Completed")
    row_titles = rows.locator("td:nth-child(3) a").all_inner_texts()
    assert row_titles.index("Borealis") < row_titles.index("Aurora")  # newest first
    assert page.evaluate("window.musrecMarker") == "same page"
    assert audio.evaluate("audio => audio.musrecMarker") == "same player"

    # Cascade played on across the page change, to its end: a third play.
    wait_until(lambda: Play.objects.filter(user=alice, song=songs["cascade"], completed=True).exists(), "Cascade")

    page.go_back()

    expect(page).to_have_url(f"{live_server.url}/songs/")
    expect(page.get_by_role("heading", name=re.compile("Catalogue"))).to_be_visible()
    expect(page).to_have_title("Browse · Musrec")
    assert audio.evaluate("audio => audio.musrecMarker") == "same player"


def test_a_listener_likes_a_song_and_finds_it_among_the_liked_songs(page, alice, songs):
    log_in(page, "alice")

    like = page.get_by_role("button", name="Like Cascade", exact=True)
    expect(like).to_have_attribute("aria-pressed", "false")
    like.click()

    expect(page.get_by_role("button", name="Like Cascade", exact=True)).to_have_attribute("aria-pressed", "true")
    wait_until(lambda: Rating.objects.filter(user=alice, song=songs["cascade"], value=Rating.LIKE).exists(), "like")

    page.locator("nav").get_by_role("link", name="Liked").click()

    expect(page.get_by_role("heading", name=re.compile("Liked songs"))).to_be_visible()
    liked = page.locator("#liked-songs tbody tr")
    expect(liked).to_have_count(1)
    expect(liked).to_contain_text("Cascade")

    liked.get_by_role("button", name="Like Cascade", exact=True).click()

    expect(page.get_by_role("button", name="Like Cascade", exact=True)).to_have_attribute("aria-pressed", "false")
    wait_until(lambda: not Rating.objects.filter(user=alice).exists(), "the like to be cleared")


def test_a_listener_dislikes_the_playing_song_from_the_player_bar(page, alice, songs):
    Rating.objects.rate(alice, songs["borealis"], Rating.LIKE)
    log_in(page, "alice")
    bar = page.locator("#player-bar")

    page.get_by_role("button", name="Play Borealis").click()

    # The bar shows the playing song's own rating, under names apart from the list's buttons.
    like = bar.get_by_role("button", name="Like the playing song, Borealis", exact=True)
    expect(like).to_have_attribute("aria-pressed", "true")
    bar.get_by_role("button", name="Dislike the playing song, Borealis", exact=True).click()

    expect(bar.get_by_role("button", name="Dislike the playing song, Borealis", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    wait_until(lambda: Rating.objects.get(user=alice, song=songs["borealis"]).value == Rating.DISLIKE, "dislike")
    # The next song brings its own buttons.
    bar.get_by_role("button", name="Next song").click()
    expect(bar.get_by_role("button", name="Like the playing song, Cascade", exact=True)).to_have_attribute(
        "aria-pressed", "false"
    )


def test_a_listener_removes_a_play_and_clears_the_history_after_confirming(page, alice, songs):
    for name in ("aurora", "borealis", "cascade"):
        Play.objects.record(alice, songs[name], seconds_listened=1)
    log_in(page, "alice")
    page.locator("nav").get_by_role("link", name="History").click()
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(3)

    page.once("dialog", lambda dialog: dialog.accept())
    rows.filter(has_text="Borealis").get_by_role("button", name=re.compile("^Remove Borealis")).click()

    expect(rows).to_have_count(2)
    wait_until(lambda: not Play.objects.filter(song=songs["borealis"]).exists(), "the play to be removed")

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Clear history").click()
    page.wait_for_timeout(500)
    assert Play.objects.filter(user=alice).count() == 2

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Clear history").click()

    expect(page.locator(".messages")).to_have_text("Cleared your history (2 plays).")
    expect(page.locator("p.empty")).to_contain_text("Nothing played yet")
    assert not Play.objects.filter(user=alice).exists()
