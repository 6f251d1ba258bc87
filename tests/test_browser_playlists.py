"""Playlists in a real browser: make one, fill it from the catalogue, reorder it by keyboard and by dragging,
share it with a visitor and with another listener, export it; a long one, a page at a time."""

from __future__ import annotations

import re

import pytest

from catalog.models import Playlist, PlaylistItem
from tests.browser import CHROMIUM, CHROMIUM_MISSING, browser_page, log_in  # noqa: F401
from tests.factories import make_song

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]


def row_titles(page) -> list[str]:
    return page.locator('#playlist-items ol.playlist > li .what a[href*="/songs/"]').all_inner_texts()


def saved_titles(playlist: Playlist) -> list[str]:
    return list(PlaylistItem.objects.filter(playlist=playlist).values_list("song__title", flat=True))


def expect_focus_on(page, label: str) -> None:
    # htmx moves the focus (autofocus) when the swapped list settles, a moment after the swap itself.
    expect(page.locator(":focus")).to_have_attribute("aria-label", label)
    # A key pressed while htmx is still settling the swap can be lost on a loaded machine (seen once in CI-like
    # runs), as a person's would be: wait, as they would, until the list stands still.
    page.wait_for_function("!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')")


def test_a_listener_makes_a_playlist_reorders_it_by_keyboard_then_shares_and_exports_it(
    page, alice, bob, live_server, tmp_path
):
    for title in ("Alpha", "Bravo", "Charlie"):
        make_song(title=title, artist="The Band")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, "alice")

    page.get_by_role("link", name="Playlists").click()
    page.get_by_label("Name").fill("Road trip")
    page.get_by_label("Description (optional)").fill("For the A7")
    page.get_by_role("button", name="Create playlist").click()
    expect(page.get_by_role("heading", name="Road trip")).to_be_visible()
    playlist = Playlist.objects.get(owner=alice)

    # Adding from the catalogue: the "+" menu loads the playlists when it first opens.
    page.get_by_role("link", name="Browse").click()
    for title in ("Alpha", "Bravo", "Charlie"):
        row = page.locator("tr", has=page.get_by_role("link", name=title, exact=True))
        row.get_by_label(f"Add {title} to a playlist").click()
        row.get_by_role("button", name="Road trip").click()
        expect(row.get_by_role("status")).to_have_text(re.compile(f"Added “{title}” to “Road trip”."))
    assert saved_titles(playlist) == ["Alpha", "Bravo", "Charlie"]

    page.get_by_role("link", name="Open “Road trip”").last.click()
    expect(page.get_by_role("heading", name="Road trip")).to_be_visible()
    assert row_titles(page) == ["Alpha", "Bravo", "Charlie"]

    # Keyboard: the pressed button keeps the focus after htmx swaps the list, so pressing again goes on.
    page.evaluate("window.musrecMarker = 'same page'")
    page.get_by_role("button", name="Move Alpha down").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#playlist-status")).to_have_text("Moved “Alpha” to position 2 of 3.")
    assert row_titles(page) == ["Bravo", "Alpha", "Charlie"]
    expect_focus_on(page, "Move Alpha down")
    page.keyboard.press("Enter")
    expect(page.locator("#playlist-status")).to_have_text("Moved “Alpha” to position 3 of 3.")
    assert row_titles(page) == ["Bravo", "Charlie", "Alpha"]
    expect_focus_on(page, "Move Alpha down")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # "Move Alpha up"
    expect(page.locator("#playlist-status")).to_have_text("Moved “Alpha” to position 2 of 3.")
    expect_focus_on(page, "Move Alpha up")
    assert page.evaluate("window.musrecMarker") == "same page"
    assert saved_titles(playlist) == ["Bravo", "Alpha", "Charlie"]

    # Sharing.
    page.get_by_role("button", name="Make public and get a share link").click()
    expect(page.get_by_label("Share link")).to_have_value(re.compile(r"/shared/"))
    playlist.refresh_from_db()  # sharing gives the playlist a new link
    share_url = f"{live_server.url}/shared/{playlist.share_token}/"
    expect(page.get_by_label("Share link")).to_have_value(share_url)
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == share_url

    # Export: a download, in the order just made.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download M3U8").click()
    assert download.value.suggested_filename == "Road trip.m3u8"
    exported = tmp_path / "road-trip.m3u8"
    download.value.save_as(exported)
    assert [line for line in exported.read_text().splitlines() if line.startswith("#EXTINF")] == [
        "#EXTINF:4,The Band - Bravo",
        "#EXTINF:4,The Band - Alpha",
        "#EXTINF:4,The Band - Charlie",
    ]

    browser = page.context.browser
    # A visitor who is not logged in: titles, no audio, no edit controls.
    visitor = browser.new_context(base_url=live_server.url).new_page()
    try:
        visitor.goto(share_url)
        expect(visitor.get_by_role("heading", name="Road trip")).to_be_visible()
        expect(visitor.locator("ol.playlist li .what")).to_have_text(
            [re.compile("^Bravo"), re.compile("^Alpha"), re.compile("^Charlie")]
        )
        expect(visitor.get_by_text("to play them all in Musrec's player.")).to_be_visible()
        expect(visitor.get_by_role("link", name=re.compile("^Listen to"))).to_have_count(3)
        expect(visitor.locator("button")).to_have_count(0)
        expect(visitor.locator("audio")).to_have_count(0)
    finally:
        visitor.context.close()

    # Another listener: can play and copy it, cannot change it, and the owner's page does not exist for him.
    other = browser.new_context(base_url=live_server.url).new_page()
    try:
        log_in(other, "bob")
        other.goto(share_url)
        expect(other.locator("#page button.play")).to_have_count(3)
        expect(other.get_by_role("button", name=re.compile("^Move"))).to_have_count(0)
        expect(other.get_by_role("button", name=re.compile("^Remove"))).to_have_count(0)
        other.get_by_role("button", name="Save a copy to your playlists").click()
        expect(other.get_by_role("heading", name="Copy of Road trip")).to_be_visible()
        assert saved_titles(Playlist.objects.get(owner=bob)) == ["Bravo", "Alpha", "Charlie"]
        assert other.goto(playlist.get_absolute_url()).status == 404
    finally:
        other.context.close()

    # Private again: the link shows nothing.
    page.get_by_role("button", name="Make private").click()
    expect(page.get_by_text("is private: its link shows nothing any more.")).to_be_visible()
    assert page.request.get(share_url).status == 404


def test_dragging_a_song_saves_the_new_order(page, alice):
    playlist = Playlist.objects.create(owner=alice, name="Drag me")
    for title in ("Alpha", "Bravo", "Charlie"):
        playlist.add_song(make_song(title=title))
    log_in(page, "alice")
    page.goto(playlist.get_absolute_url())
    rows = page.locator("#playlist-items ol.playlist > li")

    with page.expect_response(lambda response: response.url.endswith("/reorder")) as answer:
        rows.nth(2).locator(".handle").drag_to(rows.nth(0), target_position={"x": 20, "y": 3})

    assert answer.value.status == 200
    expect(page.locator("#playlist-status")).to_have_text("Moved “Charlie” to position 1 of 3.")
    assert row_titles(page) == ["Charlie", "Alpha", "Bravo"]
    assert saved_titles(playlist) == ["Charlie", "Alpha", "Bravo"]


@pytest.fixture
def long_playlist(alice, monkeypatch) -> Playlist:
    """Seven songs in pages of three (the live server runs in this process, so the page size applies to it)."""
    from catalog import views_playlists

    monkeypatch.setattr(views_playlists, "PLAYLIST_PAGE_SIZE", 3)
    playlist = Playlist.objects.create(owner=alice, name="Long")
    for n in range(1, 8):
        playlist.add_song(make_song(title=f"Tune {n}", artist="The Band"))
    return playlist


def test_a_song_moved_by_keyboard_across_a_page_edge_is_followed_to_its_page(page, long_playlist):
    log_in(page, "alice")
    page.goto(f"{long_playlist.get_absolute_url()}?page=2")
    assert row_titles(page) == ["Tune 4", "Tune 5", "Tune 6"]
    page.evaluate("window.musrecMarker = 'same page'")

    page.get_by_role("button", name="Move Tune 4 up").focus()
    page.keyboard.press("Enter")

    expect(page.locator("#playlist-status")).to_have_text("Moved “Tune 4” to position 3 of 7.")
    expect(page.locator("#playlist-items .pager")).to_contain_text("Songs 1–3 of 7")
    assert row_titles(page) == ["Tune 1", "Tune 2", "Tune 4"]
    expect_focus_on(page, "Move Tune 4 up")
    # The address names the page shown, so a reload shows it again.
    assert page.url.endswith(long_playlist.get_absolute_url())
    page.keyboard.press("Enter")
    expect(page.locator("#playlist-status")).to_have_text("Moved “Tune 4” to position 2 of 7.")
    assert row_titles(page) == ["Tune 1", "Tune 4", "Tune 2"]
    assert page.evaluate("window.musrecMarker") == "same page"
    expect(page.locator("#playlist-count")).to_have_text("7 songs")

    page.get_by_role("link", name="Next ›").click()
    expect(page.locator("#playlist-items .pager")).to_contain_text("Songs 4–6 of 7")
    assert row_titles(page) == ["Tune 3", "Tune 5", "Tune 6"]
    assert saved_titles(long_playlist) == ["Tune 1", "Tune 4", "Tune 2", "Tune 3", "Tune 5", "Tune 6", "Tune 7"]


def test_removing_a_song_on_page_two_stays_on_page_two(page, long_playlist):
    log_in(page, "alice")
    page.goto(f"{long_playlist.get_absolute_url()}?page=2")

    page.get_by_role("button", name="Remove Tune 5 from this playlist").click()

    expect(page.locator("#playlist-status")).to_have_text("Removed “Tune 5”.")
    expect(page.locator("#playlist-count")).to_have_text("6 songs")
    assert row_titles(page) == ["Tune 4", "Tune 6", "Tune 7"]
    expect_focus_on(page, "Remove Tune 6 from this playlist")


def test_play_all_on_a_page_of_a_long_playlist_queues_the_whole_playlist(page, long_playlist):
    log_in(page, "alice")
    page.goto(f"{long_playlist.get_absolute_url()}?page=3")
    bar = page.locator("#player-bar")

    page.get_by_role("button", name="▶ Play all").click()

    expect(bar.locator(".player-queue-list li")).to_have_count(7)
    expect(bar.locator(".player-title")).to_have_text("Tune 1")
    expect(bar.locator(".player-queue-list li").last).to_have_text("Tune 7 · The Band")
