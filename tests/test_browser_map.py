"""The map of the catalogue in the browser, at a desktop's and a phone's size (issue 13 §3): the canvas draws, a
pointed-at or focused song shows its title, the arrow keys move between songs and Enter plays one, and a box
drawn on the map (by mouse, or by finger after "Select an area") becomes a playlist.

Set MUSREC_SCREENSHOT_DIR to a folder to keep screenshots of the map at both sizes.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.urls import reverse

from catalog.models import Playlist, Rating, Song
from recommender.catalogue_map import MapPoint, refresh_catalogue_map
from recommender.views_map import GRID
from tests.browser import CHROMIUM, CHROMIUM_MISSING, TIMEOUT_MS, browser_page, log_in, pages_at_sizes, screenshot  # noqa: F401
from tests.factories import embed, make_song

playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)]

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
D = 200
GENRES = ["Ambient", "Punk", "Jazz"]


@pytest.fixture
def mapped(transactional_db, alice, bob) -> list[Song]:
    """Three genres of songs, each its own cluster, on a map the worker's job drew; alice likes one; bob has a
    private upload that must appear nowhere."""
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((3, D))
    songs = []
    for i in range(24):
        vector = centres[i % 3] + 0.4 * rng.standard_normal(D)
        songs.append(embed(make_song(title=f"{GENRES[i % 3]} piece {i}", genres=[GENRES[i % 3]]), vector))
    embed(make_song(title="Bob's secret demo", owner=bob, in_catalogue=False), centres[0])
    Rating.objects.rate(alice, songs[0], Rating.LIKE)
    refresh_catalogue_map()
    return songs


# How many of the canvas's pixels something was drawn on.
PAINTED = """(canvas) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i]) painted++;
  return painted;
}"""


def open_map(open_page, viewport: str, songs: list[Song]):
    page = open_page(SIZES[viewport], phone=viewport == "phone")
    log_in(page, "alice", then=reverse("recommender:map"))
    canvas = page.locator("#catalogue-map")
    expect(canvas).to_have_attribute("data-drawn", str(len(songs)))
    assert canvas.evaluate(PAINTED) > 0
    assert "Bob's secret demo" not in page.content()
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    return page, canvas


def tip_position(page) -> tuple[float, float]:
    """Where on the page the tip points: at the song in focus or under the pointer."""
    canvas_box = page.locator("#catalogue-map").bounding_box()
    left, top = page.locator(".map-tip").evaluate("(tip) => [parseFloat(tip.style.left), parseFloat(tip.style.top)]")
    return canvas_box["x"] + left, canvas_box["y"] + top


def on_screen(canvas, point: MapPoint) -> tuple[float, float]:
    """Where the script draws ``point`` on the page: on recommender.views_map.GRID steps, in a square centred in the
    canvas with 14 px of padding, y growing downwards."""
    box = canvas.bounding_box()
    side = min(box["width"], box["height"]) - 28
    left, top = box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2
    return left + round(point.x * GRID) / GRID * side, top + round((1 - point.y) * GRID) / GRID * side


TITLE = re.compile(r"(Ambient|Punk|Jazz) piece \d+")


def move_focus(page) -> None:
    """Move the focus to another song with an arrow key (the one in focus may lie at an edge of the map)."""
    canvas = page.locator("#catalogue-map")
    first = canvas.get_attribute("data-focused")
    for key in ("ArrowRight", "ArrowLeft", "ArrowDown", "ArrowUp"):
        page.keyboard.press(key)
        if canvas.get_attribute("data-focused") != first:
            break
    expect(page.locator(".map-focus")).to_have_text(TITLE)
    moved = canvas.get_attribute("data-focused")
    assert moved != first
    title = Song.objects.get(pk=moved).title
    expect(page.locator(".map-focus")).to_have_text(re.compile(f"^{re.escape(title)} · "))


@pytest.mark.parametrize("viewport", list(SIZES))
def test_the_map_draws_every_song_and_the_keyboard_moves_between_them_and_plays_one(open_page, alice, mapped, viewport):
    page, canvas = open_map(open_page, viewport, mapped)
    legend = page.locator(".map-legend")
    for genre in GENRES:
        expect(legend).to_contain_text(genre)
    screenshot(page, f"{viewport}-map")

    canvas.focus()
    focus = page.locator(".map-focus")
    expect(focus).to_have_text(TITLE)
    expect(page.locator(".map-tip")).to_have_text(TITLE)
    expect(page.locator(".map-near-list li")).to_have_count(9)  # the song and its 8 nearest on the map
    move_focus(page)
    title = TITLE.search(focus.inner_text()).group(0)

    page.keyboard.press("Enter")
    expect(page.locator("#player-bar .player-title")).to_have_text(title)
    expect(focus).to_contain_text("playing")
    screenshot(page, f"{viewport}-map-focus")


def test_pointing_at_a_song_shows_its_title_and_clicking_it_plays_it(open_page, alice, mapped):
    page, canvas = open_map(open_page, "desktop", mapped)
    canvas.focus()
    tip = page.locator(".map-tip")
    expect(tip).to_have_text(TITLE)
    focused_title = TITLE.search(tip.inner_text()).group(0)
    x, y = tip_position(page)
    canvas.blur()
    page.mouse.move(x + 1, y + 1)
    expect(tip).to_have_text(re.compile(re.escape(focused_title)))
    page.mouse.click(x, y)
    expect(page.locator("#player-bar .player-title")).to_have_text(focused_title)

    liked = mapped[0]
    page.mouse.move(*on_screen(canvas, MapPoint.objects.get(song=liked)))
    expect(tip).to_have_text(re.compile(f"^{re.escape(liked.title)} · .*\\(liked"))


def drag_with_a_finger(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A real touch drag (touch pointer events), which Playwright's API has no call for."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": start[0], "y": start[1]}]})
    for step in range(1, 11):
        x = start[0] + (end[0] - start[0]) * step / 10
        y = start[1] + (end[1] - start[1]) * step / 10
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


@pytest.mark.parametrize("viewport", list(SIZES))
def test_a_box_drawn_on_the_map_becomes_a_playlist(open_page, alice, mapped, viewport):
    page, canvas = open_map(open_page, viewport, mapped)
    box = canvas.bounding_box()
    start = (box["x"] + 2, box["y"] + 2)
    end = (box["x"] + box["width"] - 2, box["y"] + box["height"] - 2)
    if viewport == "phone":
        page.get_by_role("button", name="Select an area").click()
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        start = (box["x"] + 2, box["y"] + 2)
        end = (box["x"] + box["width"] - 2, box["y"] + box["height"] - 2)
        drag_with_a_finger(page, start, end)
    else:
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move(*end, steps=10)
        page.mouse.up()

    expect(page.locator(".map-selection-count")).to_have_text(f"{len(mapped)} songs selected.")
    expect(page.locator(".map-selection-list li")).to_have_count(len(mapped))
    screenshot(page, f"{viewport}-map-selection")
    page.get_by_label("Playlist name").fill("Across the map")
    page.get_by_role("button", name="Make a playlist").click()

    expect(page.get_by_role("heading", name="Across the map", level=1)).to_be_visible()
    playlist = Playlist.objects.get(owner=alice)
    songs = [item.song for item in playlist.items.order_by("position")]
    assert sorted(song.pk for song in songs) == sorted(song.pk for song in mapped)


def test_space_adds_the_focused_song_to_the_selection_and_escape_clears_it(open_page, alice, mapped):
    page, canvas = open_map(open_page, "desktop", mapped)
    canvas.focus()
    expect(page.locator(".map-focus")).to_have_text(TITLE)

    page.keyboard.press("Space")
    expect(page.locator(".map-selection-count")).to_have_text("1 song selected.")
    move_focus(page)
    page.keyboard.press("Space")
    expect(page.locator(".map-selection-count")).to_have_text("2 songs selected.")
    page.keyboard.press("Escape")
    expect(page.locator(".map-selection-count")).to_have_text("Nothing selected.")
    expect(page.get_by_role("button", name="Make a playlist")).to_be_disabled()


def test_a_lasso_drawn_around_one_genre_selects_its_songs_alone(open_page, alice, mapped):
    page, canvas = open_map(open_page, "desktop", mapped)
    jazz = [on_screen(canvas, point) for point in MapPoint.objects.filter(song__title__startswith="Jazz")]
    xs, ys = [x for x, _ in jazz], [y for _, y in jazz]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    reach = (max(xs) - min(xs)) / 2 + (max(ys) - min(ys)) / 2 + 12
    # A diamond around the Jazz songs, drawn as a lasso: its corners, then back to the first.
    corners = [(cx, cy - reach), (cx + reach, cy), (cx, cy + reach), (cx - reach, cy), (cx, cy - reach)]

    page.get_by_role("button", name="Lasso").click()
    page.mouse.move(*corners[0])
    page.mouse.down()
    for corner in corners[1:]:
        page.mouse.move(*corner, steps=8)
    page.mouse.up()

    expect(page.locator(".map-selection-count")).to_have_text(f"{len(jazz)} songs selected.")
    expect(page.locator(".map-selection-list li")).to_have_count(len(jazz))
    for item in page.locator(".map-selection-list li a").all_inner_texts():
        assert item.startswith("Jazz piece")
    screenshot(page, "desktop-map-lasso")


def test_the_map_draws_when_reached_by_the_menu_twice_without_a_page_load(open_page, alice, mapped):
    """Signed in, links are boosted: the map page is swapped in, and its script must draw it each time."""
    page = open_page(SIZES["desktop"], phone=False)
    log_in(page, "alice")
    for _ in range(2):
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Map", exact=True).click()
        expect(page.locator("#catalogue-map")).to_have_attribute("data-drawn", str(len(mapped)))
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Browse", exact=True).click()
        expect(page.locator("#catalogue-map")).to_have_count(0)
