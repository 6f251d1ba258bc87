"""In a real browser, what the trial of issue 11 (§6) found broken: filters changed in quick succession, and the
console messages htmx wrote on every playlist edit and every keystroke in the path pickers."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse

from catalog.models import Playlist, Song, forget_catalogue_figures
from recommender.models import active_dimensions
from tests.browser import CHROMIUM, CHROMIUM_MISSING, browser_page, log_in  # noqa: F401
from tests.factories import embed, make_song

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]


def random_unit_vectors(n: int, *, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, active_dimensions()))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def catalogue() -> list[Song]:
    """Twenty Rock songs and twenty Jazz songs, each by an artist of its own, analysed."""
    songs = []
    for i, vector in enumerate(random_unit_vectors(40, seed=1)):
        genre = "Rock" if i < 20 else "Jazz"
        songs.append(embed(make_song(title=f"{genre} tune {i}", artist=f"Band {i}", genres=[genre]), vector))
    forget_catalogue_figures()
    return songs


@pytest.fixture
def alices_upload(alice) -> Song:
    song = make_song(title="My Favourite", artist="Me", owner=alice, in_catalogue=False)
    return embed(song, random_unit_vectors(1, seed=2)[0])


def test_two_filters_changed_at_once_both_apply_and_save_keeps_them(page, alice, catalogue, alices_upload):
    log_in(page, "alice")
    page.goto(reverse("recommender:upload_detail", args=[alices_upload.pk]))
    songs = page.locator("#playlist ol.playlist > li")
    expect(songs).to_have_count(10)

    # Both changes in one go, as a quick hand makes them: the second is made while the first one's list is loading.
    page.evaluate(
        """() => {
            const form = document.querySelector("form.filters");
            form.elements.genre.value = "rock";
            form.elements.genre.dispatchEvent(new Event("change", {bubbles: true}));
            form.elements.n.value = "15";
            form.elements.n.dispatchEvent(new Event("change", {bubbles: true}));
        }"""
    )

    expect(songs).to_have_count(15)
    expect(page.locator("form.filters select[name=n]")).to_have_value("15")
    expect(page.locator("form.filters select[name=genre]")).to_have_value("rock")
    expect(songs.filter(has_text="Jazz tune")).to_have_count(0)
    page.get_by_role("button", name="Save as playlist").click()

    expect(page.get_by_text("with 15 songs")).to_be_visible()
    playlist = Playlist.objects.get(owner=alice)
    assert playlist.items.count() == 15
    assert {item.song.genres.get().name for item in playlist.items.all()} == {"Rock"}


# Console noise (§6.9): htmx reports an out-of-band element without a target, and an hx-include that matches
# nothing, in the console. A page that works writes nothing there.


def row_titles(page) -> list[str]:
    return page.locator("#playlist-items ol.playlist > li").evaluate_all(
        "rows => rows.map(row => row.querySelector('.what a[href*=\"/songs/\"]').textContent)"
    )


def item_of(playlist: Playlist, title: str) -> int:
    return playlist.items.get(song__title=title).pk


def saved_titles(playlist: Playlist) -> list[str]:
    return [item.song.title for item in playlist.items.order_by("position")]


def console_of(page) -> list[str]:
    """Every console message and uncaught error of ``page`` from now on, as "type: text"."""
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    return messages


def noise(messages: list[str]) -> list[str]:
    # The favicon is the layout's (§6.9, first part); a 404 for it is not what these tests look for.
    return [m for m in messages if m.split(":", 1)[0] in ("error", "warning", "pageerror") and "favicon" not in m]


def test_editing_a_playlist_writes_nothing_in_the_console(page, alice):
    songs = [make_song(title=title, artist="The Band") for title in ("Alpha", "Bravo", "Charlie")]
    playlist = Playlist.objects.create_with_songs(owner=alice, name="Road trip", songs=songs)
    log_in(page, "alice")
    messages = console_of(page)

    page.goto(playlist.get_absolute_url())
    page.get_by_role("button", name="Move Alpha down").click()
    expect(page.locator("#playlist-status")).to_have_text("Moved “Alpha” to position 2 of 3.")
    expect(page.locator("#playlist-count")).to_have_text("3 songs")
    page.get_by_role("button", name="Remove Charlie from this playlist").click()
    expect(page.locator("#playlist-status")).to_have_text("Removed “Charlie”.")
    expect(page.locator("#playlist-count")).to_have_text("2 songs")
    # Away and back by boosted links, as a person goes on.
    page.get_by_role("link", name="‹ Your playlists").click()
    page.get_by_role("link", name="Road trip").first.click()
    expect(page.get_by_role("heading", name="Road trip")).to_be_visible()
    page.get_by_role("button", name="Move Bravo down").click()
    expect(page.locator("#playlist-status")).to_have_text("Moved “Bravo” to position 2 of 2.")
    # A second button pressed while the first one's answer is on its way: its answer would come after the list it
    # was pressed in had been replaced. It is not sent; the list shows what is saved.
    held = []
    page.route("**/items/*/move*", lambda route: held.append(route))
    page.get_by_role("button", name="Move Alpha down").click()
    page.get_by_role("button", name="Move Bravo up").click()
    page.wait_for_timeout(300)
    assert [route.request.url.rsplit("/", 2)[1:] for route in held] == [[str(item_of(playlist, "Alpha")), "move"]]
    with page.expect_response(held[0].request.url):
        held[0].continue_()
    page.unroute("**/items/*/move*")
    expect(page.locator("#playlist-status")).to_have_text("Moved “Alpha” to position 2 of 2.")

    assert noise(messages) == []
    assert row_titles(page) == saved_titles(playlist)


def test_typing_in_the_path_pickers_writes_nothing_in_the_console(page, alice, catalogue):
    log_in(page, "alice")
    messages = console_of(page)

    page.goto(reverse("recommender:path"))
    start = page.get_by_label("Search for the song to start at")
    start.press_sequentially("Rock tune 1", delay=40)
    expect(page.locator("#pick-from label.choice").first).to_be_visible()
    page.locator("#pick-from input[type=radio]").first.check()
    start.press_sequentially("2", delay=40)  # a song is chosen now: the search keeps it
    expect(page.locator("#pick-from input[type=radio]:checked")).to_have_count(1)
    page.get_by_label("Search for the song to end at").press_sequentially("Jazz", delay=40)
    expect(page.locator("#pick-to label.choice").first).to_be_visible()

    assert noise(messages) == []


def test_while_typing_a_search_the_sort_menu_says_best_match(page, alice, catalogue):
    log_in(page, "alice")
    page.goto(reverse("catalog:song_list"))
    sort = page.get_by_label("Sort by")
    expect(sort.locator("option:checked")).to_have_text("Title (A–Z)")

    page.get_by_label("Search").press_sequentially("rock", delay=40)

    expect(page.locator("#results .summary")).to_contain_text("for “rock”")
    expect(sort.locator("option:checked")).to_have_text("Best match")
    expect(sort.locator("option", has_text="Title (A–Z)")).to_have_count(1)
    page.get_by_label("Search").fill("")
    page.get_by_label("Search").dispatch_event("input")
    expect(sort.locator("option:checked")).to_have_text("Title (A–Z)")
    expect(sort.locator("option", has_text="Best match")).to_have_count(0)
